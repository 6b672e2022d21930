"""`explain`: what a model's recurrent layers are, in plain words and the model's own numbers."""

from __future__ import annotations

import numpy as np

from unrolled.inspect._common import GATES, STATES, describe_input, kind_of, model_layers

_EQUATIONS = {
    "LSTM": ["i_t = {ra}(x_t W_i + h_(t-1) U_i + b_i)      input gate: how much new to write",
             "f_t = {ra}(x_t W_f + h_(t-1) U_f + b_f)      forget gate: how much old c to keep",
             "c~_t = {a}(x_t W_c + h_(t-1) U_c + b_c)        candidate: what could be written",
             "o_t = {ra}(x_t W_o + h_(t-1) U_o + b_o)      output gate: how much of c to show",
             "c_t = f_t * c_(t-1) + i_t * c~_t               new cell state",
             "h_t = o_t * {a}(c_t)                           new hidden state (the output)"],
    "GRU": ["z_t = {ra}(x_t W_z + h_(t-1) U_z + b_z)      update gate: how much old h to keep",
            "r_t = {ra}(x_t W_r + h_(t-1) U_r + b_r)      reset gate: how much old h feeds h~",
            "h~_t = {a}(x_t W_h + r_t * (h_(t-1) U_h) + b_h)  candidate",
            "h_t = z_t * h_(t-1) + (1 - z_t) * h~_t       new hidden state (the output)"],
    "SimpleRNN": ["h_t = {a}(x_t W + h_(t-1) U + b)   new hidden state (the output)"],
}


def _name(fn) -> str:
    return getattr(fn, "__name__", str(fn))


def column_grid(kind: str, units: int, max_cells: int = 16) -> list[str]:
    """Rows naming the kernel column of every (gate, cell) pair: column = k*u + j."""
    shown = list(range(units)) if units <= max_cells else [*range(max_cells - 2), units - 2,
                                                            units - 1]
    width = len(str(len(GATES[kind]) * units)) + 2

    def row(values) -> str:
        out = []
        for i, (j, v) in enumerate(zip(shown, values, strict=False)):
            if i and j != shown[i - 1] + 1:
                out.append(f"{'...':>{width}}")
            out.append(f"{v:>{width}}")
        return "".join(out)

    rows = [f"    {'':<26}cell j:{row(shown)}"]
    for k, (_, sym, label) in enumerate(GATES[kind]):
        head = f"{label} {sym} [{k * units}-{(k + 1) * units - 1}]"
        rows.append(f"    {head:<26}column:{row([k * units + j for j in shown])}")
    return rows


def _mask_source(layers, index) -> str | None:
    for layer in layers[:index]:
        if type(layer).__name__ == "Masking":
            return f"the Masking layer {layer.name!r} (mask_value={layer.mask_value})"
    return None


# "Memory block" in its historical sense, for the classic question about LSTM(u).
_BLOCK = ("  Memory block (Hochreiter & Schmidhuber 1997): a group of memory cells that share one "
          "input gate and one output gate (and, since Gers et al. 2000, one forget gate).",
          "  Keras shares no gates between cells: each unit is one cell with its own gates, i.e. "
          "a memory block of one cell.",
          "  So {kind}({u}) is {u} cells = {u} one-cell memory blocks: \"{u} blocks with one cell "
          "each\", not \"one block with {u} cells\".")


def _block_lines(kind: str, u: int) -> list[str]:
    return [line.format(kind=kind, u=u) for line in _BLOCK] if kind == "LSTM" else []


def _recurrent_section(layer, d, t, mask_src, out_shape, title=None,
                       source="the model's input x") -> list[str]:
    kind = kind_of(layer)
    cell = layer.cell
    u = cell.units
    g = len(GATES[kind])
    state = " and ".join(STATES[kind]).replace("hidden", "h").replace("cell", "c")
    gates = ", ".join(label for _, _, label in GATES[kind])
    shapes = {w.name: tuple(w.shape) for w in cell.weights}
    steps = f"{t}" if t is not None else "T (any length)"
    lines = [title or f"{layer.name} ({kind}):",
             f"  {kind}({u}) is ONE layer of {u} memory cells: units = memory cells = the size "
             f"of {state} ({u} numbers each).",
             f"  Each of the {u} cells has its own {gates}, and its own slot in {state}; all "
             "cells are computed together, as vectors.",
             *_block_lines(kind, u),
             f"  Input: D = {d} {'feature(s)' if 'input x' in source else 'values'} "
             f"per time step; T = {steps} time steps. It reads {source}.",
             f"  Weights, one set shared by every time step (column groups "
             f"[{' | '.join(s for _, s, _ in GATES[kind])}], {g} x {u} = {g * u} columns):"]
    meaning = {"kernel": "input features -> gate pre-activations",
               "recurrent_kernel": "previous h -> gate pre-activations",
               "bias": "one bias per gate per cell"}
    for name, shape in shapes.items():
        lines.append(f"    {name:<17} {str(shape):<12} {meaning.get(name, '')}")
    n_bias = int(np.prod(shapes["bias"])) if "bias" in shapes else 0
    params = sum(int(np.prod(s)) for s in shapes.values())
    per = n_bias // (g * u) if g * u else 0
    symbolic = f"{g}*u*(D+u{'+' + str(per) if per else ''})".replace("1*u", "u")
    numeric = f"{g}*{u}*({d}+{u}{'+' + str(per) if per else ''})".replace(f"1*{u}*", f"{u}*")
    lines.append(f"  Parameters: {symbolic} = {numeric} = {params:,}.")
    lines.append(f"  Which kernel column belongs to which gate and cell (column = k*u + j for "
                 f"gate k, cell j; u = {u}):")
    lines += column_grid(kind, u)
    if kind == "LSTM" and getattr(cell, "unit_forget_bias", False):
        lines.append(f"    (unit_forget_bias=True started the forget block, bias columns "
                     f"{u}-{2 * u - 1}, at 1.0.)")
    lines.append("  One time step, for all cells at once:")
    lines += ["    " + e.format(ra=_name(cell.recurrent_activation) if hasattr(
        cell, "recurrent_activation") else "", a=_name(cell.activation)) for e in _EQUATIONS[kind]]
    last = f"{t - 1}" if t is not None else "T-1"
    lines.append(f"  Unrolled over time: the same cell, with the same weights, runs {steps} times, "
                 f"at steps t = 0, 1, ..., {last} (numbered from 0, as the time axis of every "
                 f"array); step t reads x_t and the {state} left by step t-1 (zeros before step "
                 "0).")
    if layer.go_backwards:
        lines.append("  go_backwards=True: it reads the sequence from the last step to the first.")
    if mask_src:
        lines.append(f"  Masking: {mask_src} marks a step as padding when all its features equal "
                     f"the mask value. At a masked step the cells do not update: {state} are "
                     "carried over unchanged, so padding cannot change the result.")
    else:
        lines.append("  Masking: no Masking layer comes before it, so every step updates the "
                     "state, padding included; add Masking(mask_value=0.0) first to skip padding.")
    if layer.return_sequences:
        lines.append(f"  Output {out_shape}: h after every step (return_sequences=True).")
    else:
        lines.append(f"  Output {out_shape}: h after the last (unmasked) step, t = {last} when "
                     f"nothing is masked, one vector of {u} numbers per sequence "
                     "(return_sequences=False: the h of earlier steps are not passed on).")
    return lines


def explain(model) -> str:
    """Describe every layer of ``model``, and each recurrent layer in depth, with its numbers.

    For each recurrent layer: units = memory cells = size of ``h`` and ``c``; each cell's own
    gates (an LSTM unit is a one-cell "memory block" in Hochreiter & Schmidhuber's sense); the
    weight shapes; the parameter count with its formula; which kernel columns belong to which
    gate and cell; the step equations; the unrolling over T steps (t = 0 .. T-1) with shared
    weights; what masking does.

    Args:
        model: a built `Sequential` model (or a built recurrent layer).

    Returns:
        The explanation as a string (``print`` it).

    Raises:
        ValueError: if the model is not built or has no recurrent layer.

    Example:
        >>> from unrolled import inspect, layers, models
        >>> model = models.Sequential([layers.Input(shape=(24, 1)), layers.LSTM(16)])
        >>> "LSTM(16) is ONE layer of 16 memory cells" in inspect.explain(model)
        True

    """
    from unrolled.inspect._common import resolve_layer

    resolve_layer(model)  # raises a clear error without a recurrent layer
    if not getattr(model, "built", False):
        raise ValueError("explain needs a built model (its weight shapes depend on the input): "
                         "give the first layer input_shape=, start with Input(shape=...) or call "
                         "model.build((None, T, F)).")
    layers = model_layers(model)
    in_shape = getattr(model, "_input_batch_shape", None)
    out_shapes = getattr(model, "_output_shapes", None) or [None] * len(layers)
    t = in_shape[1] if in_shape is not None and len(in_shape) == 3 else None
    total = sum(layer.count_params() for layer in layers)
    lines = [f"Model {model.name!r}: {len(layers)} layer(s), input shape {in_shape}, "
             f"{total:,} parameters."]
    shape = in_shape
    for i, (layer, out) in enumerate(zip(layers, out_shapes, strict=False)):
        kind = kind_of(layer)
        d = shape[-1] if shape is not None else None
        lines.append("")
        if kind in GATES:
            lines += _recurrent_section(layer, d, t, _mask_source(layers, i), out,
                                        f"Layer {i + 1}: {layer.name} ({kind})",
                                        describe_input(model, layer))
        elif kind == "Bidirectional":
            lines.append(f"Layer {i + 1}: {layer.name} (Bidirectional, merge_mode="
                         f"{layer.merge_mode!r}): two independent layers, one reading forwards "
                         f"and one backwards, {layer.count_params():,} parameters; output {out}.")
            for sub in (layer.forward_layer, layer.backward_layer):
                lines += _recurrent_section(sub, d, t, _mask_source(layers, i), "(one direction)",
                                            f"  direction {sub.name} ({kind_of(sub)}):",
                                            describe_input(model, layer))
        else:
            lines.append(f"Layer {i + 1}: {layer.name} ({type(layer).__name__}): output {out}, "
                         f"{layer.count_params():,} parameters"
                         + "".join(f"; {w.name} {tuple(w.shape)}" for w in layer.weights) + ".")
        shape = out
    return "\n".join(lines)
