"""``unrolled train | evaluate | predict | convert``: work on your own data files and models.

Data (every command): UCR/UEA ``.ts``, CSV with one sequence per row (a last label column found
or stated with ``--labels/--no-labels``), ``.npy``/``.npz``, ``.gz`` versions, a bundled dataset
name, or ``-`` for standard input (see `unrolled.cli.data`). Models: ``.keras`` files.
"""

from __future__ import annotations

import csv
import io
import sys

import numpy as np

from unrolled.cli import checks
from unrolled.cli import models as cli_models
from unrolled.cli.data import FORMATS, describe, read_data
from unrolled.cli.errors import CommandError, UsageError


def _mask_value(args, model=None) -> float:
    if model is not None:
        found = cli_models.model_mask_value(model)
        return found if found is not None else 0.0
    from_spec = cli_models.spec_mask_value(args.model)
    if from_spec is not None and args.mask_value is not None and from_spec != args.mask_value:
        raise UsageError(f"--mask-value {args.mask_value:g} contradicts masking:{from_spec:g} "
                         "in the model spec; give one of them.")
    return from_spec if from_spec is not None else (args.mask_value or 0.0)


def _labels_flag(args):
    return getattr(args, "labels", None)


# ---------------------------------------------------------------------------- commands
def train(args) -> int:
    """``unrolled train``."""
    from unrolled import utils

    checks.writable_file(args.out, "--out", (".keras",))
    is_file = args.model.endswith(".keras")
    if is_file:
        checks.existing_file(args.model, "model file")
    spec = args.model
    if not is_file:
        cli_models.spec_mask_value(spec)  # a bad spec is refused before reading data
    utils.set_random_seed(args.seed)
    model, meta = cli_models.load(args.model) if is_file else (None, {})
    data = read_data(args.data, labels=_labels_flag(args), need_labels=True,
                     pad_value=_mask_value(args, model), missing=args.missing, split="train")
    task = meta.get("task") or data.task
    if model is None:
        if spec == "auto":
            spec = cli_models.DEFAULT_SPECS[task]
        labels = sorted(set(data.y)) if task == "classes" else None
        outputs = len(labels) if labels else data.y.reshape(len(data.y), -1).shape[1]
        model = cli_models.build(spec, data.x.shape[-1], outputs, data.pad_value)
        cli_models.compile_for(model, task, args.learning_rate)
        meta = {"labels": labels if labels else None, "task": task}
    else:
        if task != data.task:
            raise CommandError(f"{args.model!r} was trained for {task}, but {data.source!r} "
                               f"holds {data.task} targets.")
        if not getattr(model, "compiled", False):
            cli_models.compile_for(model, task, args.learning_rate)
    x = cli_models.fit_inputs(model, data.x, data.source, data.pad_value)
    y = cli_models.targets(data.y, meta, task, data.source)
    if args.verbose:
        print(describe(data))
        if args.validation_split:
            held = int(len(x) * args.validation_split)
            print(f"validation: the last {held} sequences ({args.validation_split:g})")
        model.summary()
    from unrolled.cli.progress import keras_epoch_lines
    from unrolled.training import NaNLossError

    callbacks = [keras_epoch_lines()] if args.verbose == 2 else []
    try:
        model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size,
                  validation_split=args.validation_split, callbacks=callbacks,
                  verbose=1 if args.verbose == 1 else 0)
    except NaNLossError as exc:
        raise CommandError(f"{exc} Nothing was saved.") from None
    cli_models.save(model, args.out, meta)
    labels = meta.get("labels")
    print(f"saved {args.out} ({model.count_params():,} parameters"
          + (f", classes {labels})" if labels and task == "classes" else f", {task})"))
    return 0


def evaluate(args) -> int:
    """``unrolled evaluate``."""
    model, meta = cli_models.load(args.model)
    data = read_data(args.data, labels=_labels_flag(args), need_labels=True,
                     pad_value=_mask_value(args, model), missing=args.missing)
    task = meta["task"]
    if not getattr(model, "compiled", False):
        cli_models.compile_for(model, task, 0.001)
    x = cli_models.fit_inputs(model, data.x, data.source, data.pad_value)
    values = model.evaluate(x, cli_models.targets(data.y, meta, task, data.source),
                            batch_size=args.batch_size, verbose=0, return_dict=True)
    for name, value in values.items():
        print(f"{name}: {value:.6f}")
    return 0


def predict(args) -> int:
    """``unrolled predict``."""
    if args.out:
        checks.writable_file(args.out, "--out")
    model, meta = cli_models.load(args.model, compile=False)
    data = read_data(args.data, labels=_labels_flag(args), pad_value=_mask_value(args, model),
                     missing=args.missing)
    x = cli_models.fit_inputs(model, data.x, data.source, data.pad_value)
    out = model.predict(x, batch_size=args.batch_size, verbose=0).reshape(len(x), -1)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    labels, task = meta.get("labels"), meta["task"]
    if task == "classes" and labels:
        writer.writerow(["index", "prediction", *[f"p_{name}" for name in labels]])
        for i, row in enumerate(out):
            writer.writerow([i, labels[int(np.argmax(row))], *[f"{v:.6g}" for v in row]])
    elif task == "multilabel":
        names = labels or [str(j) for j in range(out.shape[1])]
        writer.writerow(["index", "prediction", *[f"p_{name}" for name in names]])
        for i, row in enumerate(out):
            chosen = ";".join(n for n, v in zip(names, row, strict=True) if v >= 0.5)
            writer.writerow([i, chosen, *[f"{v:.6g}" for v in row]])
    else:
        writer.writerow(["index", *[f"y_{j}" for j in range(out.shape[1])]])
        for i, row in enumerate(out):
            writer.writerow([i, *[f"{v:.6g}" for v in row]])
    if args.out:
        from unrolled.io import atomic_write

        atomic_write(args.out, buffer.getvalue().encode())
        print(f"wrote {len(out)} predictions to {args.out}")
    else:
        sys.stdout.write(buffer.getvalue())
    return 0


def convert(args) -> int:
    """``unrolled convert``."""
    from unrolled import convert as convert_module

    suffix = {"onnx": (".onnx",), "torch": (".pt", ".pth")}[args.to]
    checks.writable_file(args.out, "--out", suffix)
    checks.package(args.to, f"--to {args.to}")
    model, _ = cli_models.load(args.model, compile=False)
    if args.to == "onnx":
        convert_module.to_onnx(model, args.out,
                               assume_right_padding=args.assume_right_padding)
    else:
        import torch

        from unrolled.io import atomic_write

        module = convert_module.to_torch(model)
        buffer = io.BytesIO()
        torch.save(module, buffer)
        atomic_write(args.out, buffer.getvalue())
    print(f"wrote {args.out}")
    return 0


# ------------------------------------------------------------------------------ parsers
def _data_options(p, predict: bool = False) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--labels", dest="labels", action="store_true", default=None,
                       help="the data has labels (a CSV's last column is the label)")
    group.add_argument("--no-labels", dest="labels", action="store_false",
                       help="the data has no labels (every CSV column is a value)"
                       + ("" if predict else "; not for this command"))
    p.add_argument("--missing", type=checks.missing_mode, default="error",
                   help="what to do with missing values inside sequences: error (default), "
                        "mask (skip steps whose features are all missing) or a number to "
                        "fill them with")


def add_parser(sub) -> None:
    """Register ``train``, ``evaluate``, ``predict`` and ``convert``."""
    import argparse

    raw = argparse.RawDescriptionHelpFormatter
    data_help = f"data: {FORMATS}"
    p = sub.add_parser(
        "train", formatter_class=raw, help="train a model on your data file",
        description="Train a sequence model on your data and save it as .keras. Prints what it "
                    "read and the model before the first epoch.",
        epilog=cli_models.SPEC_HELP + "\n\nexamples:\n"
        "  unrolled train ItalyPowerDemand --model lstm:16,dense:2,sigmoid --epochs 60 "
        "--out m.keras\n"
        "  unrolled train data.csv --model lstm:32:seq,lstm:16,dense,softmax "
        "--validation-split 0.2 --out m.keras\n"
        "  unrolled train counts.csv --mask-value -1 --out m.keras   (real zeros stay data)\n"
        "  unrolled train more.ts --model m.keras --epochs 5 --out m2.keras   (continue)")
    p.add_argument("data", help=data_help)
    p.add_argument("--model", default="auto",
                   help="a model spec (see below) or a .keras file to continue (default: by "
                        "task, see below)")
    p.add_argument("--epochs", type=checks.positive_int, default=10,
                   help="training epochs, 1 or more (default 10)")
    p.add_argument("--batch-size", type=checks.positive_int, default=32,
                   help="batch size (default 32)")
    p.add_argument("--validation-split", type=checks.fraction, default=0.0,
                   help="fraction of the LAST samples held out for validation (default 0)")
    p.add_argument("--learning-rate", type=checks.positive_float, default=0.001,
                   help="Adam's (default 0.001)")
    p.add_argument("--mask-value", type=float, default=None,
                   help="padding value and the Masking layer's value (default 0.0); pick one "
                        "your data never has in every feature")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                   help="0 silent, 1 progress bar (default), 2 one line per epoch (as Keras)")
    p.add_argument("--out", required=True, help="where to save the trained model (.keras)")
    _data_options(p)
    p.set_defaults(func=train)

    p = sub.add_parser(
        "evaluate", formatter_class=raw, help="loss and metrics of a .keras model on a file",
        description="Print the loss (and accuracy) of a saved model on labelled data of any "
                    "sequence length.",
        epilog="examples:\n  unrolled evaluate m.keras ItalyPowerDemand_TEST.ts\n"
               "  unrolled evaluate m.keras ItalyPowerDemand:test\n"
               "  cat test.csv | unrolled evaluate m.keras - --labels")
    p.add_argument("model", help="a .keras file (e.g. from unrolled train)")
    p.add_argument("data", help="labelled " + data_help)
    p.add_argument("--batch-size", type=checks.positive_int, default=256,
                   help="batch size (default 256)")
    _data_options(p)
    p.set_defaults(func=evaluate)

    p = sub.add_parser(
        "predict", formatter_class=raw, help="predict each sequence of a file",
        description="Write one row per sequence: index, predicted class and class "
                    "probabilities (or the predicted values for regression) as CSV. Labels "
                    "in the data are not used; a CSV whose last column may or may not be a "
                    "label needs --labels or --no-labels.",
        epilog="examples:\n  unrolled predict m.keras new_days.ts --out predictions.csv\n"
               "  unrolled predict m.keras unlabelled.csv --no-labels\n"
               "  unrolled predict m.keras x.npy")
    p.add_argument("model", help="a .keras file")
    p.add_argument("data", help=data_help)
    p.add_argument("--out", help="CSV file to write (default: print to the terminal)")
    p.add_argument("--batch-size", type=checks.positive_int, default=256,
                   help="batch size (default 256)")
    _data_options(p, predict=True)
    p.set_defaults(func=predict)

    p = sub.add_parser(
        "convert", formatter_class=raw, help="convert a .keras model to ONNX or PyTorch",
        description="Convert a saved model. onnx: a file onnxruntime runs (input 'x' of shape "
                    "(batch, time, F), any batch size and length). torch: a torch.nn.Module "
                    "saved with torch.save; load it with torch.load(PATH, weights_only=False) "
                    "where unrolled is installed.",
        epilog="examples:\n  unrolled convert m.keras --to onnx --out m.onnx\n"
               "  unrolled convert m.keras --to torch --out m.pt")
    p.add_argument("model", help="a .keras file")
    p.add_argument("--to", required=True, choices=("onnx", "torch"), help="target format")
    p.add_argument("--out", required=True, help="file to write (.onnx, or .pt/.pth)")
    p.add_argument("--assume-right-padding", action="store_true",
                   help="ONNX: confirm that inputs are padded at the end only (required for a "
                        "model with Masking; left padding or holes would give other outputs)")
    p.set_defaults(func=convert)
