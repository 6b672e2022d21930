"""Host-side label checks and per-sample weights (Keras's rules, checked before any step runs)."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from unrolled.training import losses as losses_module
from unrolled.training.data import Arrays, as_float_array, fmt_shape


def check_labels(y, x, out_shapes: list[tuple], losses: list, names: list[str],
                 multi_output: bool, what: str):
    """Return ``y`` checked against the outputs: an array, or `Arrays` (one per output).

    Args:
        y: the labels: an array, or for several outputs a list or a dict by output name.
        x: the checked inputs (for the number of samples).
        out_shapes: each output's shape, batch axis None.
        losses: each output's `Loss` (None: no loss, only the shape is checked).
        names: the output names.
        multi_output: whether the model returns a list of outputs.
        what: the calling method, for the errors.

    """
    if not multi_output:
        return _check_one(y, x, out_shapes[0], losses[0], what)
    if isinstance(y, dict):
        missing = [n for n in names if n not in y]
        if missing:
            raise ValueError(f"{what}: the labels dict lacks outputs {missing}; the model's "
                             f"outputs are {names}.")
        y = [y[n] for n in names]
    if not isinstance(y, (list, tuple)) or len(y) != len(names):
        got = len(y) if isinstance(y, (list, tuple)) else f"one array of shape {np.shape(y)}"
        raise ValueError(f"{what}: the model has {len(names)} outputs {names}; received "
                         f"{got} label arrays. Pass a list with one array per output, in "
                         "the order of `model.outputs`, or a dict by output name.")
    rows = zip(names, y, out_shapes, losses, strict=True)
    return Arrays([_check_one(labels, x, out, loss or losses_module.get("mse"),
                              f"{what} (output {name!r})")  # no loss: shape check only
                   for name, labels, out, loss in rows])


def _check_one(y, x, out, loss, what: str) -> np.ndarray:
    y = as_float_array(y, f"The labels y passed to {what}")
    if y.shape[0] != x.shape[0]:
        raise ValueError(
            f"{what}: x has {x.shape[0]} samples but y has {y.shape[0]}; they must match."
        )
    y_shape = (None, *y.shape[1:])
    # A variable dimension of the output that is still open takes the labels' size there, so
    # only dimensions the model fixes are checked.
    filled = [y_shape[i] if d is None and 0 < i < len(y_shape) else d
              for i, d in enumerate(out)]
    t, p = jax.eval_shape(  # shapes only: nothing runs or compiles
        losses_module.squeeze_or_expand_to_same_rank,
        jax.ShapeDtypeStruct([1 if d is None else d for d in y_shape], jnp.float32),
        jax.ShapeDtypeStruct([1 if d is None else d for d in filled], jnp.float32))
    if getattr(loss, "fn", None) is losses_module.binary_crossentropy and y.size and (
            y.min() < 0 or y.max() > 1):
        warnings.warn(
            f"{what}: binary_crossentropy labels should be in [0, 1] (probabilities of the "
            f"positive class); found values in [{float(y.min()):g}, {float(y.max()):g}], which "
            "give a meaningless (possibly negative) loss. Map the labels to 0/1 (e.g. -1 -> 0), "
            "or use categorical_crossentropy for several classes.", UserWarning, stacklevel=6)
    if getattr(loss, "sparse_labels", False):
        _check_sparse_labels(y, out, loss, what)
    elif t.shape != p.shape:
        raise ValueError(
            f"{what}: labels of shape {y.shape} do not fit the model's output shape "
            f"{fmt_shape(out)}. For a Dense({out[-1]}) output with "
            f"{getattr(loss, 'name', 'this loss')}, labels need shape "
            f"(samples, {', '.join(str(d) for d in out[1:])}) (one-hot for several classes, "
            "see unrolled.utils.to_categorical)."
        )
    return y


def _check_sparse_labels(y: np.ndarray, out, loss, what: str) -> None:
    """Keras's sparse rule: labels are the output shape without its class axis (or with 1)."""
    want = tuple(y.shape[1 + i] if d is None and 1 + i < y.ndim else d
                 for i, d in enumerate(out[1:-1]))
    if tuple(y.shape[1:]) not in (want, (*want, 1)):
        raise ValueError(
            f"{what}: {loss.name} needs integer class labels of shape "
            f"{fmt_shape((None, *want))} (or {fmt_shape((None, *want, 1))}) for the model's "
            f"output shape {fmt_shape(out)}; received labels of shape {y.shape}. For one-hot "
            "labels use categorical_crossentropy."
        )
    ignore = getattr(loss, "kwargs", {}).get("ignore_class")
    labels = y if ignore is None else y[y != ignore]
    n_classes = out[-1]
    bad = (labels != np.round(labels)) | (labels < 0)
    if n_classes is not None:
        bad |= labels >= n_classes
    if np.any(bad):
        raise ValueError(
            f"{what}: {loss.name} needs integer class labels in [0, {n_classes}) for a "
            f"{n_classes}-class output; found {labels[bad].ravel()[0]!r}. Relabel the classes "
            "as 0..n-1 (or pass ignore_class for a padding label)."
        )


def sample_weights(sample_weight, n: int) -> np.ndarray:
    """Return per-sample weights ``(n,)``: ones when none are given."""
    if sample_weight is None:
        return np.ones((n,), np.float32)
    sw = as_float_array(sample_weight, "sample_weight")
    if sw.shape[0] != n:
        raise ValueError(f"sample_weight has {sw.shape[0]} entries but x has {n} samples.")
    _warn_negative(sw, "sample_weight")
    return sw


def _warn_negative(weights: np.ndarray, what: str) -> None:
    if weights.size and weights.min() < 0:
        count = int(np.sum(weights < 0))
        warnings.warn(f"{what} holds {count} negative weight(s) (first: "
                      f"{float(weights[weights < 0].ravel()[0]):g}); a negative weight rewards "
                      "the loss it should penalise, so training pushes those samples away from "
                      "their labels. Use weights >= 0 (0 drops a sample).", UserWarning,
                      stacklevel=6)


def class_weight_to_sample_weight(y: np.ndarray, class_weight: dict) -> np.ndarray:
    """Keras's mapping: each sample weighs ``class_weight[its class]``.

    The class is the label itself for integer labels ``(N,)``/``(N, 1)`` and the argmax of
    one-hot labels; like Keras, a class missing from the dict weighs 1.0 (with a warning here).
    """
    if not isinstance(class_weight, dict) or not all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in class_weight):
        raise ValueError("class_weight must be a dict mapping integer class indices to weights, "
                         f"e.g. {{0: 1.0, 1: 5.0}}; received {class_weight!r}.")
    if y.ndim > 2:
        raise ValueError(f"class_weight needs one label per sample, (N,), (N, 1) or one-hot "
                         f"(N, classes); received labels of shape {y.shape}. For per-step "
                         "labels pass sample_weight instead.")
    labels = y
    if y.ndim == 2:
        labels = np.argmax(y, axis=-1) if y.shape[-1] != 1 else y[:, 0]
    labels = np.round(labels).astype(np.int64)
    weights = np.array([float(class_weight.get(int(c), 1.0)) for c in labels], np.float32)
    present = set(np.unique(labels).tolist())
    absent = sorted(int(k) for k in class_weight if int(k) not in present)
    if absent:
        warnings.warn(f"class_weight names class(es) {absent} that do not occur in y (classes "
                      f"present: {sorted(present)}); those weights are unused. Check the keys: "
                      "they are the class indices of the labels (argmax of one-hot labels).",
                      UserWarning, stacklevel=5)
    _warn_negative(np.array([float(v) for v in class_weight.values()], np.float32),
                   "class_weight")
    missing = sorted(present - {int(k) for k in class_weight})
    if missing:
        warnings.warn(f"class_weight has no entry for class(es) {missing} present in the labels; "
                      "those samples get weight 1.0 (as in Keras). Add them to class_weight to "
                      "silence this warning.", UserWarning, stacklevel=5)  # the caller of fit
    return weights
