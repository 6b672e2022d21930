"""``unrolled explain`` and ``unrolled trace``: look inside a saved model from the shell."""

from __future__ import annotations

import os

import numpy as np

from unrolled.cli.data import FORMATS, read_data
from unrolled.cli.errors import UsageError


def add_parser(sub) -> None:
    """Register ``unrolled explain`` and ``unrolled trace``."""
    p = sub.add_parser(
        "explain", help="explain a saved model's recurrent layers in plain words",
        description="Print what each recurrent layer of MODEL_FILE is: cells, gates, weight "
                    "shapes, parameter formula, kernel column map, masking. With --step, walk "
                    "one time step of one cell on your data.")
    p.add_argument("model_file", metavar="MODEL_FILE", help="a .keras (or .h5) model file")
    p.add_argument("--step", action="store_true",
                   help="walk one time step of one cell (needs --data)")
    p.add_argument("--data", help=f"inputs: {FORMATS}")
    p.add_argument("--sample", type=int, default=0, help="sequence index in the data (default 0)")
    p.add_argument("--t", type=int, default=None,
                   help="time step (default: the sample's last unmasked step)")
    p.add_argument("--unit", type=int, default=0, help="cell index (default 0)")
    p.add_argument("--layer", default=None, help="recurrent layer name (default: the first)")
    p.add_argument("--plot", metavar="FILE", default=None,
                   help="also draw the wiring inside one LSTM cell, with this model's sizes, "
                        "to FILE (.png or .svg; needs matplotlib)")
    _data_flags(p)
    p.set_defaults(func=run_explain)

    p = sub.add_parser(
        "trace", help="record every gate and state of a saved model on data; write plots",
        description="Trace one recurrent layer of MODEL_FILE on DATA and write to --out: "
                    "trace.npz (every gate, pre-activation, cell and hidden state), "
                    "architecture, cell wiring (LSTM), gates and units pictures for --sample, "
                    "and an LSTMVis "
                    "project (with --lstmvis).")
    p.add_argument("model_file", metavar="MODEL_FILE", help="a .keras (or .h5) model file")
    p.add_argument("data", metavar="DATA", help=f"inputs: {FORMATS}")
    p.add_argument("--sample", type=int, default=0, help="sequence to plot (default 0)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--layer", default=None, help="recurrent layer name (default: the first)")
    p.add_argument("--format", choices=("png", "svg"), default="png", help="picture format")
    p.add_argument("--lstmvis", action="store_true", help="also write an LSTMVis project")
    _data_flags(p)
    p.set_defaults(func=run_trace)


def _data_flags(p) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--labels", dest="labels", action="store_true", default=None,
                       help="a CSV's last column is a label (not read as data)")
    group.add_argument("--no-labels", dest="labels", action="store_false",
                       help="every CSV column is data")
    from unrolled.cli.checks import missing_mode

    p.add_argument("--missing", type=missing_mode, default="error",
                   help="missing values inside sequences: error (default), mask, or a number")


def load_model_file(path: str):
    """Load a model file with `unrolled.models.load_model`, with a clear error if missing."""
    if not os.path.exists(path):
        raise UsageError(f"No model file at {path!r}. Save one with model.save("
                         "'model.keras') and pass its path.")
    from unrolled.models import load_model

    return load_model(path, compile=False)


def load_data(spec: str, model=None, labels: bool | None = None,
              missing: str = "error") -> np.ndarray:
    """Read inputs for explain/trace (every format of `unrolled.cli.data`), padded as the model.

    Bundled datasets give their test split; labels in the data are not used.
    """
    from unrolled.cli.models import model_mask_value

    pad = model_mask_value(model) if model is not None else None
    return read_data(spec, labels=labels, pad_value=0.0 if pad is None else pad,
                     missing=missing).x


def _index_errors(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except IndexError as exc:  # main() reports ValueErrors as clean CLI errors
        raise ValueError(str(exc)) from exc


def explain_model(model, step=False, x=None, sample=0, t=None, unit=0, layer=None) -> str:
    """Return the text ``unrolled explain`` prints for a model object."""
    from unrolled import inspect

    if not step:
        return inspect.explain(model)
    if x is None:
        raise UsageError("--step walks one step on your data: pass --data d.ts (a .ts, .csv, "
                         ".npy/.npz file or a bundled dataset name such as ItalyPowerDemand).")
    return str(_index_errors(inspect.step_by_step, model, x, sample=sample, t=t, unit=unit,
                             layer=layer))


def trace_model(model, x, out, sample=0, layer=None, fmt="png", lstmvis=False) -> list[str]:
    """Write what ``unrolled trace`` writes for a model object; returns the paths."""
    from unrolled import inspect
    from unrolled.inspect import plots
    from unrolled.inspect._common import check_index

    sample = _index_errors(check_index, "--sample", sample, len(x), "DATA (sequences)")
    tr = inspect.trace(model, x, layer=layer)
    if isinstance(tr, inspect.BidirectionalTrace):
        traces = {"forward": tr.forward, "backward": tr.backward}
    else:
        traces = {"": tr}
    os.makedirs(out, exist_ok=True)
    paths = [os.path.join(out, f"architecture.{fmt}")]
    plots.plot_architecture(model, paths[0], layer=layer)
    first = tr.forward if isinstance(tr, inspect.BidirectionalTrace) else tr
    if first.layer_type == "LSTM":
        paths.append(os.path.join(out, f"cell.{fmt}"))
        plots.plot_cell(model, paths[-1], layer=layer)
    arrays = {}
    for prefix, one in traces.items():
        tag = f"{prefix}_" if prefix else ""
        for group in ("gates", "states", "pre_activations"):
            for key, value in getattr(one, group).items():
                arrays[f"{tag}{group[:-1] if group != 'pre_activations' else 'pre'}_{key}"] = \
                    value
        arrays[f"{tag}mask"] = one.mask
        for kind, fn in (("gates", plots.plot_gates), ("units", plots.plot_units)):
            path = os.path.join(out, f"{tag}{kind}_sample{sample}.{fmt}")
            fn(one, sample, path=path)
            paths.append(path)
    npz = os.path.join(out, "trace.npz")
    np.savez(npz, **arrays)
    paths.append(npz)
    if lstmvis:
        from unrolled.inspect.lstmvis import export_lstmvis

        paths += list(export_lstmvis(model, x, os.path.join(out, "lstmvis")).values())
    return paths


def run_explain(args) -> int:
    """``unrolled explain MODEL_FILE``."""
    if args.step and not args.data:
        raise UsageError("--step walks one step on your data: pass --data d.ts (a .ts, .csv, "
                         ".npy/.npz file or a bundled dataset name such as ItalyPowerDemand).")
    if args.plot:
        from unrolled.cli.checks import package

        package("matplotlib", "unrolled explain --plot")
    model = load_model_file(args.model_file)
    x = load_data(args.data, model, args.labels, args.missing) if args.data else None
    print(explain_model(model, args.step, x, args.sample, args.t, args.unit, args.layer))
    if args.plot:
        from unrolled.inspect import plots

        plots.plot_cell(model, args.plot, layer=args.layer)
        print(f"wrote {args.plot}")
    return 0


def run_trace(args) -> int:
    """``unrolled trace MODEL_FILE DATA --sample K --out DIR``."""
    from unrolled.cli.checks import package, writable_dir

    writable_dir(args.out, "--out")
    package("matplotlib", "unrolled trace (its pictures)")
    model = load_model_file(args.model_file)
    x = load_data(args.data, model, args.labels, args.missing)
    for path in trace_model(model, x, args.out, args.sample, args.layer, args.format,
                            args.lstmvis):
        print(f"wrote {path}")
    return 0
