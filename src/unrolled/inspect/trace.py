"""`trace`: every gate, cell state and hidden state of a recurrent layer, at every time step.

The model runs its own forward pass (the code `predict` runs, whatever the graph: Sequential,
functional with merges, Bidirectional, stacked layers) inside a
`unrolled.layers.capture.Capture`, in which the traced layer also keeps its states after every
step. Its outputs and states are therefore the model's own, bit for bit. The gates are then
read from those states by the cell's own step function (``cell.step(..., return_gates=True)``,
i.e. `unrolled.ops.rnn.lstm_step`), applied to every step at once: at step ``t`` from the
input ``x_t`` and the states the layer carried out of step ``t - 1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax.numpy as jnp
import numpy as np

from unrolled.inspect._common import (
    GATES,
    STATES,
    check_inputs,
    describe_input,
    kind_of,
    resolve_layer,
)
from unrolled.layers.capture import Capture
from unrolled.layers.variables import StatelessScope


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
        extra: ``extra["computed"]``: the states the cell's step computed at each step before
            masking (``hidden``, ``cell``), from the same step function as the gates.
        return_sequences: whether the layer outputs ``h`` at every step; if ``False`` only the
            last ``h`` leaves the layer (the others feed only the next step).
        source: what the layer reads at each step, in words ("the model's input x", or
            "h_t of layer 'lstm' ..." for the second layer of a stack).
        prediction: the model's own output on the traced batch (a list for several outputs).

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
    return_sequences: bool = True
    source: str = "the model's input x"
    prediction: np.ndarray | list | None = None

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


def run_captured(model, x, layers, offsets=None):
    """Run ``model``'s own inference forward on ``x`` while recording ``layers``.

    Returns ``(outputs, output_mask, capture)``; ``capture[layer]`` is the layer's record (see
    `unrolled.layers.capture`). Nothing in the model changes (a stateful layer's new states
    are collected by the `StatelessScope`, not assigned).
    """
    with Capture(layers, offsets) as cap:
        if hasattr(model, "_stateless_forward"):
            tv = [w.value for w in model.trainable_weights]
            ntv = [w.value for w in model.non_trainable_weights]
            y, mask, _ = model._stateless_forward(tv, ntv, x, False, None)
        else:  # a bare layer
            with StatelessScope():
                y, mask = model._forward(jnp.asarray(x), None, False)
    return y, mask, cap


def processing_order(layer, record):
    """Return the layer's ``(inputs (B, T, D), keep (B, T))`` in processing order."""
    x = jnp.asarray(record["inputs"])  # (B, T, D)
    mask = record["mask"]
    keep = jnp.ones(x.shape[:2], bool) if mask is None else jnp.asarray(mask)  # (B, T)
    if layer.go_backwards:
        x, keep = jnp.flip(x, 1), jnp.flip(keep, 1)  # (B, T, D), (B, T)
    return x, keep


def _gates_from_states(cell, x, record):
    """Every step's `Gates` and new states from the layer's own states, via ``cell.step``."""
    prev = [jnp.concatenate([s0[:, None], s[:, :-1]], axis=1)  # (B, T, n): out of step t - 1
            for s0, s in zip(record["initial_states"], record["states"], strict=True)]
    _, computed, gates = cell.step(cell.project(x), prev, None, return_gates=True)
    return computed, gates


def _input_bias(cell):
    """Return the bias added on the input side (a GRU with ``reset_after`` keeps two rows)."""
    if cell.bias is None:
        return None
    bias = cell.bias.value
    return bias[0] if bias.ndim == 2 else bias  # (G*u,)


def _to_trace(layer, record, source="the model's input x", prediction=None) -> Trace:
    kind = kind_of(layer)
    cell = layer.cell
    names = [g[0] for g in GATES[kind]]
    u = cell.units
    x, keep = processing_order(layer, record)
    computed, gates = _gates_from_states(cell, x, record)
    parts = np.split(np.asarray(x @ cell.kernel.value), len(names), axis=-1)
    bias = _input_bias(cell)
    biases = np.split(np.asarray(bias), len(names)) if bias is not None else \
        [np.zeros(u, parts[0].dtype)] * len(names)

    def arrays(values):
        return {n: np.asarray(v) for n, v in zip(names, values, strict=True)}

    return Trace(
        layer_name=layer.name, layer_type=kind, units=u, gates=arrays(gates.activations),
        pre_activations=arrays(gates.pre_activations),
        input_parts=dict(zip(names, parts, strict=True)),
        recurrent_parts=arrays(gates.recurrent),
        bias_parts=dict(zip(names, biases, strict=True)),
        states={n: np.asarray(s) for n, s in zip(STATES[kind], record["states"], strict=True)},
        mask=np.asarray(keep), inputs=np.asarray(x), output=np.asarray(record["output"]),
        go_backwards=bool(layer.go_backwards),
        extra={"computed": {n: np.asarray(s) for n, s in zip(STATES[kind], computed,
                                                              strict=True)}},
        return_sequences=bool(layer.return_sequences), source=source, prediction=prediction,
    )


def trace(model, x, layer=None) -> Trace | BidirectionalTrace:
    """Record every gate, cell state and hidden state of one recurrent layer over ``x``.

    Args:
        model: a model (`Sequential` or functional) or a bare recurrent layer.
        x: inputs for the model (``(B, T, F)``; a list for a model with several inputs).
        layer: the recurrent layer to trace: its name, its index in ``model.layers`` or the
            layer itself; ``None`` traces the first recurrent layer.

    Returns:
        A `Trace` (a `BidirectionalTrace` for a ``Bidirectional`` layer). Its states and output
        are those of the model's own forward pass, bit for bit.

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
        >>> bool((tr.output == model.predict(np.ones((2, 5, 1)), verbose=0)).all())
        True

    """
    _, lay = resolve_layer(model, layer)
    arr = check_inputs(model, x)
    source = describe_input(model, lay)
    if kind_of(lay) != "Bidirectional":
        y, _, cap = run_captured(model, arr, [lay])
        return _to_trace(lay, cap[lay], source, _numpy(y))
    fwd, bwd = lay.forward_layer, lay.backward_layer
    y, _, cap = run_captured(model, arr, [fwd, bwd])
    of, ob = cap[fwd]["output"], cap[bwd]["output"]
    if lay.return_sequences:
        ob = jnp.flip(ob, 1)  # (B, T, u), back in input order (as Bidirectional.call)
    merged = lay._merge(of, ob)  # the layer's own merge
    out = [np.asarray(m) for m in merged] if isinstance(merged, list) else np.asarray(merged)
    return BidirectionalTrace(lay.name, _to_trace(fwd, cap[fwd], source, _numpy(y)),
                              _to_trace(bwd, cap[bwd], source, _numpy(y)), out)


def _numpy(y):
    return [np.asarray(v) for v in y] if isinstance(y, (list, tuple)) else np.asarray(y)
