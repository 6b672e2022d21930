"""`gradient_flow`: how much the loss depends on the state at each time step.

The perturbation trick: the model's own forward pass runs inside a
`unrolled.layers.capture.Capture` that gives the traced layer zero-valued offsets to add to
``h_t`` and ``c_t`` after every step and to every gate's pre-activation (`unrolled.ops.rnn.scan`'s
``state_offsets``; the layer then takes the generic scan, whose gradients JAX derives); the
gradient of the loss with respect to those offsets is exactly ``dLoss/dh_t``, ``dLoss/dc_t`` and
``dLoss/dz_t`` (the total derivative through all later steps), and adding zeros leaves the
forward pass unchanged.
Norms that shrink towards early steps are vanishing gradients; norms that grow, exploding ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from unrolled.inspect._common import GATES, STATES, check_inputs, kind_of, resolve_layer
from unrolled.inspect.trace import run_captured
from unrolled.training import losses as losses_module


@dataclass
class GradientFlow:
    """Gradients of the loss with respect to one recurrent layer's per-step quantities.

    Attributes:
        layer_name: the layer.
        loss: the loss value on ``(x, y)``.
        states: ``{"hidden": dLoss/dh_t, "cell": dLoss/dc_t}``, each ``(B, T, u)``.
        gates: ``dLoss/dz_t`` for each gate's pre-activation, ``(B, T, u)``.
        mask: ``(B, T)``; time axes are in processing order (reversed for ``go_backwards``).
        loss_name: the loss function's name (``L`` in the labels: its mean over the batch, as
            Keras reduces it).

    """

    layer_name: str
    loss: float
    states: dict[str, np.ndarray]
    gates: dict[str, np.ndarray]
    mask: np.ndarray
    go_backwards: bool = False
    loss_name: str = "loss"

    def norm(self, name: str) -> np.ndarray:
        """Per-step Euclidean norm over the batch and units ``(T,)`` of a state or gate."""
        store = self.states if name in self.states else self.gates
        if name not in store:
            raise KeyError(f"No gradient named {name!r}; available: "
                           f"{[*self.states, *self.gates]}.")
        return np.sqrt(np.sum(np.square(store[name]), axis=(0, 2)))

    @property
    def hidden_norm(self) -> np.ndarray:
        """``||dLoss/dh_t||`` per time step ``(T,)``."""
        return self.norm("hidden")

    @property
    def cell_norm(self) -> np.ndarray:
        """``||dLoss/dc_t||`` per time step ``(T,)`` (LSTM only)."""
        return self.norm("cell")

    def symbol(self, name: str) -> str:
        """Return the quantity a gradient is taken of: ``h_t``, ``c_t`` or ``z_f,t``."""
        if name in self.states:
            return {"hidden": "h_t", "cell": "c_t"}.get(name, f"{name}_t")
        for gates in GATES.values():
            for gate, sym, _ in gates:
                if gate == name:
                    return f"z_{sym},t"
        return name

    def __str__(self) -> str:
        names = [*self.states, *self.gates]
        cols = {n: self.norm(n) for n in names}
        head = "step " + "".join(f"{'|dL/d' + self.symbol(n) + '|':>22}" for n in names)
        rows = [f"{t:>4} " + "".join(f"{cols[n][t]:>22.3e}" for n in names)
                for t in range(len(cols[names[0]]))]
        b, _, u = next(iter(self.states.values())).shape
        return (f"Gradient flow through {self.layer_name!r}: L = {self.loss_name} = "
                f"{self.loss:.6g} (mean over the batch); |dL/dq| at step t is the Euclidean norm "
                f"over the batch (B = {b}) and the {u} units, steps numbered from 0 "
                "(z = a gate's pre-activation):\n" + "\n".join([head, *rows]))


def gradient_flow(model, x, y, layer=None, loss=None) -> GradientFlow:
    """Per time step gradients of the loss with respect to ``h_t``, ``c_t`` and every gate.

    Args:
        model: a model with a recurrent layer (Sequential or functional).
        x: inputs ``(B, T, F)`` (a list for several inputs); float64 inputs compute in float64
            when ``jax_enable_x64`` is on.
        y: targets, as for ``model.fit``.
        layer: which recurrent layer (name, index or the layer; default the first).
        loss: loss name or object; defaults to the compiled model's loss.

    Returns:
        A `GradientFlow`; ``flow.hidden_norm`` and ``flow.cell_norm`` are ``(T,)`` arrays.

    Raises:
        ValueError: without a loss, for a model without recurrent layers or mismatched shapes.

    Example:
        Vanishing gradients: with forget gates at 0.5 (zero weights, no forget bias) the
        gradient reaching ``c_t`` halves with every step back in time.

        >>> import numpy as np
        >>> from unrolled import inspect, layers, models
        >>> model = models.Sequential([layers.Input(shape=(40, 1)),
        ...     layers.LSTM(4, kernel_initializer="zeros", recurrent_initializer="zeros",
        ...                 unit_forget_bias=False),
        ...     layers.Dense(1, activation="sigmoid")])
        >>> x = np.ones((2, 40, 1), "float32"); y = np.ones((2, 1), "float32")
        >>> flow = inspect.gradient_flow(model, x, y, loss="binary_crossentropy")
        >>> round(float(flow.cell_norm[0] / flow.cell_norm[-2]), 14)  # 0.5 ** 38
        3.64e-12

    """
    _, lay = resolve_layer(model, layer)
    kind = kind_of(lay)
    if kind == "Bidirectional":
        raise ValueError(
            f"gradient_flow looks at one direction at a time; {lay.name!r} is Bidirectional. "
            "Trace its directions with unrolled.inspect.trace, or inspect a model with a "
            "one-directional recurrent layer."
        )
    loss = loss if loss is not None else getattr(model, "loss", None)
    if loss is None:
        raise ValueError("gradient_flow needs a loss: compile the model (model.compile(loss=...))"
                         " or pass loss='binary_crossentropy' (or a Loss object).")
    loss_obj = losses_module.get(loss)
    arr = check_inputs(model, x)
    n = jax.tree.leaves(arr)[0].shape[0]
    y_arr = np.asarray(y, dtype=np.result_type(*_dtypes(arr)))
    if y_arr.shape[0] != n:
        raise ValueError(f"x has {n} samples but y has {y_arr.shape[0]}; they must match.")
    # the layer's input shape: one plain run (float32, whatever x's dtype) records it
    _, _, cap = run_captured(model, _as_float32(arr), [lay])
    b, t = cap[lay]["inputs"].shape[:2]
    u, n_gates = lay.cell.units, len(GATES[kind])
    dtype = jnp.result_type(*_dtypes(arr), lay.cell.kernel.value.dtype)
    zeros = {"states": [jnp.zeros((b, t, u), dtype) for _ in STATES[kind]],
             "gates": jnp.zeros((b, t, n_gates * u), dtype)}  # input order

    def loss_of(offsets):
        y_pred, out_mask, cap = run_captured(model, arr, [lay], {lay: offsets})
        return loss_obj(y_arr, y_pred, mask=out_mask), cap[lay]["mask"]

    (value, mask), grads = jax.value_and_grad(loss_of, has_aux=True)(zeros)
    keep = np.ones((b, t), bool) if mask is None else np.asarray(mask)

    def processing(a):
        a = np.asarray(a)  # (B, T, ...) in input order
        return a[:, ::-1] if lay.go_backwards else a

    gate_grads = np.split(processing(grads["gates"]), n_gates, axis=-1)
    return GradientFlow(
        layer_name=lay.name, loss=float(value),
        states={n: processing(g) for n, g in zip(STATES[kind], grads["states"], strict=True)},
        gates={g[0]: a for g, a in zip(GATES[kind], gate_grads, strict=True)},
        mask=processing(keep), go_backwards=bool(lay.go_backwards),
        loss_name=getattr(loss_obj, "name", None) or type(loss_obj).__name__,
    )


def _dtypes(x) -> list:
    return [a.dtype for a in jax.tree.leaves(x)]


def _as_float32(x):
    return jax.tree.map(lambda a: np.asarray(a, np.float32), x)
