"""``unrolled train | evaluate | predict | convert``: work on your own data files and models.

Data files: UCR/UEA ``.ts`` (``unrolled.datasets.read_ts``) or CSV with one sequence per row and
the label in the last column (``read_csv``); ``.gz`` versions too. Models: ``.keras`` files.
The class names seen in training are stored inside the ``.keras`` file (an extra
``unrolled_labels.json`` member that Keras ignores), so ``predict`` prints them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import zipfile

import numpy as np

LABELS_MEMBER = "unrolled_labels.json"
DEFAULT_SPEC = "lstm:16,dense,softmax"
SPEC_HELP = """\
model spec: comma-separated layers, in order (a Masking(0.0) layer is added first, because
the readers pad shorter sequences with zeros; add masking:VALUE yourself to change the value):
  lstm:UNITS[:seq]   an LSTM layer (":seq" returns every step: needed before another lstm)
  gru:UNITS[:seq]    a GRU layer
  dense[:UNITS[:ACTIVATION]]
                     a Dense layer; without UNITS it gets one unit per class (or target)
  dropout:RATE       dropout during training
  ACTIVATION         an activation layer: softmax, sigmoid, tanh, relu, ...
loss: softmax output -> categorical cross-entropy, sigmoid -> binary cross-entropy (one-hot
labels), regression .ts files (@targetLabel true) -> mean squared error."""


class CommandError(ValueError):
    """A user-facing problem; printed as ``unrolled COMMAND: error: ...``, exit code 2."""


# ------------------------------------------------------------------------------- data
def read_data(path: str):
    """Return ``(x (N, T, F) float32, y or None, regression: bool)`` from a .ts or .csv file."""
    from unrolled import datasets

    if not os.path.isfile(path):
        raise CommandError(f"data file {path!r} does not exist.")
    name = path.lower().removesuffix(".gz")
    if name.endswith(".ts"):
        x, y, info = datasets.read_ts(path)
        return x, y, bool(info.target_label)
    if name.endswith((".csv", ".txt")):
        x, y, _ = datasets.read_csv(path)
        return x, y, False
    raise CommandError(f"{path!r}: expected a UCR/UEA .ts file or a .csv file (optionally "
                       ".gz); the file name ends otherwise.")


def _check_features(model, x, path: str) -> None:
    expected = model._input_batch_shape[-1] if model._input_batch_shape else None
    if expected is not None and x.shape[-1] != expected:
        raise CommandError(f"{path!r} has {x.shape[-1]} feature(s) per time step, but the model "
                           f"expects {expected}. Use data with the same channels as in training.")


# ---------------------------------------------------------------------------- models
def parse_spec(spec: str, n_features: int, n_outputs: int):
    """Return the list of layers a spec describes (see ``SPEC_HELP``)."""
    from unrolled import layers
    from unrolled.ops import activations

    out = []
    items = [item.strip() for item in spec.split(",") if item.strip()]
    if not items:
        raise CommandError(f"empty model spec {spec!r}.\n{SPEC_HELP}")
    if not items[0].startswith("masking"):
        out.append(layers.Masking(0.0))
    for item in items:
        kind, *args = item.split(":")
        try:
            if kind in ("lstm", "gru") and 1 <= len(args) <= 2:
                cls = getattr(layers, kind.upper(), None)
                if cls is None:
                    raise CommandError(f"this unrolled has no {kind.upper()} layer yet.")
                if len(args) == 2 and args[1] != "seq":
                    raise ValueError(args[1])
                out.append(cls(int(args[0]), return_sequences=len(args) == 2))
            elif kind == "dense" and len(args) <= 2:
                units = int(args[0]) if args and args[0] else n_outputs
                out.append(layers.Dense(units, activation=args[1] if len(args) == 2 else None))
            elif kind == "dropout" and len(args) == 1:
                out.append(layers.Dropout(float(args[0])))
            elif kind == "masking" and len(args) <= 1:
                out.append(layers.Masking(float(args[0]) if args else 0.0))
            elif not args and kind in activations.names():
                out.append(layers.Activation(kind))
            else:
                raise ValueError(item)
        except (ValueError, TypeError) as exc:
            if isinstance(exc, CommandError):
                raise
            raise CommandError(f"cannot read {item!r} in model spec {spec!r}.\n{SPEC_HELP}") \
                from exc
    return out


def _final_activation(model) -> str | None:
    from unrolled.ops import activations

    last = model.layers[-1]
    fn = getattr(last, "activation", None)
    return None if fn is None else activations.name_of(fn)


def _compile(model, regression: bool, learning_rate: float) -> None:
    from unrolled import optimizers

    if regression:
        loss, metrics = "mean_squared_error", []
    else:
        act = _final_activation(model)
        if act not in ("softmax", "sigmoid"):
            raise CommandError(f"a classifier must end with softmax or sigmoid (one probability "
                               f"per class); the model ends with {act!r}. Add ',softmax' to "
                               "the spec.")
        loss = "categorical_crossentropy" if act == "softmax" else "binary_crossentropy"
        metrics = ["categorical_accuracy"]
    model.compile(optimizer=optimizers.Adam(learning_rate=learning_rate), loss=loss,
                  metrics=metrics)


def save_with_labels(model, path: str, labels: list[str] | None) -> None:
    """Save ``model`` as ``.keras`` with the class names as an extra member, atomically."""
    from unrolled.io import atomic_write

    if not path.endswith(".keras"):
        raise CommandError(f"--out must name a .keras file; received {path!r}.")
    tmp = f"{path}.partial.keras"
    try:
        model.save(tmp)
        with open(tmp, "rb") as f:
            data = io.BytesIO(f.read())
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    with zipfile.ZipFile(data, "a") as zf:
        zf.writestr(LABELS_MEMBER, json.dumps({"labels": labels}))
    atomic_write(path, data.getvalue())


def load_with_labels(path: str):
    """Return ``(model, labels or None)`` from a ``.keras`` file."""
    from unrolled.models import load_model

    if not os.path.isfile(path):
        raise CommandError(f"model file {path!r} does not exist.")
    model = load_model(path)
    labels = None
    with zipfile.ZipFile(path) as zf:
        if LABELS_MEMBER in zf.namelist():
            labels = json.loads(zf.read(LABELS_MEMBER))["labels"]
    return model, labels


def _targets(y, labels, regression: bool, path: str):
    if y is None:
        raise CommandError(f"{path!r} has no labels; train and evaluate need a label column.")
    if regression:
        return np.asarray(y, np.float32).reshape(len(y), -1)
    unknown = sorted(set(map(str, y)) - set(labels))
    if unknown:
        raise CommandError(f"{path!r} has labels {unknown[:10]} that the model was not trained "
                           f"on (it knows {labels}).")
    index = np.array([labels.index(str(v)) for v in y])
    return np.eye(len(labels), dtype=np.float32)[index]


# ---------------------------------------------------------------------------- commands
def train(args) -> int:
    """``unrolled train``."""
    from unrolled import utils

    utils.set_random_seed(args.seed)
    x, y, regression = read_data(args.data)
    if y is None:
        raise CommandError(f"{args.data!r} has no labels; train needs a label column.")
    if os.path.isfile(args.model) or args.model.endswith(".keras"):
        model, labels = load_with_labels(args.model)
        _check_features(model, x, args.data)
        if not getattr(model, "compiled", False):
            _compile(model, regression, args.learning_rate)
    else:
        from unrolled.models import Sequential

        labels = None if regression else sorted(set(map(str, y)))
        outputs = y.reshape(len(y), -1).shape[1] if regression else len(labels)
        model = Sequential([*parse_spec(args.model, x.shape[-1], outputs)])
        model.build((None, *x.shape[1:]))
        _compile(model, regression, args.learning_rate)
    labels = labels or (None if regression else sorted(set(map(str, y))))
    targets = _targets(y, labels, regression, args.data)
    model.fit(x, targets, epochs=args.epochs, batch_size=args.batch_size,
              validation_split=args.validation_split, verbose=args.verbose)
    save_with_labels(model, args.out, labels)
    print(f"saved {args.out} ({model.count_params():,} parameters"
          + (f", classes {labels})" if labels else ")"))
    return 0


def evaluate(args) -> int:
    """``unrolled evaluate``."""
    model, labels = load_with_labels(args.model)
    x, y, regression = read_data(args.data)
    _check_features(model, x, args.data)
    regression = regression or labels is None
    if not getattr(model, "compiled", False):
        _compile(model, regression, 0.001)
    values = model.evaluate(x, _targets(y, labels, regression, args.data), verbose=0,
                            return_dict=True)
    for name, value in values.items():
        print(f"{name}: {value:.6f}")
    return 0


def predict(args) -> int:
    """``unrolled predict``."""
    model, labels = load_with_labels(args.model)
    x, _, _ = read_data(args.data)
    _check_features(model, x, args.data)
    out = model.predict(x, batch_size=args.batch_size, verbose=0).reshape(len(x), -1)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if labels:
        writer.writerow(["index", "prediction", *[f"p_{name}" for name in labels]])
        for i, row in enumerate(out):
            writer.writerow([i, labels[int(np.argmax(row))], *[f"{v:.6g}" for v in row]])
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

    model, _ = load_with_labels(args.model)
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
def add_parser(sub) -> None:
    """Register ``train``, ``evaluate``, ``predict`` and ``convert``."""
    import argparse

    raw = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "train", formatter_class=raw, help="train a model on a .ts or .csv file",
        description="Train a sequence model on a UCR/UEA .ts or CSV file and save it as .keras.",
        epilog=SPEC_HELP + "\n\nexamples:\n"
        "  unrolled train ItalyPowerDemand_TRAIN.ts --model lstm:16,dense:2,sigmoid "
        "--epochs 60 --out m.keras\n"
        "  unrolled train data.csv --model lstm:32:seq,lstm:16,dense,softmax "
        "--validation-split 0.2 --out m.keras\n"
        "  unrolled train more.ts --model m.keras --epochs 5 --out m2.keras   (continue)")
    p.add_argument("data", help="training data: .ts or .csv (label in the last column)")
    p.add_argument("--model", default=DEFAULT_SPEC,
                   help=f"a model spec (see below) or a .keras file (default {DEFAULT_SPEC!r})")
    p.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    p.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    p.add_argument("--validation-split", type=float, default=0.0,
                   help="fraction of the LAST samples held out for validation (default 0)")
    p.add_argument("--learning-rate", type=float, default=0.001, help="Adam's (default 0.001)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                   help="0 silent, 1 progress bar (default), 2 one line per epoch")
    p.add_argument("--out", required=True, help="where to save the trained model (.keras)")
    p.set_defaults(func=_guard(train))

    p = sub.add_parser(
        "evaluate", formatter_class=raw, help="loss and accuracy of a .keras model on a file",
        description="Print the loss (and accuracy) of a saved model on labelled data.",
        epilog="example:\n  unrolled evaluate m.keras ItalyPowerDemand_TEST.ts")
    p.add_argument("model", help="a .keras file (e.g. from unrolled train)")
    p.add_argument("data", help="labelled data: .ts or .csv")
    p.set_defaults(func=_guard(evaluate))

    p = sub.add_parser(
        "predict", formatter_class=raw, help="predict each sequence of a file",
        description="Write one row per sequence: index, predicted class and class "
                    "probabilities (or the predicted values for regression) as CSV.",
        epilog="example:\n  unrolled predict m.keras new_days.ts --out predictions.csv")
    p.add_argument("model", help="a .keras file")
    p.add_argument("data", help="data: .ts or .csv (labels, if present, are ignored)")
    p.add_argument("--out", help="CSV file to write (default: print to the terminal)")
    p.add_argument("--batch-size", type=int, default=256, help="batch size (default 256)")
    p.set_defaults(func=_guard(predict))

    p = sub.add_parser(
        "convert", formatter_class=raw, help="convert a .keras model to ONNX or PyTorch",
        description="Convert a saved model. onnx: a file onnxruntime runs (input 'x' of shape "
                    "(batch, T, F)). torch: a torch.nn.Module saved with torch.save; load it "
                    "with torch.load(PATH, weights_only=False) where unrolled is installed.",
        epilog="examples:\n  unrolled convert m.keras --to onnx --out m.onnx\n"
               "  unrolled convert m.keras --to torch --out m.pt")
    p.add_argument("model", help="a .keras file")
    p.add_argument("--to", required=True, choices=("onnx", "torch"), help="target format")
    p.add_argument("--out", required=True, help="file to write")
    p.add_argument("--assume-right-padding", action="store_true",
                   help="ONNX: confirm that inputs are padded at the end only (required for a "
                        "model with Masking; left padding or holes would give other outputs)")
    p.set_defaults(func=_guard(convert))


def _guard(fn):
    """Turn ImportError (missing optional package) into a clear CommandError."""
    def run(args) -> int:
        try:
            return fn(args)
        except ImportError as exc:
            raise CommandError(str(exc)) from exc
        except NotImplementedError as exc:
            raise CommandError(str(exc)) from exc

    run.__doc__ = fn.__doc__
    return run
