"""Pictures of a recurrent model: its architecture unrolled over time, gates, states, gradients.

Needs matplotlib (``pip install unrolled[plot]``). Every function returns a
``matplotlib.figure.Figure`` (no global pyplot state) and, given ``path``, saves it as PNG or SVG.
"""

from __future__ import annotations

import textwrap

import numpy as np

from unrolled.inspect._common import (
    GATES,
    check_index,
    describe_input,
    input_source,
    kind_of,
    model_layers,
    resolve_layer,
)

_GATE_CMAP, _SIGNED_CMAP, _MASK_COLOR = "viridis", "RdBu_r", "#bdbdbd"
_UNUSED = "#a0a0a0"  # what the model computes but does not pass on (h before the last step)


def _figure(width: float, height: float):
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - exercised only without matplotlib
        raise ImportError("unrolled's plots need matplotlib: pip install unrolled[plot] (or pip "
                          "install matplotlib).") from exc
    return Figure(figsize=(width, height), layout="constrained")


def _save(fig, path) -> None:
    if path is None:
        return
    path = str(path)
    if not path.lower().endswith((".png", ".svg")):
        raise ValueError(f"Plots are written as PNG or SVG; {path!r} ends with neither. Use a "
                         "name like 'gates.png' or 'gates.svg'.")
    fig.savefig(path, dpi=130)


def _box(ax, x, y, w, h, text, color, fontsize=9, **kw):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=color, edgecolor="#333333", linewidth=1.0))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize, **kw)


def _arrow(ax, x0, y0, x1, y1, text=None, fontsize=8, color=None):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                arrowprops={"arrowstyle": "->", "color": color or "#333333", "lw": 1.2,
                            "linestyle": "-" if color is None else "--"})
    if text:
        ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.12, text, ha="center", va="bottom",
                fontsize=fontsize, color="#333333")


def _time_axis(ax, steps: int, backwards: bool = False, label: bool = True) -> None:
    """Integer ticks 0, k, 2k, ... on the x axis: time steps are numbered from 0 everywhere."""
    every = max(1, -(-steps // 12))
    ax.set_xticks(range(0, steps, every))
    ax.set_xlim(-0.5, steps - 0.5)
    if label:
        ax.set_xlabel("processing step k = 0 .. T-1 (input step T-1-k: go_backwards)" if backwards
                      else f"time step t (from 0 to {steps - 1})", fontsize=9)


def _shape(s) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in s) + (",)" if len(s) == 1
                                                                          else ")")


def plot_architecture(model, path=None, layer=None, max_steps: int = 3):
    """Draw the model's layers with shapes, and one recurrent layer unrolled over time.

    The right panel shows one box per time step ``t = 0 .. T-1``, each the SAME layer of ``u``
    cells (each cell with its own input, forget and output gate and candidate: ``u`` one-cell
    memory blocks, not one block of ``u`` cells), passing ``h`` and ``c`` to the next step; one
    set of weights for all steps.

    Args:
        model: a built `Sequential` model with a recurrent layer.
        path: optional ``.png`` or ``.svg`` file to write.
        layer: the recurrent layer to unroll (default the first).
        max_steps: time steps drawn before ``...`` and the last one.

    Returns:
        The matplotlib ``Figure``.

    """
    _, rec = resolve_layer(model, layer)
    layers = model_layers(model)
    shapes = getattr(model, "_output_shapes", None) or [None] * len(layers)
    in_shape = getattr(model, "_input_batch_shape", None)
    fig = _figure(14, 6.2)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2.6]})
    n = len(layers) + 1
    left.set_xlim(0, 4)
    left.set_ylim(-0.4, n * 1.3)
    left.axis("off")
    left.set_title("Layers (output shapes, parameters)", fontsize=11)
    rows = [("Input", f"shape {_shape(in_shape) if in_shape else '?'}", "#f0f0f0")]
    for lay, s in zip(layers, shapes, strict=False):
        kind = kind_of(lay)
        units = f", {lay.cell.units} cells" if kind in GATES else ""
        rows.append((f"{lay.name} ({type(lay).__name__}{units})",
                     f"output {_shape(s) if s else '?'}  |  {lay.count_params():,} params",
                     "#fde0c5" if lay is rec else ("#dbe9f6" if kind else "#e8e8e8")))
    for k, (title, sub, color) in enumerate(rows):
        y = (n - 1 - k) * 1.3
        _box(left, 0.1, y, 3.8, 0.9, f"{title}\n{sub}", color, fontsize=9)
        if k:
            _arrow(left, 2.0, y + 1.3, 2.0, y + 0.92)
        if k >= 2 and kind_of(layers[k - 2]) is not None:  # what a recurrent layer passes on
            left.text(2.12, y + 1.03, "h at every step" if layers[k - 2].return_sequences
                      else "only the last h", fontsize=7.5, color="#333333", va="center")
    _draw_unrolled(right, rec, in_shape, max_steps, model)
    _save(fig, path)
    return fig


def _draw_unrolled(ax, layer, in_shape, max_steps, model=None):
    kind = kind_of(layer)
    cell = layer.cell if kind in GATES else layer.forward_layer.cell
    source, _ = input_source(model, layer) if model is not None and model is not layer else \
        (None, [])
    every_h = bool(layer.return_sequences)
    kind = kind if kind in GATES else kind_of(layer.forward_layer)
    u = cell.units
    t_total = in_shape[1] if in_shape is not None and len(in_shape) == 3 else None
    # Time steps are numbered from 0, as in every array of a trace (index t of axis 1).
    if t_total is not None and t_total <= max_steps + 1:
        slots = list(range(t_total))
    else:
        slots = [*range(max_steps), None, "last"]
    width, gap = 2.6, 0.9
    ax.set_xlim(-0.9, len(slots) * (width + gap))
    ax.set_ylim(-0.9, 5.6)
    ax.axis("off")
    shapes = ", ".join(f"{w.name} {_shape(w.shape)}" for w in cell.weights)
    steps_txt = f"T = {t_total}" if t_total is not None else "T"
    ax.set_title(f"{layer.name} unrolled over time ({steps_txt} steps, numbered t = 0 .. "
                 f"{t_total - 1 if t_total is not None else 'T-1'}): the same layer of {u} cells "
                 f"at every step\nshared weights: {shapes}", fontsize=11)
    d = cell.kernel.shape[0]  # what the layer reads per step (layer 2 of a stack: layer 1's h)
    state = "h, c" if kind == "LSTM" else "h"
    for k, slot in enumerate(slots):
        x0 = k * (width + gap)
        if slot is None:
            ax.text(x0 + width / 2, 2.2, "...", ha="center", va="center", fontsize=20)
            _arrow(ax, x0 + width - 0.4, 2.0, x0 + width + gap - 0.02, 2.0)
            continue
        t = f"t={slot}" if slot != "last" else (f"t={t_total - 1}" if t_total else "t=T-1")
        ax.add_patch(_rounded(x0, 0.9, width, 3.0, "#fde0c5"))
        ax.text(x0 + width / 2, 3.62, f"{kind} layer, {t}", ha="center", fontsize=9,
                fontweight="bold")
        ax.text(x0 + width / 2, 3.3, f"{u} cells", ha="center", fontsize=8)
        gates = GATES[kind]
        gw = (width - 0.2) / len(gates)
        for g, (_, sym, _) in enumerate(gates):
            gx = x0 + 0.1 + g * gw
            _box(ax, gx + 0.04, 2.3, gw - 0.08, 0.7, f"{sym}\n({u})",
                 "#c7e9c0" if sym not in ("c~", "h~") else "#fff2ae", fontsize=8)
        n_show = min(u, 16)
        cw = (width - 0.3) / n_show
        for j in range(n_show):
            ax.add_patch(_rounded(x0 + 0.15 + j * cw, 1.3, cw * 0.8, 0.55, "#9ecae1", pad=0.0))
        more = "" if n_show == u else f" (first {n_show} drawn)"
        ax.text(x0 + width / 2, 1.0, f"{state}: {u} slots{more}", ha="center", fontsize=7.5)
        _arrow(ax, x0 + width / 2, -0.45, x0 + width / 2, 0.88)
        step = t[2:]
        if source is None:
            feats = "feature" if d == 1 else "features"
            below = f"x_{step} ({d} {feats})"
        elif kind_of(source) is not None:
            below = f"h_{step} of {source.name} ({d})"  # layer 2 of a stack reads layer 1's h
        else:
            below = f"{source.name} output at t={step} ({d})"
        ax.text(x0 + width / 2, -0.75, below, ha="center", fontsize=8)
        used = every_h or slot == slots[-1]
        _arrow(ax, x0 + width / 2, 3.92, x0 + width / 2, 4.6, color=None if used else _UNUSED)
        if every_h:
            ax.text(x0 + width / 2, 4.7, f"h_{step} ({u})", ha="center", fontsize=8)
        elif used:
            ax.text(x0 + width / 2, 4.7, f"h_{step} ({u})\nthe layer's output", ha="center",
                    fontsize=8, fontweight="bold", gid="used h")
        else:
            ax.text(x0 + width / 2, 4.7, f"h_{step} ({u})\nnot output", ha="center", fontsize=8,
                    color=_UNUSED, gid="unused h")
        if k + 1 < len(slots):
            _arrow(ax, x0 + width + 0.02, 2.0, x0 + width + gap - 0.02, 2.0)
            ax.text(x0 + width + gap / 2, 2.15, state, ha="center", fontsize=7.5)


def _rounded(x, y, w, h, color, pad=0.02):
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((x, y), w, h, boxstyle=f"round,pad={pad},rounding_size=0.06",
                          facecolor=color, edgecolor="#333333", linewidth=0.8)


def plot_gates(trace, sample: int = 0, path=None):
    """Heatmaps (cells x time) of every gate, the cell state and the hidden state of one sample.

    Above them, the layer's input series (what it reads at each step: the model's input, or
    the previous layer's ``h``); beside the hidden state, the model's prediction for the
    sample (below the heatmaps instead, over time, when the model predicts at every step).
    Gates (0..1) use ``viridis`` on a fixed 0-1 scale; signed quantities (candidate, cell,
    hidden) a diverging map centred on 0. Masked steps are greyed out. With
    ``return_sequences=False`` only one ``h`` leaves the layer: that step is outlined and the
    other steps' ``h`` are hatched as not passed on. Time steps are numbered from 0.

    Args:
        trace: a `unrolled.inspect.Trace`.
        sample: which sequence.
        path: optional ``.png`` / ``.svg`` file.

    Returns:
        The matplotlib ``Figure``.

    """
    sample = check_index("sample", sample, trace.mask.shape[0], "the traced batch")
    panels = [(name, label, sym) for name, sym, label in GATES[trace.layer_type]]
    panels += [(s, f"{s} state", "c" if s == "cell" else "h") for s in trace.states]
    u, t = trace.units, trace.mask.shape[1]
    pred = _prediction(trace, sample)
    over_time = pred is not None and pred.ndim == 2  # one prediction per step
    heat = 1.25 * max(1.0, min(u, 64) / 24)
    heights = [1.3, *[heat] * len(panels), *([1.3] if over_time else [])]
    fig = _figure(12.5, 1.3 + sum(heights))
    grid = fig.add_gridspec(len(heights), 2, width_ratios=[1, 0.16], height_ratios=heights)
    top = fig.add_subplot(grid[0, 0])
    axes = [fig.add_subplot(grid[k + 1, 0], sharex=top) for k in range(len(panels))]
    order = " (processing order: reversed)" if trace.go_backwards else ""
    fig.suptitle(f"{trace.layer_name} ({trace.layer_type}): gates and states of sample {sample}, "
                 f"{u} cells x {t} time steps (t = 0 .. {t - 1}){order}; grey = masked step",
                 fontsize=11)
    masked = ~trace.mask[sample]
    _draw_input(top, trace, sample, masked)
    for ax, (name, label, sym) in zip(axes, panels, strict=False):
        data = (trace.gates.get(name) if name in trace.gates else trace.states[name])[sample].T
        gate = name in trace.gates and name != "candidate"
        if gate:
            im = ax.imshow(data, aspect="auto", cmap=_GATE_CMAP, vmin=0.0, vmax=1.0,
                           interpolation="nearest", origin="lower")
        else:
            lim = float(np.max(np.abs(data))) or 1.0
            im = ax.imshow(data, aspect="auto", cmap=_SIGNED_CMAP, vmin=-lim, vmax=lim,
                           interpolation="nearest", origin="lower")
        for step in np.flatnonzero(masked):
            ax.axvspan(step - 0.5, step + 0.5, color=_MASK_COLOR, alpha=0.85, linewidth=0)
        ax.set_title(f"{label} {sym}", fontsize=9, loc="left")
        ax.set_ylabel("cell j", fontsize=8)
        # At most ~6 labelled cells per panel so the tick labels never overlap.
        ax.set_yticks(range(0, u, max(1, -(-u // 6))))
        ax.tick_params(labelsize=7, labelbottom=False)
        fig.colorbar(im, cax=ax.inset_axes([1.01, 0.0, 0.012, 1.0]))
    hidden_ax = axes[[p[0] for p in panels].index("hidden")]
    used = None if trace.return_sequences else _mark_used_h(hidden_ax, trace, sample, masked)
    last = axes[-1]
    if over_time:
        last = fig.add_subplot(grid[len(heights) - 1, 0], sharex=top)
        _draw_prediction_over_time(last, pred, masked)
    elif pred is not None:
        row = 1 + [p[0] for p in panels].index("hidden")
        _draw_prediction(fig.add_subplot(grid[row, 1]), pred, sample, used)
    last.tick_params(labelbottom=True)
    _time_axis(last, t, trace.go_backwards)
    _save(fig, path)
    return fig


def _prediction(trace, sample):
    """Return the model's output for ``sample``: ``(k,)``, ``(T, k)`` per step, or ``None``."""
    pred = trace.prediction
    if pred is None:
        return None
    if isinstance(pred, list):  # several outputs: one bar per value, if they are vectors
        if any(np.ndim(p) != 2 for p in pred):
            return None
        return np.concatenate([np.asarray(p)[sample] for p in pred])
    pred = np.asarray(pred)[sample]
    if pred.ndim == 1 or (pred.ndim == 2 and pred.shape[0] == trace.mask.shape[1]):
        return pred
    return None


def _draw_input(ax, trace, sample, masked):
    x = trace.inputs[sample]  # (T, D), processing order
    d = x.shape[-1]
    what = ("feature" if d == 1 else "features") if "input x" in trace.source else "values"
    ax.set_title(f"input of {trace.layer_name}: {trace.source}, {d} {what} per step", fontsize=9,
                 loc="left")
    if d <= 8:
        for k in range(d):
            ax.plot(np.arange(len(x)), x[:, k], marker="o", markersize=2.5, linewidth=1.3,
                    label=f"x[{k}]" if what != "values" else
                    (f"h[{k}]" if trace.source.startswith("h_t") else f"[{k}]"))
        if d > 1:
            ax.legend(fontsize=7, ncol=min(d, 8), loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(alpha=0.3)
        ax.set_ylabel("value", fontsize=8)
    else:
        lim = float(np.max(np.abs(x))) or 1.0
        ax.imshow(x.T, aspect="auto", cmap=_SIGNED_CMAP, vmin=-lim, vmax=lim,
                  interpolation="nearest", origin="lower")
        ax.set_ylabel("feature", fontsize=8)
    for step in np.flatnonzero(masked):
        ax.axvspan(step - 0.5, step + 0.5, color=_MASK_COLOR, alpha=0.6, linewidth=0)
    ax.tick_params(labelsize=7, labelbottom=False)


def _mark_used_h(ax, trace, sample, masked):
    """return_sequences=False: outline the one h that leaves the layer, hatch the others."""
    from matplotlib.patches import Rectangle

    t, u = trace.mask.shape[1], trace.units
    last = trace.last_valid_step(sample)
    used = t - 1 if last is None else last
    for step in range(t):
        if step == used:
            ax.add_patch(Rectangle((step - 0.5, -0.5), 1.0, u, fill=False, edgecolor="black",
                                   linewidth=2.0, gid="used h", zorder=3))
        elif not masked[step]:
            ax.add_patch(Rectangle((step - 0.5, -0.5), 1.0, u, facecolor="white", alpha=0.55,
                                   hatch="///", edgecolor="#777777", linewidth=0,
                                   gid="unused h", zorder=2))
    note = "" if last == t - 1 else ", the last unmasked step"
    ax.set_title(f"hidden state h: return_sequences=False, so only h at t={used}{note} (outlined) "
                 "leaves the layer; hatched h only feed the next step", fontsize=9, loc="left")
    return used


def _draw_prediction(ax, pred, sample, used):
    k = len(pred)
    ax.barh(np.arange(k), pred, color="#6baed6", edgecolor="#333333")
    ax.set_yticks(range(k))
    ax.set_yticklabels([f"y[{j}]" for j in range(k)], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0.0, color="#333333", linewidth=0.8)
    lo, hi = min(0.0, float(pred.min())), max(0.0, float(pred.max()))
    ax.set_xlim(lo - (0.7 if lo < 0 else 0.1) * (hi - lo or 1.0),
                hi + (0.7 if hi > 0 else 0.1) * (hi - lo or 1.0))  # room for the values
    for j, v in enumerate(pred):
        ax.text(v, j, f" {v:.3g} ", va="center", ha="left" if v >= 0 else "right", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(f"prediction, sample {sample}", fontsize=9)
    ax.set_xlabel("model output", fontsize=8)
    if used is not None:  # the one h that leaves the layer is what the later layers read
        ax.set_xlabel(f"model output,\ncomputed from h at t={used}", fontsize=8)


def _draw_prediction_over_time(ax, pred, masked):
    k = pred.shape[-1]
    for j in range(min(k, 8)):
        ax.plot(np.arange(len(pred)), pred[:, j], marker="o", markersize=2.5, label=f"y[{j}]")
    for step in np.flatnonzero(masked):
        ax.axvspan(step - 0.5, step + 0.5, color=_MASK_COLOR, alpha=0.6, linewidth=0)
    more = "" if k <= 8 else f" (first 8 of {k})"
    ax.set_title(f"prediction: the model's output at each step{more}", fontsize=9, loc="left")
    ax.legend(fontsize=7, ncol=min(k, 8), loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=7)


def plot_units(trace, sample: int = 0, units=None, path=None):
    """Per-cell lines over time: cell state (LSTM) and hidden state of selected cells.

    Args:
        trace: a `unrolled.inspect.Trace`.
        sample: which sequence.
        units: cell indices to draw (default the first 8).
        path: optional ``.png`` / ``.svg`` file.

    """
    sample = check_index("sample", sample, trace.mask.shape[0], "the traced batch")
    units = list(range(min(trace.units, 8))) if units is None else list(units)
    for j in units:
        check_index("unit", j, trace.units, f"layer {trace.layer_name!r} (cells)")
    names = list(trace.states)
    fig = _figure(10, 2.6 * len(names) + 0.6)
    axes = np.atleast_1d(fig.subplots(len(names), 1, sharex=True))
    fig.suptitle(f"{trace.layer_name}: per-cell states over time, sample {sample}", fontsize=11)
    steps = np.arange(trace.mask.shape[1])
    for ax, name in zip(axes, names, strict=False):
        for j in units:
            ax.plot(steps, trace.states[name][sample, :, j], label=f"cell {j}", linewidth=1.4)
        for step in np.flatnonzero(~trace.mask[sample]):
            ax.axvspan(step - 0.5, step + 0.5, color=_MASK_COLOR, alpha=0.5, linewidth=0)
        ax.set_ylabel(f"{name} ({'c' if name == 'cell' else 'h'})", fontsize=9)
        ax.grid(alpha=0.3)
        if name == "hidden" and not trace.return_sequences:
            last = trace.last_valid_step(sample)
            used = steps[-1] if last is None else last
            ax.axvspan(-0.5, used - 0.5, facecolor="white", alpha=0.6, hatch="///",
                       edgecolor="#999999", linewidth=0, gid="unused h", zorder=3)
            ax.scatter([used] * len(units), trace.states[name][sample, used, units], s=40,
                       facecolor="none", edgecolor="black", zorder=4, gid="used h")
            ax.set_title(f"return_sequences=False: only h at t={used} (circled) leaves the "
                         "layer; the hatched h only feed the next step", fontsize=9, loc="left")
    axes[0].legend(fontsize=7, ncol=min(len(units), 8), loc="upper left",
                   bbox_to_anchor=(0, 1.0))
    _time_axis(axes[-1], trace.mask.shape[1], trace.go_backwards)
    _save(fig, path)
    return fig


def _flow_kind(flow) -> str:
    for kind, gates in GATES.items():
        if [g[0] for g in gates] == list(flow.gates):
            return kind
    raise ValueError(f"Unrecognised gates {list(flow.gates)} in the gradient flow.")


def plot_gradient_flow(flow, path=None):
    """Per step, how strongly the loss depends on ``h_t``, ``c_t`` and each gate (log scale).

    Each curve is ``|dL/dq_t|``: the Euclidean norm, over the batch and the units, of the
    gradient of the loss ``L`` (its mean over the batch) with respect to the quantity ``q``
    after step ``t`` (the total derivative through every later step; ``z`` is a gate's
    pre-activation). Norms that shrink towards early steps are vanishing gradients.

    Args:
        flow: a `unrolled.inspect.GradientFlow`.
        path: optional ``.png`` / ``.svg`` file.

    """
    fig = _figure(10, 5.2)
    ax = fig.subplots()
    b, t, u = next(iter(flow.states.values())).shape

    def positive(v):
        return np.where(v > 0, v, np.nan)  # exact zeros (no dependence) leave a gap on log axes

    for name in flow.states:
        ax.plot(positive(flow.norm(name)), linewidth=2.2,
                label=f"|dL/d{flow.symbol(name)}|  ({name} state)")
    for name, _, label in GATES[_flow_kind(flow)]:
        ax.plot(positive(flow.norm(name)), linewidth=1.0, linestyle="--",
                label=f"|dL/d{flow.symbol(name)}|  ({label} pre-activation)")
    ax.set_yscale("log")
    if "cell" in flow.states and flow.norm("cell")[-1] == 0:
        ax.text(0.99, 0.02, f"no dL/dc_t at t={t - 1}: the last c is not used by any output",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=8, color="#555555")
    _time_axis(ax, t, flow.go_backwards)
    ax.set_ylabel(f"|dL/dq_t|: norm over the batch (B = {b})\nand the {u} units (log scale)",
                  fontsize=10)
    ax.set_title(f"Gradient flow through {flow.layer_name}: how much L = {flow.loss_name} "
                 f"(batch mean, {flow.loss:.4g}) depends on each step\nq_t = the state or gate "
                 "pre-activation after step t, through all later steps; small at early t = "
                 "vanishing gradients", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    _save(fig, path)
    return fig


def plot_cell(model, path=None, layer=None):
    """Draw the wiring inside one LSTM cell, labelled with this model's sizes.

    One cell ``j`` of the layer: ``x_t`` (``D`` features, or the previous layer's ``h``) and
    the whole ``h_(t-1)`` (all ``u`` cells) feed its four gates ``i``, ``f``, ``g`` (the
    candidate ``c~``) and ``o``; the cell state runs along the top, ``c_t = f*c_(t-1) + i*g``,
    and ``h_t = o*tanh(c_t)`` leaves to the right. A side panel gives the layer's real shapes:
    ``kernel (D, 4u)``, ``recurrent_kernel (u, 4u)``, ``bias (4u,)``, the column groups and the
    columns cell ``j`` uses. Each Keras unit is one such cell with its own gates (a one-cell
    "memory block" in Hochreiter & Schmidhuber's sense), so ``LSTM(u)`` is ``u`` of them.

    Args:
        model: a built model with an LSTM layer (or the layer itself).
        path: optional ``.png`` or ``.svg`` file to write.
        layer: the LSTM layer (name, index or layer; default the first recurrent layer). For a
            ``Bidirectional`` LSTM each direction has this cell with its own weights.

    Returns:
        The matplotlib ``Figure``.

    Raises:
        ValueError: if the layer is not an LSTM (or a Bidirectional LSTM) or is not built.

    """
    _, rec = resolve_layer(model, layer)
    sub = rec.forward_layer if kind_of(rec) == "Bidirectional" else rec
    if kind_of(sub) != "LSTM":
        raise ValueError(f"plot_cell draws an LSTM cell; {rec.name!r} is {type(sub).__name__}. "
                         "Pass layer= an LSTM layer, or use plot_architecture for any layer.")
    cell = sub.cell
    if getattr(cell, "kernel", None) is None:
        raise ValueError("plot_cell needs a built layer (its sizes depend on the input): build "
                         "the model first, e.g. start it with Input(shape=(T, D)).")
    d, u = cell.kernel.shape[0], cell.units
    ra, act = (getattr(f, "__name__", str(f)) for f in (cell.recurrent_activation,
                                                         cell.activation))
    source = describe_input(model, rec) if model is not rec else "the input x"
    fig = _figure(14, 7.0)
    ax, side = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.75, 1]})
    both = " per direction" if sub is not rec else ""
    fig.suptitle(f"Inside one cell j of {rec.name} (LSTM({u}){both}: {u} such cells, j = 0 .. "
                 f"{u - 1}); every cell has its own gates i, f, g, o", fontsize=12)
    below = None if "input x" in source else (input_source(model, rec)[0] if model is not rec
                                                else None)
    _draw_cell(ax, d, u, ra, act, "x_t" if below is None else f"x_t = h_t of {below.name}")
    _cell_sizes(side, rec, cell, d, u, source)
    _save(fig, path)
    return fig


def _op(ax, x, y, sym):
    from matplotlib.patches import Circle

    ax.add_patch(Circle((x, y), 0.28, facecolor="#ffffff", edgecolor="#333333", linewidth=1.2,
                        zorder=3))
    ax.text(x, y, sym, ha="center", va="center", fontsize=13, zorder=4)


def _line(ax, xs, ys, arrow=False, color="#333333", lw=1.4):
    ax.plot(xs[:-1] if arrow else xs, ys[:-1] if arrow else ys, color=color, linewidth=lw,
            zorder=1, solid_capstyle="round")
    if arrow:
        ax.annotate("", xy=(xs[-1], ys[-1]), xytext=(xs[-2], ys[-2]), zorder=2,
                    arrowprops={"arrowstyle": "-|>", "color": color, "lw": lw,
                                "shrinkA": 0, "shrinkB": 0})


def _draw_cell(ax, d, u, ra, act, x_name):
    ax.set_xlim(-0.4, 15.2)
    ax.set_ylim(-0.3, 9.4)
    ax.axis("off")
    ax.add_patch(_rounded(1.0, 1.4, 11.6, 7.0, "#fdf0e2"))
    ax.text(12.4, 1.55, f"cell j (one of {u})", fontsize=9, color="#7a4a1a", va="bottom",
            ha="right")
    hy, busy, gy = 7.4, 2.2, 3.4  # cell-state line, input bus, gate boxes (bottom)
    sig = "σ" if ra == "sigmoid" else ra
    col = {"i": "j", "f": f"{u}+j", "g": f"{2 * u}+j", "o": f"{3 * u}+j"}
    gates = [("f", 3.0, "forget gate", sig, "#c7e9c0"), ("i", 5.3, "input gate", sig, "#c7e9c0"),
             ("g", 7.7, "candidate c~", act, "#fff2ae"), ("o", 10.0, "output gate", sig,
                                                         "#c7e9c0")]
    # the cell state c, left to right along the top
    _line(ax, [-0.2, 2.72], [hy, hy])
    _line(ax, [3.28, 6.22], [hy, hy])
    _line(ax, [6.78, 14.6], [hy, hy], arrow=True)
    ax.text(-0.2, hy + 0.25, "c_(t-1)[j]", fontsize=10, va="bottom")
    ax.text(14.6, hy + 0.25, "c_t[j]", fontsize=10, va="bottom", ha="right")
    _op(ax, 3.0, hy, "×")
    _op(ax, 6.5, hy, "+")
    ax.text(3.0, hy + 0.45, "f · c_(t-1)", ha="center", fontsize=9)
    ax.text(6.5, hy + 0.45, "c_t = f · c_(t-1) + i · g", ha="center", fontsize=9,
            fontweight="bold")
    # the input bus: x_t from below, the whole h_(t-1) from the left
    _line(ax, [-0.2, 10.0], [busy, busy])
    _line(ax, [1.8, 1.8], [0.25, busy])
    what = ("feature" if d == 1 else "features") if x_name == "x_t" else "values"
    ax.text(1.95, 0.3, f"{x_name}: D = {d} {what} (all of them)", fontsize=9)
    ax.text(-0.2, busy + 0.15, f"h_(t-1): all {u} cells'\nh, size {u}", fontsize=9,
            va="bottom")
    for name, x, label, fn, color in gates:
        _line(ax, [x, x], [busy, gy], arrow=True)
        _box(ax, x - 0.85, gy, 1.7, 1.25, f"{name}  ({fn})\n{label}", color, fontsize=8.5)
        ax.text(x + 0.07, busy + 0.35, f"col {col[name]}", fontsize=7.5, color="#555555")
    # f up to the first product; i and g to their product, then into the sum
    _line(ax, [3.0, 3.0, 3.0], [gy + 1.25, hy - 0.6, hy - 0.28], arrow=True)
    _op(ax, 6.5, 5.9, "×")
    _line(ax, [5.3, 5.3, 6.22], [gy + 1.25, 5.9, 5.9], arrow=True)
    _line(ax, [7.7, 7.7, 6.78], [gy + 1.25, 5.9, 5.9], arrow=True)
    ax.text(6.5, 5.5, "i · g", ha="center", va="top", fontsize=9)
    _line(ax, [6.5, 6.5, 6.5], [6.18, hy - 0.6, hy - 0.28], arrow=True)
    # h_t = o * tanh(c_t)
    _box(ax, 11.2 - 0.55, 6.35, 1.1, 0.55, act, "#fff2ae", fontsize=8.5)
    _line(ax, [11.2, 11.2, 11.2], [hy, 7.2, 6.92], arrow=True)
    _op(ax, 11.2, 5.3, "×")
    _line(ax, [11.2, 11.2, 11.2], [6.35, 5.9, 5.58], arrow=True)
    _line(ax, [10.0, 10.0, 10.92], [gy + 1.25, 5.3, 5.3], arrow=True)
    _line(ax, [11.48, 14.6], [5.3, 5.3], arrow=True)
    ax.text(12.9, 5.55, f"h_t = o · {act}(c_t)", ha="center", fontsize=9, fontweight="bold")
    ax.text(14.6, 5.0, "h_t[j]", fontsize=10, ha="right", va="top")
    ax.text(12.8, 4.45, f"to all {u} cells' gates\nat step t+1, and out", fontsize=8,
            ha="left", va="top", color="#555555")
    ax.text(7.0, -0.25, "z = x_t · W[:, col] + h_(t-1) · U[:, col] + b[col];  each gate = its "
            "function of z", ha="center", fontsize=9)


def _cell_sizes(ax, rec, cell, d, u, source):
    ax.axis("off")
    shapes = {w.name: tuple(w.shape) for w in cell.weights}
    groups = " | ".join(f"{s} {k * u}-{(k + 1) * u - 1}" for k, s in enumerate("ifgo"))
    params = sum(int(np.prod(s)) for s in shapes.values())
    what = ("feature" if d == 1 else "features") if "input x" in source else "values"
    lines = [f"Layer {rec.name!r}: LSTM({u})",
             *textwrap.wrap(f"input: {source}", 50, initial_indent="  ",
                            subsequent_indent="    "),
             f"  D = {d} {what} per step, u = {u} units = {u} cells",
             "",
             "Weights (shared by all cells and all steps):",
             f"  kernel W            (D, 4u) = {_shape(shapes['kernel'])}",
             f"  recurrent_kernel U  (u, 4u) = {_shape(shapes['recurrent_kernel'])}"]
    if "bias" in shapes:
        lines.append(f"  bias b              (4u,)   = {_shape(shapes['bias'])}")
    lines += ["",
              "Column groups [i | f | g=c~ | o], u columns each:",
              f"  {groups}",
              f"Cell j uses column k*{u} + j of group k, e.g. its",
              f"  forget gate: W[:, {u}+j], U[:, {u}+j], b[{u}+j]",
              "",
              f"Parameters: 4*u*(D+u+1) = 4*{u}*({d}+{u}+1) = {params:,}",
              "",
              "Memory block (Hochreiter & Schmidhuber 1997):",
              "  a group of cells sharing input and output",
              "  gates. Keras shares none: each unit is one",
              f"  cell with its own gates, so LSTM({u}) is",
              f"  {u} cells = {u} one-cell memory blocks."]
    ax.text(0.0, 1.0, "\n".join(lines), family="monospace", fontsize=9, va="top",
            transform=ax.transAxes)
