"""`step_by_step`: one time step of one cell, with the user's own numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unrolled.inspect._common import GATES, check_index, kind_of, resolve_layer
from unrolled.inspect.trace import trace as run_trace


@dataclass
class GateStep:
    """One gate of one cell at one step: ``pre_activation = input_part + recurrent_part + bias``."""

    name: str
    symbol: str
    label: str
    input_part: float
    recurrent_part: float
    bias: float
    pre_activation: float
    activation: float
    function: str = "sigmoid"


@dataclass
class Step:
    """One LSTM step of one cell, with every number; ``str(step)`` walks through it.

    Attributes:
        layer_name, sample, t, unit: where the step is (``t`` in processing order).
        x: the layer's input at ``t`` ``(D,)``.
        h_prev, c_prev: all cells' previous hidden state ``(u,)`` and this cell's previous ``c``.
        gates: one `GateStep` per gate, in kernel-block order.
        c, h: this cell's new cell and hidden state (after masking).
        masked: whether the step is masked (then ``c == c_prev`` and ``h == h_prev[unit]``).
        c_computed, h_computed: what the cell computed before masking.

    """

    layer_name: str
    layer_type: str
    sample: int
    t: int
    unit: int
    units: int
    x: np.ndarray
    h_prev: np.ndarray
    c_prev: float | None
    gates: list[GateStep]
    c: float | None
    h: float
    masked: bool
    c_computed: float | None
    h_computed: float

    def gate(self, name: str) -> GateStep:
        """Return the `GateStep` named ``name`` (``"forget_gate"``)."""
        for g in self.gates:
            if g.name == name:
                return g
        raise KeyError(f"No gate {name!r}; gates: {[g.name for g in self.gates]}.")

    def __str__(self) -> str:
        j, t = self.unit, self.t
        xs = ", ".join(f"{v:.4f}" for v in self.x[:8]) + (", ..." if self.x.size > 8 else "")
        lines = [f"One step of {self.layer_name!r} ({self.layer_type}, {self.units} cells): "
                 f"sample {self.sample}, time step t={t}, cell j={j}.",
                 f"  Input x_t ({self.x.size} feature(s)): [{xs}]",
                 f"  Previous hidden state h_(t-1) has {self.units} entries (all cells feed every "
                 f"gate); h_(t-1)[{j}] = {self.h_prev[j]:.6f}"]
        if self.c_prev is not None:
            lines.append(f"  Previous cell state c_(t-1)[{j}] = {self.c_prev:.6f}")
        lines.append("  Each gate: pre-activation = input part (x_t . kernel column) + recurrent "
                     "part (h_(t-1) . recurrent column) + bias")
        for g in self.gates:
            lines.append(f"    {g.label:<12} {g.symbol:<2} = {g.function}({g.input_part:+.6f} "
                         f"{g.recurrent_part:+.6f} {g.bias:+.6f} = {g.pre_activation:+.6f}) "
                         f"= {g.activation:.6f}")
        if self.layer_type == "LSTM":
            i, f, c_, o = (g.activation for g in self.gates)
            lines += [f"  New cell state   c_t = f*c_(t-1) + i*c~ = {f:.6f}*{self.c_prev:.6f} + "
                      f"{i:.6f}*{c_:.6f} = {self.c_computed:.6f}",
                      f"  New hidden state h_t = o*tanh(c_t) = {o:.6f}*tanh({self.c_computed:.6f})"
                      f" = {self.h_computed:.6f}"]
        else:
            lines.append(f"  New hidden state h_t = {self.h_computed:.6f}")
        if self.masked:
            lines.append(f"  This step is MASKED (padding): the values above are discarded; the "
                         f"cell keeps h = {self.h:.6f}" + (f" and c = {self.c:.6f}" if self.c
                                                            is not None else "") + ".")
        else:
            lines.append("  Had this step been masked (padding), the cell would have kept "
                         f"h = {self.h_prev[j]:.6f}" + (f" and c = {self.c_prev:.6f}" if
                                                        self.c_prev is not None else "")
                         + " unchanged.")
        return "\n".join(lines)


def _function(layer, gate: str) -> str:
    cell = layer.cell
    fn = cell.activation if gate == "candidate" else cell.recurrent_activation
    return getattr(fn, "__name__", str(fn))


def step_by_step(model, x, sample: int = 0, t: int | None = None, unit: int = 0,
                 layer=None) -> Step:
    """Walk one time step of one cell with the model's weights and the user's data.

    Args:
        model: a model with a recurrent layer (or the layer itself).
        x: inputs ``(B, T, F)`` (a list for a model with several inputs).
        sample: which sequence of the batch.
        t: time step in processing order (default: the sample's last unmasked step).
        unit: which cell.
        layer: which recurrent layer (name, index or layer; default the first).

    Returns:
        A `Step`; ``print(step)`` explains it.

    Raises:
        IndexError: if ``sample``, ``t`` or ``unit`` is out of range.

    Example:
        >>> import numpy as np
        >>> from unrolled import inspect, layers, models
        >>> model = models.Sequential([layers.Input(shape=(4, 1)), layers.LSTM(2)])
        >>> step = inspect.step_by_step(model, np.ones((1, 4, 1), "float32"), t=3, unit=1)
        >>> step.gate("forget_gate").bias
        1.0

    """
    _, lay = resolve_layer(model, layer)
    if kind_of(lay) == "Bidirectional":
        raise ValueError(f"{lay.name!r} is Bidirectional; step_by_step walks one direction. "
                         "Use unrolled.inspect.trace(model, x).forward / .backward instead.")
    first = x[0] if isinstance(x, (list, tuple)) else x
    b = np.asarray(first).shape[0] if np.ndim(first) == 3 else None
    if b is not None:
        sample = check_index("sample", sample, b, "x (the batch)")
    tr = run_trace(model, x, lay)
    unit = check_index("unit", unit, tr.units, f"layer {lay.name!r} (cells)")
    if t is None:
        last = tr.last_valid_step(sample)
        t = tr.mask.shape[1] - 1 if last is None else last
    t = check_index("t", t, tr.mask.shape[1], "the sequence (time steps)")
    hidden, cell = tr.states["hidden"][sample], tr.states.get("cell")
    h_prev = hidden[t - 1] if t > 0 else np.zeros_like(hidden[0])
    c_prev = None
    if cell is not None:
        c_prev = float(cell[sample, t - 1, unit]) if t > 0 else 0.0
    gates = [GateStep(name, sym, label, float(tr.input_parts[name][sample, t, unit]),
                      float(tr.recurrent_parts[name][sample, t, unit]),
                      float(tr.bias_parts[name][unit]),
                      float(tr.pre_activations[name][sample, t, unit]),
                      float(tr.gates[name][sample, t, unit]), _function(lay, name))
             for name, sym, label in GATES[tr.layer_type]]
    masked = not bool(tr.mask[sample, t])
    c_new = None if cell is None else float(cell[sample, t, unit])
    h_new = float(hidden[t, unit])
    computed = tr.extra["computed"]  # what the cell's own step computed, before masking
    c_comp = None if cell is None else float(computed["cell"][sample, t, unit])
    h_comp = float(computed["hidden"][sample, t, unit])
    return Step(tr.layer_name, tr.layer_type, sample, t, unit, tr.units,
                tr.inputs[sample, t], h_prev, c_prev, gates, c_new, h_new, masked, c_comp,
                h_comp)
