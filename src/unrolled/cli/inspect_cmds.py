"""``unrolled explain`` and ``unrolled trace``: look inside a saved model from the shell."""

from __future__ import annotations

import os

import numpy as np


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
    p.add_argument("--data", help="inputs: a .npy/.npz file (array x or x_test) or a bundled "
                                  "dataset name (its test split)")
    p.add_argument("--sample", type=int, default=0, help="sequence index in the data (default 0)")
    p.add_argument("--t", type=int, default=None,
                   help="time step (default: the sample's last unmasked step)")
    p.add_argument("--unit", type=int, default=0, help="cell index (default 0)")
    p.add_argument("--layer", default=None, help="recurrent layer name (default: the first)")
    p.set_defaults(func=run_explain)

    p = sub.add_parser(
        "trace", help="record every gate and state of a saved model on data; write plots",
        description="Trace one recurrent layer of MODEL_FILE on DATA and write to --out: "
                    "trace.npz (every gate, pre-activation, cell and hidden state), "
                    "architecture, gates and units pictures for --sample, and an LSTMVis "
                    "project (with --lstmvis).")
    p.add_argument("model_file", metavar="MODEL_FILE", help="a .keras (or .h5) model file")
    p.add_argument("data", metavar="DATA", help="a .npy/.npz file or a bundled dataset name")
    p.add_argument("--sample", type=int, default=0, help="sequence to plot (default 0)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--layer", default=None, help="recurrent layer name (default: the first)")
    p.add_argument("--format", choices=("png", "svg"), default="png", help="picture format")
    p.add_argument("--lstmvis", action="store_true", help="also write an LSTMVis project")
    p.set_defaults(func=run_trace)


def load_model_file(path: str):
    """Load a model file with `unrolled.models.load_model`, with a clear error if missing."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at {path!r}. Save one with model.save("
                                "'model.keras') and pass its path.")
    from unrolled.models import load_model

    return load_model(path, compile=False)


def load_data(spec: str) -> np.ndarray:
    """Load inputs from a ``.npy``/``.npz`` file or a bundled dataset's test split."""
    if spec.endswith((".npy", ".npz")):
        if not os.path.exists(spec):
            raise FileNotFoundError(f"No data file at {spec!r}.")
        loaded = np.load(spec, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return loaded
        for key in ("x", "x_test", "inputs"):
            if key in loaded.files:
                return loaded[key]
        return loaded[loaded.files[0]]
    from unrolled import datasets

    try:
        (_, _), (x_test, _) = datasets.load(spec)
    except (ValueError, KeyError) as exc:
        raise ValueError(f"DATA {spec!r} is neither a .npy/.npz file nor a bundled dataset "
                         f"({exc}).") from exc
    return x_test


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
        raise ValueError("--step walks one step on your data: pass --data x.npy (or a bundled "
                         "dataset name such as ItalyPowerDemand).")
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
    model = load_model_file(args.model_file)
    x = load_data(args.data) if args.data else None
    print(explain_model(model, args.step, x, args.sample, args.t, args.unit, args.layer))
    return 0


def run_trace(args) -> int:
    """``unrolled trace MODEL_FILE DATA --sample K --out DIR``."""
    model = load_model_file(args.model_file)
    x = load_data(args.data)
    for path in trace_model(model, x, args.out, args.sample, args.layer, args.format,
                            args.lstmvis):
        print(f"wrote {path}")
    return 0
