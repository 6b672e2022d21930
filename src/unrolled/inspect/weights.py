"""Weights by gate and unit: which kernel columns belong to which gate of which cell.

Keras stores a recurrent layer's gates side by side: an LSTM's ``kernel (D, 4u)`` holds the
column blocks ``[i | f | c | o]``, so column ``k * u + j`` feeds gate ``k`` of cell ``j``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unrolled.inspect._common import ALIASES, GATES, kind_of


@dataclass
class GateWeights:
    """The weights feeding one gate (of one cell, or of all cells).

    Attributes:
        gate: canonical gate name (``"forget_gate"``).
        unit: the cell index, or ``None`` for all cells.
        columns: kernel column indices (``k * u + j``).
        kernel: ``(D,)`` for one cell, ``(D, u)`` for all.
        recurrent_kernel: ``(u,)`` / ``(u, u)``: weight from each previous ``h`` entry.
        bias: scalar / ``(u,)`` (the input bias for a GRU with ``reset_after``), or ``None``.

    """

    gate: str
    unit: int | None
    columns: np.ndarray
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray | None


def _cell(layer):
    kind = kind_of(layer)
    if kind is None or kind == "Bidirectional":
        raise ValueError(
            f"Expected an LSTM, GRU or SimpleRNN layer; received {type(layer).__name__} "
            f"{getattr(layer, 'name', '')!r}. For Bidirectional pass layer.forward_layer or "
            "layer.backward_layer."
        )
    if not layer.built:
        raise ValueError(f"Layer {layer.name!r} is not built yet, so it has no weights. Build "
                         "the model (model.build(input_shape)) or call it on data first.")
    return kind, layer.cell


def gate_names(layer) -> list[str]:
    """Canonical gate names of ``layer`` in kernel-block order."""
    kind, _ = _cell(layer)
    return [g[0] for g in GATES[kind]]


def gate_columns(layer, gate: str, unit: int | None = None) -> np.ndarray:
    """Kernel column indices of ``gate`` (all cells, or the one ``unit``)."""
    kind, cell = _cell(layer)
    names = [g[0] for g in GATES[kind]]
    name = ALIASES.get(gate, gate)
    if name not in names:
        raise ValueError(f"Unknown gate {gate!r} for a {kind} layer; expected one of {names} "
                         f"(or {sorted(k for k, v in ALIASES.items() if v in names)}).")
    u = cell.units
    k = names.index(name)
    if unit is None:
        return np.arange(k * u, (k + 1) * u)
    if not isinstance(unit, (int, np.integer)) or not 0 <= unit < u:
        raise IndexError(f"unit={unit!r} is out of range: layer {layer.name!r} has {u} cells "
                         f"(units 0..{u - 1}).")
    return np.array([k * u + int(unit)])


def gate_weights(layer, gate: str, unit: int | None = None) -> GateWeights:
    """Slice the weights that feed one gate.

    Args:
        layer: an LSTM, GRU or SimpleRNN layer.
        gate: ``"input"``, ``"forget"``, ``"candidate"``, ``"output"`` (LSTM; also ``"i"``,
            ``"f"``, ``"c"``, ``"o"`` or ``"forget_gate"``), ``"update"``, ``"reset"`` (GRU).
        unit: one cell's index, or ``None`` for every cell.

    Returns:
        A `GateWeights`.

    Raises:
        ValueError: for an unknown gate or a non-recurrent layer. IndexError: for a bad unit.

    Example:
        >>> import numpy as np
        >>> from unrolled import inspect, layers
        >>> lstm = layers.LSTM(4)
        >>> _ = lstm(np.zeros((1, 2, 3), "float32"))
        >>> w = inspect.gate_weights(lstm, "forget", unit=3)
        >>> w.columns.tolist(), w.kernel.shape, float(w.bias)
        ([7], (3,), 1.0)

    """
    cols = gate_columns(layer, gate, unit)
    _, cell = _cell(layer)
    kernel = cell.kernel.numpy()[:, cols]
    rec = cell.recurrent_kernel.numpy()
    # GRU without reset_after has the same column layout; SimpleRNN has a single block.
    rec = rec[:, cols]
    bias = None
    if cell.bias is not None:
        b = cell.bias.numpy()
        bias = (b[0] if b.ndim == 2 else b)[cols]
    squeeze = unit is not None
    return GateWeights(
        gate=ALIASES.get(gate, gate), unit=unit, columns=cols,
        kernel=kernel[:, 0] if squeeze else kernel,
        recurrent_kernel=rec[:, 0] if squeeze else rec,
        bias=None if bias is None else (bias[0] if squeeze else bias),
    )


def weight_table(layer, max_units: int | None = None) -> str:
    """Return a printable table: one row per (gate, cell) with its column, bias and weight norms.

    Args:
        layer: an LSTM, GRU or SimpleRNN layer.
        max_units: show at most this many cells per gate (all by default).

    """
    kind, cell = _cell(layer)
    u = cell.units
    shown = u if max_units is None else min(u, max_units)
    lines = [f"Weights of {layer.name!r} ({kind}, {u} cells) by gate and cell:",
             f"{'gate':<14}{'cell':>5}{'column':>8}{'bias':>10}{'|kernel col|':>14}"
             f"{'|recurrent col|':>17}"]
    for name, sym, label in GATES[kind]:
        w = gate_weights(layer, name)
        for j in range(shown):
            bias = "-" if w.bias is None else f"{w.bias[j]:.4f}"
            lines.append(f"{label + ' ' + sym:<14}{j:>5}{int(w.columns[j]):>8}{bias:>10}"
                         f"{np.linalg.norm(w.kernel[:, j]):>14.4f}"
                         f"{np.linalg.norm(w.recurrent_kernel[:, j]):>17.4f}")
        if shown < u:
            lines.append(f"{'':<14}{'...':>5}  ({u - shown} more cells)")
    return "\n".join(lines)
