"""`trace`: every gate, cell state and hidden state of a recurrent layer, at every time step.

The model's layers before the traced one run as usual; the traced layer is then re-run with an
instrumented scan that performs the layer's own arithmetic (`unrolled.ops.rnn.lstm_step` for
an LSTM) and keeps every intermediate. Masked steps carry the states exactly as the layer does,
so ``trace.hidden`` is the layer's own state sequence and the last processed step is its output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from unrolled.inspect import _cells
from unrolled.inspect._common import (
    GATES,
    STATES,
    check_inputs,
    kind_of,
    model_layers,
    resolve_layer,
)


@dataclass
class Trace:
    """Per-step record of one recurrent layer on a batch; every array is NumPy ``(B, T, u)``.

    Attributes:
        layer_name, layer_type: the traced layer (``"lstm"``, ``"LSTM"``).
        units: number of cells ``u`` (the size of ``h`` and ``c``).
        gates: activation of each gate, keyed ``input_gate``, ``forget_gate``, ``candidate``,
            ``output_gate`` for an LSTM (``update_gate``, ``reset_gate``, ``candidate`` for a
            GRU; ``candidate`` for a SimpleRNN). Also readable as attributes
            (``trace.forget_gate``). At a masked step they hold what the cell computed and then
            discarded.
        pre_activations: each gate's argument before its activation, ``input_parts +
            recurrent_parts + bias_parts``.
        input_parts, recurrent_parts: ``x_t @ kernel`` and the part coming from ``h_{t-1}``.
        bias_parts: each gate's bias ``(u,)``.
        states: ``hidden`` (and ``cell`` for an LSTM) after each step; carried unchanged over
            masked steps. Also ``trace.hidden``, ``trace.cell``.
        mask: boolean ``(B, T)``; ``False`` marks a skipped step.
        inputs: the layer's inputs ``(B, T, D)``.
        output: what the layer returns (``(B, T, u)`` or ``(B, u)``).
        go_backwards: if ``True`` every time axis is in processing order: index ``k`` is input
            step ``T - 1 - k`` (see `time_index`), as Keras orders a backward layer's outputs.

    """

    layer_name: str
    layer_type: str
    units: int
    gates: dict[str, np.ndarray]
    pre_activations: dict[str, np.ndarray]
    input_parts: dict[str, np.ndarray]
    recurrent_parts: dict[str, np.ndarray]
    bias_parts: dict[str, np.ndarray]
    states: dict[str, np.ndarray]
    mask: np.ndarray
    inputs: np.ndarray
    output: np.ndarray
    go_backwards: bool = False
    extra: dict = field(default_factory=dict)

    def __getattr__(self, name):
        for key in ("gates", "states"):
            store = self.__dict__.get(key) or {}
            if name in store:
                return store[name]
        raise AttributeError(
            f"Trace of a {self.__dict__.get('layer_type')} layer has no {name!r}; it has gates "
            f"{list(self.__dict__.get('gates', {}))} and states "
            f"{list(self.__dict__.get('states', {}))}."
        )

    @property
    def time_index(self) -> np.ndarray:
        """Input time step of each processing step ``(T,)``."""
        t = self.mask.shape[1]
        return np.arange(t)[::-1].copy() if self.go_backwards else np.arange(t)

    def last_valid_step(self, sample: int) -> int | None:
        """Return the processing index of ``sample``'s last unmasked step (``None`` if none)."""
        valid = np.flatnonzero(self.mask[sample])
        return int(valid[-1]) if valid.size else None


@dataclass
class BidirectionalTrace:
    """The two directions of a ``Bidirectional`` layer, each a `Trace`, and the merged output."""

    layer_name: str
    forward: Trace
    backward: Trace
    output: np.ndarray
    layer_type: str = "Bidirectional"


def run_instrumented(layer, inputs, mask, offsets=None):
    """Run one LSTM/GRU/SimpleRNN layer step by step, keeping every intermediate (jax arrays).

    Args:
        layer: the recurrent layer.
        inputs: ``(B, T, D)`` in input order.
        mask: boolean ``(B, T)`` or ``None``.
        offsets: optional ``{"states": [(T, B, u) per state], "z": (T, B, G*u)}`` added to the
            states after each step and to the pre-activations (zeros leave values unchanged;
            `gradient_flow` differentiates with respect to them).

    Returns:
        dict with ``gates``, ``recurrent`` (lists of ``(B, T, u)``), ``states`` (list of
        ``(B, T, u)``), ``input_part`` ``(B, T, G*u)``, ``bias``, ``mask`` ``(B, T)``,
        ``inputs``, ``sequence`` (the emitted outputs) and ``last``, in processing order.

    """
    kind = kind_of(layer)
    cell = layer.cell
    step, bias = _cells.STEPS[kind](cell)
    x = jnp.asarray(inputs)  # (B, T, D)
    b, t = x.shape[:2]
    keep = jnp.ones((b, t), bool) if mask is None else jnp.asarray(mask).astype(bool)  # (B, T)
    if layer.go_backwards:
        x, keep = jnp.flip(x, 1), jnp.flip(keep, 1)  # processing order
    x_part = x @ cell.kernel.value  # (B, T, G*u)
    zx = x_part if bias is None else x_part + bias  # (B, T, G*u)
    n_states = len(STATES[kind])
    init = [jnp.zeros((b, cell.units), zx.dtype) for _ in range(n_states)]  # (B, u) each
    if offsets is None:
        e_states = [jnp.zeros((t, b, cell.units), zx.dtype) for _ in range(n_states)]
        e_z = jnp.zeros((t, *zx.shape[::2]), zx.dtype)  # (T, B, G*u)
    else:
        e_states, e_z = offsets["states"], offsets["z"]

    def body(states, xs):
        zx_t, keep_t, es_t, ez_t = xs
        new, gates, rec = step(zx_t, states, ez_t)
        new = [jnp.where(keep_t[:, None], n, s) + e
               for n, s, e in zip(new, states, es_t, strict=True)]
        return new, (gates, rec, new)

    xs = (jnp.swapaxes(zx, 0, 1), keep.T, e_states, e_z)  # time-major
    _, (gates, rec, states) = jax.lax.scan(body, init, xs)

    def bm(a):
        return jnp.swapaxes(a, 0, 1)  # (T, B, u) -> (B, T, u)

    states = [bm(s) for s in states]
    seq = states[0]  # (B, T, u)
    if layer.zero_output_for_mask:
        seq = jnp.where(keep[..., None], seq, 0.0)  # (B, T, u)
    return {"gates": [bm(g) for g in gates], "recurrent": [bm(r) for r in rec],
            "states": states, "input_part": x_part, "bias": bias, "mask": keep, "inputs": x,
            "sequence": seq, "last": seq[:, -1]}


def layer_output(layer, record):
    """Return what the layer itself returns, from `run_instrumented`'s record (input order)."""
    return record["sequence"] if layer.return_sequences else record["last"]


def forward_to(model, x, index):
    """Run the layers before ``model.layers[index]``: ``(inputs, mask)`` of that layer."""
    layers = model_layers(model)
    h, mask = jnp.asarray(x), None
    for layer in layers[:index]:
        h, mask = layer._forward(h, mask, False)
    return h, mask


def forward_from(model, index, inputs, mask, output):
    """Run the layers after ``model.layers[index]`` on that layer's ``output``."""
    layers = model_layers(model)
    out_mask = layers[index].compute_mask(inputs, mask)
    h = output
    for layer in layers[index + 1:]:
        h, out_mask = layer._forward(h, out_mask, False)
    return h, out_mask


def _to_trace(layer, kind, rec) -> Trace:
    names = [g[0] for g in GATES[kind]]
    u = layer.cell.units
    parts = np.split(np.asarray(rec["input_part"]), len(names), axis=-1)
    bias = None if rec["bias"] is None else np.asarray(rec["bias"])
    biases = np.split(bias, len(names)) if bias is not None else [np.zeros(u, parts[0].dtype)] * \
        len(names)
    recs = [np.asarray(r) for r in rec["recurrent"]]
    return Trace(
        layer_name=layer.name, layer_type=kind, units=u,
        gates={n: np.asarray(g) for n, g in zip(names, rec["gates"], strict=False)},
        pre_activations={n: p + r + bb
                         for n, p, r, bb in zip(names, parts, recs, biases, strict=True)},
        input_parts=dict(zip(names, parts, strict=True)),
        recurrent_parts=dict(zip(names, recs, strict=True)),
        bias_parts=dict(zip(names, biases, strict=False)),
        states={n: np.asarray(s) for n, s in zip(STATES[kind], rec["states"], strict=False)},
        mask=np.asarray(rec["mask"]), inputs=np.asarray(rec["inputs"]),
        output=np.asarray(layer_output(layer, rec)), go_backwards=bool(layer.go_backwards),
    )


def _merge(mode, a, b):
    if mode == "concat":
        return jnp.concatenate([a, b], axis=-1)
    if mode == "sum":
        return a + b
    if mode == "mul":
        return a * b
    if mode == "ave":
        return (a + b) / 2
    return [a, b]


def trace(model, x, layer=None) -> Trace | BidirectionalTrace:
    """Record every gate, cell state and hidden state of one recurrent layer over ``x``.

    Args:
        model: a `Sequential` model (or a bare recurrent layer).
        x: inputs ``(B, T, F)`` for the model.
        layer: the recurrent layer to trace: its name, its index in ``model.layers`` or the
            layer itself; ``None`` traces the first recurrent layer.

    Returns:
        A `Trace` (a `BidirectionalTrace` for a ``Bidirectional`` layer).

    Raises:
        ValueError: if the model has no recurrent layer, ``layer`` names none, or ``x`` has the
            wrong shape.

    Example:
        >>> import numpy as np
        >>> from unrolled import inspect, layers, models
        >>> model = models.Sequential([layers.Input(shape=(5, 1)), layers.LSTM(3)])
        >>> tr = inspect.trace(model, np.ones((2, 5, 1), "float32"))
        >>> tr.forget_gate.shape, tr.cell.shape
        ((2, 5, 3), (2, 5, 3))
        >>> bool(np.allclose(tr.hidden[:, -1], model.predict(np.ones((2, 5, 1)), verbose=0)))
        True

    """
    index, lay = resolve_layer(model, layer)
    arr = check_inputs(model, x)
    inputs, mask = forward_to(model, arr, index)
    kind = kind_of(lay)
    if kind != "Bidirectional":
        return _to_trace(lay, kind, run_instrumented(lay, inputs, mask))
    fwd, bwd = lay.forward_layer, lay.backward_layer
    rf, rb = run_instrumented(fwd, inputs, mask), run_instrumented(bwd, inputs, mask)
    of, ob = layer_output(fwd, rf), layer_output(bwd, rb)
    if lay.return_sequences:
        ob = jnp.flip(ob, 1)
    merged = _merge(lay.merge_mode, of, ob)
    out = [np.asarray(m) for m in merged] if isinstance(merged, list) else np.asarray(merged)
    return BidirectionalTrace(lay.name, _to_trace(fwd, kind_of(fwd), rf),
                              _to_trace(bwd, kind_of(bwd), rb), out)
