"""Models for the command line: the spec language, default heads, and .keras files with labels.

The class names (and the kind of target) seen in training are stored inside the ``.keras`` file,
as an extra ``unrolled_labels.json`` member that Keras ignores, so ``predict`` prints them.
Models built here take any sequence length (input shape ``(None, None, F)``).
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np

from unrolled.cli.errors import CommandError, UsageError

LABELS_MEMBER = "unrolled_labels.json"
DEFAULT_SPECS = {"classes": "lstm:16,dense,softmax", "regression": "lstm:16,dense",
                 "multilabel": "lstm:16,dense,sigmoid"}
SPEC_HELP = """\
model spec: comma-separated layers, in order. A Masking layer comes first (masking:VALUE, or
--mask-value, default 0.0): shorter sequences are padded with that value and skipped by it.
  lstm:UNITS[:seq]   an LSTM layer (":seq" returns every step: needed before another lstm)
  gru:UNITS[:seq]    a GRU layer
  dense[:UNITS[:ACTIVATION]]
                     a Dense layer; without UNITS it gets one unit per class (or target)
  dropout:RATE       dropout during training
  ACTIVATION         an activation layer: softmax, sigmoid, tanh, relu, ...
default: lstm:16,dense,softmax for classes; lstm:16,dense (linear) for regression targets;
lstm:16,dense,sigmoid for multi-label 0/1 targets (a .npz y of shape (N, k)).
loss: softmax -> categorical cross-entropy, sigmoid -> binary cross-entropy, regression
(a .ts with @targetLabel true, float y in a .npz) -> mean squared error."""


def spec_mask_value(spec: str) -> float | None:
    """Return the ``masking:VALUE`` at the start of a spec, or ``None``."""
    first = spec.split(",")[0].strip()
    if first.startswith("masking"):
        _, _, value = first.partition(":")
        try:
            return float(value) if value else 0.0
        except ValueError:
            raise UsageError(f"cannot read {first!r} in model spec {spec!r}.\n{SPEC_HELP}") \
                from None
    return None


def model_mask_value(model) -> float | None:
    """Return the mask value of a model's leading Masking layer, or ``None``."""
    first = model.layers[0] if model.layers else None
    return float(first.mask_value) if type(first).__name__ == "Masking" else None


def parse_spec(spec: str, n_outputs: int, mask_value: float) -> list:
    """Return the list of layers a spec describes (see ``SPEC_HELP``)."""
    from unrolled import layers
    from unrolled.ops import activations

    out = []
    items = [item.strip() for item in spec.split(",") if item.strip()]
    if not items:
        raise UsageError(f"empty model spec {spec!r}.\n{SPEC_HELP}")
    if not items[0].startswith("masking"):
        out.append(layers.Masking(mask_value))
    for item in items:
        kind, *args = item.split(":")
        try:
            if kind in ("lstm", "gru") and 1 <= len(args) <= 2:
                if len(args) == 2 and args[1] != "seq":
                    raise ValueError(args[1])
                units = int(args[0])
                if units < 1:
                    raise ValueError(units)
                cls = getattr(layers, kind.upper())
                out.append(cls(units, return_sequences=len(args) == 2))
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
            raise UsageError(f"cannot read {item!r} in model spec {spec!r}.\n{SPEC_HELP}") \
                from exc
    return out


def build(spec: str, features: int, n_outputs: int, mask_value: float):
    """Build a Sequential from a spec, built for any length: input ``(None, None, features)``."""
    from unrolled.models import Sequential

    model = Sequential(parse_spec(spec, n_outputs, mask_value))
    model.build((None, None, features))
    return model


def final_activation(model) -> str | None:
    """Return the name of the model's last activation (``None`` when it has none)."""
    from unrolled.ops import activations

    fn = getattr(model.layers[-1], "activation", None)
    return None if fn is None else activations.name_of(fn)


def compile_for(model, task: str, learning_rate: float) -> None:
    """Compile with the loss and metrics of the task (see ``SPEC_HELP``)."""
    from unrolled import optimizers

    act = final_activation(model)
    if task == "regression":
        if act in ("softmax", "sigmoid"):
            raise UsageError(f"the targets are real values (regression) but the model ends "
                             f"with {act}, which squashes them into (0, 1); drop ',{act}' from "
                             "the spec (a linear Dense head).")
        loss, metrics = "mean_squared_error", ["mean_absolute_error"]
    elif task == "multilabel":
        if act != "sigmoid":
            raise UsageError(f"multi-label targets need a sigmoid head (one yes/no probability "
                             f"per label); the model ends with {act!r}. End the spec with "
                             "',sigmoid'.")
        loss, metrics = "binary_crossentropy", ["binary_accuracy"]
    else:
        if act not in ("softmax", "sigmoid"):
            raise UsageError(f"a classifier must end with softmax or sigmoid (one probability "
                             f"per class); the model ends with {act!r}. Add ',softmax' to "
                             "the spec.")
        loss = "categorical_crossentropy" if act == "softmax" else "binary_crossentropy"
        metrics = ["categorical_accuracy"]
    model.compile(optimizer=optimizers.Adam(learning_rate=learning_rate), loss=loss,
                  metrics=metrics)


def save(model, path: str, meta: dict) -> None:
    """Save ``model`` as ``.keras`` with ``meta`` (labels, task) as an extra member."""
    from unrolled.io import atomic_write

    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.partial.keras")
    try:
        model.save(tmp)
        with open(tmp, "rb") as f:
            data = io.BytesIO(f.read())
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    with zipfile.ZipFile(data, "a") as zf:
        zf.writestr(LABELS_MEMBER, json.dumps(meta))
    atomic_write(path, data.getvalue())


def load(path: str, compile: bool = True):
    """Return ``(model, meta)`` from a ``.keras`` file; meta has ``labels`` and ``task``."""
    from unrolled.models import load_model

    if not os.path.isfile(path):
        raise UsageError(f"model file {path!r} does not exist.")
    model = load_model(path, compile=compile)
    meta = {}
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            if LABELS_MEMBER in zf.namelist():
                meta = json.loads(zf.read(LABELS_MEMBER))
    labels = meta.get("labels")
    meta.setdefault("task", "classes" if labels else "regression")
    return model, meta


def fit_inputs(model, x: np.ndarray, source: str, pad_value: float) -> np.ndarray:
    """Check the features and adapt the length for models saved with a fixed one."""
    shape = model._input_batch_shape
    if not shape:
        return x
    features, steps = shape[-1], shape[1] if len(shape) == 3 else None
    if features is not None and x.shape[-1] != features:
        raise CommandError(f"{source!r} has {x.shape[-1]} feature(s) per time step, but the "
                           f"model expects {features}. Use data with the same channels as "
                           "in training.")
    if steps is None or x.shape[1] == steps:
        return x
    if x.shape[1] < steps and model_mask_value(model) is not None:
        pad = np.full((len(x), steps - x.shape[1], x.shape[2]), pad_value, np.float32)
        return np.concatenate([x, pad], axis=1)  # (N, steps, F): masked padding
    raise CommandError(f"{source!r} has sequences of {x.shape[1]} steps, but this model was "
                       f"saved for exactly {steps} (an older unrolled file). Retrain it with "
                       "this unrolled (models from `unrolled train` take any length).")


def targets(y: np.ndarray, meta: dict, task: str, source: str) -> np.ndarray:
    """Return the training/evaluation targets for the model's task."""
    if task in ("regression", "multilabel"):
        return np.asarray(y, np.float32).reshape(len(y), -1)
    labels = meta["labels"]
    unknown = sorted(set(map(str, y)) - set(labels))
    if unknown:
        raise CommandError(f"{source!r} has labels {unknown[:10]} that the model was not "
                           f"trained on (it knows {labels}).")
    index = np.array([labels.index(str(v)) for v in y])
    return np.eye(len(labels), dtype=np.float32)[index]
