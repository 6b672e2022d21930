"""Metrics as Keras 3 computes them, statefully or as pure functions inside a jitted step.

Stateful: ``update_state``/``result``; pure: ``init``/``update``/``result_of``.

Mean metrics (accuracies, MAE) keep ``(total, count)``; confusion metrics (`AUC`, `Precision`,
`Recall`) keep true/false positive/negative counts per
threshold.

``"accuracy"`` resolves by Keras 3's shape rule (`resolve`): one output column -> binary accuracy;
integer labels (lower rank, or one label column against several outputs) -> sparse categorical;
otherwise categorical.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from unrolled.ops.compile import to_device
from unrolled.saving import object_registration
from unrolled.training import losses as losses_module
from unrolled.training.losses import squeeze_or_expand_to_same_rank
from unrolled.training.metric_face import StatelessMetricMixin


def binary_accuracy(y_true, y_pred, threshold: float = 0.5) -> jax.Array:
    """1.0 for each entry where ``y_pred > threshold`` equals the label, else 0.0.

    Per entry, not averaged over the last axis (Keras 3; Keras 2 averaged per sample). The
    `BinaryAccuracy` metric averages over all entries.
    """
    y_true, y_pred = squeeze_or_expand_to_same_rank(jnp.asarray(y_true), jnp.asarray(y_pred))
    hit = jnp.equal(y_true.astype(jnp.float32), (y_pred > threshold).astype(jnp.float32))
    return hit.astype(jnp.float32)


def categorical_accuracy(y_true, y_pred) -> jax.Array:
    """1.0 where ``argmax(y_pred) == argmax(y_true)`` (one-hot labels)."""
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    return jnp.equal(jnp.argmax(y_true, -1), jnp.argmax(y_pred, -1)).astype(jnp.float32)


def sparse_categorical_accuracy(y_true, y_pred) -> jax.Array:
    """1.0 where ``argmax(y_pred)`` equals the integer label."""
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    pred = jnp.argmax(y_pred, -1)
    return jnp.equal(y_true.astype(pred.dtype), pred).astype(jnp.float32)


class Metric(StatelessMetricMixin):
    """A streaming metric: running ``(total, count)`` reduced to a mean by `result`."""

    direction = "up"  # whether larger values are better (monitor callbacks' mode="auto")

    def __init__(self, name: str | None = None):
        self.name = name or type(self).__name__.lower()
        self._state = self.init()

    def init(self):
        """Return the zero state."""
        zero = to_device(np.zeros((), np.float32))  # from NumPy: no XLA compile
        return (zero, zero)

    def values(self, y_true, y_pred) -> jax.Array:
        """Per-sample values to average (subclasses override)."""
        raise NotImplementedError

    def update(self, state, y_true, y_pred, sample_weight=None, mask=None):
        """Pure update: return the new state after one batch."""
        vals = self.values(y_true, y_pred).astype(jnp.float32)
        w = jnp.ones_like(vals)
        for extra in (sample_weight, mask):
            if extra is not None:
                e = jnp.asarray(extra, jnp.float32)
                while e.ndim > vals.ndim and e.shape[-1] == 1:
                    e = e[..., 0]
                while e.ndim < vals.ndim:
                    e = e[..., None]
                w = w * e
        total, count = state
        return total + jnp.sum(vals * w), count + jnp.sum(w)

    def result_of(self, state) -> jax.Array:
        """Pure result of a state."""
        total, count = state
        return jnp.where(count > 0, total / jnp.where(count > 0, count, 1.0), 0.0)

    # stateful convenience, as keras.metrics
    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Accumulate one batch."""
        self._state = self.update(self._state, jnp.asarray(y_true), jnp.asarray(y_pred),
                                  sample_weight)

    def result(self):
        """Return the current value (an array for a metric with several thresholds)."""
        value = np.asarray(self.result_of(self._state))
        return float(value) if value.ndim == 0 else value

    def reset_state(self) -> None:
        """Forget all accumulated batches."""
        self._state = self.init()

    def get_config(self) -> dict:
        """Return the constructor arguments."""
        return {"name": self.name}


class Mean(Metric):
    """Weighted mean of the values given to `update_state` (Keras's ``Mean``)."""

    def update(self, state, values, y_pred=None, sample_weight=None, mask=None):
        """Accumulate raw values (the second argument is unused)."""
        values = jnp.asarray(values, jnp.float32)
        w = jnp.ones_like(values) if sample_weight is None else jnp.broadcast_to(
            jnp.asarray(sample_weight, jnp.float32), values.shape)
        total, count = state
        return total + jnp.sum(values * w), count + jnp.sum(w)

    def update_state(self, values, sample_weight=None) -> None:
        """Accumulate values."""
        self._state = self.update(self._state, values, None, sample_weight)


class BinaryAccuracy(Metric):
    """Fraction of entries where ``y_pred > threshold`` matches a 0/1 label."""

    def __init__(self, name: str = "binary_accuracy", threshold: float = 0.5):
        self.threshold = threshold
        super().__init__(name)

    def values(self, y_true, y_pred):
        """Per-sample values."""
        return binary_accuracy(y_true, y_pred, self.threshold)

    def get_config(self):
        """Return the constructor arguments."""
        return {"name": self.name, "threshold": self.threshold}


class CategoricalAccuracy(Metric):
    """Fraction of samples whose predicted argmax equals the one-hot label's."""

    def __init__(self, name: str = "categorical_accuracy"):
        super().__init__(name)

    def values(self, y_true, y_pred):
        """Per-sample values."""
        return categorical_accuracy(y_true, y_pred)


class SparseCategoricalAccuracy(Metric):
    """Fraction of samples whose predicted argmax equals the integer label."""

    def __init__(self, name: str = "sparse_categorical_accuracy"):
        super().__init__(name)

    def values(self, y_true, y_pred):
        """Per-sample values."""
        return sparse_categorical_accuracy(y_true, y_pred)


class MeanMetricWrapper(Metric):
    """Wrap ``fn(y_true, y_pred) -> per-sample values`` as a mean metric."""

    def __init__(self, fn, name: str | None = None, direction: str = "up"):
        self.fn, self.direction = fn, direction
        super().__init__(name or getattr(fn, "__name__", "metric"))

    def values(self, y_true, y_pred):
        """Per-sample values of ``fn``."""
        return self.fn(y_true, y_pred)


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean of ``|y_true - y_pred|`` (Keras's ``MeanAbsoluteError`` metric)."""

    def __init__(self, name: str = "mean_absolute_error"):
        super().__init__(losses_module.mean_absolute_error, name, direction="down")


class MeanSquaredError(MeanMetricWrapper):
    """Mean of ``(y_true - y_pred)**2`` (Keras's ``MeanSquaredError`` metric)."""

    def __init__(self, name: str = "mean_squared_error"):
        super().__init__(losses_module.mean_squared_error, name, direction="down")


def _entry_weights(y_pred, sample_weight, mask) -> jax.Array:
    """One weight per prediction entry: sample weight times mask, broadcast along trailing axes."""
    w = jnp.ones(y_pred.shape, jnp.float32)
    for extra in (sample_weight, mask):
        if extra is not None:
            e = jnp.asarray(extra, jnp.float32)
            while e.ndim > y_pred.ndim and e.shape[-1] == 1:
                e = e[..., 0]
            while e.ndim < y_pred.ndim:
                e = e[..., None]
            w = w * e
    return w


def _aligned_binary(y_true, y_pred):
    y_pred = jnp.asarray(y_pred, jnp.float32)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, jnp.asarray(y_true, jnp.float32))
    return jnp.broadcast_to((y_true != 0).astype(jnp.float32), y_pred.shape), y_pred


def _counts_by_comparison(y_true, y_pred, w, thresholds):
    """TP, FP, TN, FN per threshold with Keras's rule ``positive = y_pred > threshold``."""
    pos = (y_pred.reshape(1, -1) > thresholds[:, None]).astype(jnp.float32)  # (K, N)
    t, w = y_true.reshape(1, -1), w.reshape(1, -1)  # (1, N)
    tp = jnp.sum(pos * t * w, axis=1)  # (K,)
    fp = jnp.sum(pos * (1 - t) * w, axis=1)  # (K,)
    fn = jnp.sum((1 - pos) * t * w, axis=1)  # (K,)
    tn = jnp.sum((1 - pos) * (1 - t) * w, axis=1)  # (K,)
    return tp, fp, tn, fn


def _counts_by_bucket(y_true, y_pred, w, num_thresholds: int):
    """Keras's bucketed counting for evenly spaced thresholds (with epsilon end points)."""
    y_true, y_pred, w = y_true.reshape(-1), jnp.clip(y_pred.reshape(-1), 0.0, 1.0), w.reshape(-1)
    bucket = jnp.ceil(y_pred * jnp.float32(num_thresholds - 1)) - 1  # (N,)
    bucket = jnp.maximum(bucket, 0).astype(jnp.int32)
    true_w, false_w = y_true * w, (1.0 - y_true) * w  # (N,)
    tp_bucket = jax.ops.segment_sum(true_w, bucket, num_segments=num_thresholds)  # (K,)
    fp_bucket = jax.ops.segment_sum(false_w, bucket, num_segments=num_thresholds)  # (K,)
    tp = jnp.flip(jnp.cumsum(jnp.flip(tp_bucket)))  # (K,)
    fp = jnp.flip(jnp.cumsum(jnp.flip(fp_bucket)))  # (K,)
    return tp, fp, jnp.sum(false_w) - fp, jnp.sum(true_w) - tp


def _div(a, b):
    return jnp.where(b != 0, a / jnp.where(b != 0, b, 1.0), 0.0)


class _ConfusionMetric(Metric):
    """Base for metrics built on per-threshold TP/FP/TN/FN counts (state: a 4-tuple)."""

    _bucketed = False

    def init(self):
        """Zero counts, one per threshold."""
        zeros = to_device(np.zeros((len(self._thresholds),), np.float32))
        return (zeros, zeros, zeros, zeros)

    def _prepare(self, y_true, y_pred):
        return y_true, y_pred

    def update(self, state, y_true, y_pred, sample_weight=None, mask=None):
        """Add this batch's weighted counts."""
        y_true, y_pred = self._prepare(*_aligned_binary(y_true, y_pred))
        w = _entry_weights(y_pred, sample_weight, mask)
        if self._bucketed:
            counts = _counts_by_bucket(y_true, y_pred, w, len(self._thresholds))
        else:
            counts = _counts_by_comparison(
                y_true, y_pred, w, jnp.asarray(self._thresholds, jnp.float32))
        return tuple(a + b for a, b in zip(state, counts, strict=True))


class AUC(_ConfusionMetric):
    """Area under the ROC or precision-recall curve, as ``keras.metrics.AUC``.

    Predictions are compared with ``num_thresholds`` evenly spaced thresholds (plus ``-1e-7``
    and ``1 + 1e-7`` end points); the area is summed with Keras's interpolation (for PR, its
    closed-form interpolation of precision). Labels and predictions are flattened into one
    binary problem.

    Args:
        num_thresholds: number of thresholds (> 1; default 200).
        curve: ``"ROC"`` or ``"PR"``.
        summation_method: ``"interpolation"``, ``"minoring"`` or ``"majoring"``.
        name: metric name.
        thresholds: explicit thresholds in [0, 1] instead of evenly spaced ones.
        from_logits: apply a sigmoid to the predictions first.

    Example:
        >>> import numpy as np
        >>> from unrolled import metrics
        >>> auc = metrics.AUC()
        >>> auc.update_state(np.array([0, 1, 1, 0]), np.array([0.1, 0.8, 0.6, 0.3]))
        >>> auc.result()
        1.0

    """

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC",
                 summation_method: str = "interpolation", name: str = "auc", thresholds=None,
                 multi_label: bool = False, from_logits: bool = False):
        if multi_label:
            raise ValueError("AUC(multi_label=True) is not supported by unrolled; use the "
                             "default multi_label=False (all entries form one binary problem).")
        if str(curve).upper() not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR'; received {curve!r}.")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError("AUC: summation_method must be 'interpolation', 'minoring' or "
                             f"'majoring'; received {summation_method!r}.")
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            evenly = _evenly_spaced([0.0, *inner, 1.0])
        else:
            if not isinstance(num_thresholds, int) or num_thresholds <= 1:
                raise ValueError("AUC: num_thresholds must be an integer > 1; received "
                                 f"{num_thresholds!r}.")
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            evenly = True
        self._thresholds = [0.0 - 1e-7, *inner, 1.0 + 1e-7]
        self.num_thresholds = len(self._thresholds)
        self._bucketed = evenly
        self.curve, self.summation_method = str(curve).upper(), summation_method
        self.from_logits = from_logits
        super().__init__(name)

    @property
    def thresholds(self) -> list[float]:
        """The thresholds, end points included."""
        return list(self._thresholds)

    def _prepare(self, y_true, y_pred):
        return y_true, (jax.nn.sigmoid(y_pred) if self.from_logits else y_pred)

    def result_of(self, state):
        """Return the area under the curve for accumulated counts."""
        tp, fp, tn, fn = state
        if self.curve == "PR" and self.summation_method == "interpolation":
            return _interpolated_pr_auc(tp, fp, fn)
        recall = _div(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _div(fp, fp + tn), recall
        else:
            x, y = recall, _div(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = jnp.minimum(y[:-1], y[1:])
        else:
            heights = jnp.maximum(y[:-1], y[1:])
        return jnp.sum((x[:-1] - x[1:]) * heights)

    def get_config(self):
        """Return the constructor arguments."""
        return {"name": self.name, "num_thresholds": self.num_thresholds, "curve": self.curve,
                "summation_method": self.summation_method, "from_logits": self.from_logits}


def _evenly_spaced(values) -> bool:
    n = len(values)
    return n >= 3 and bool(np.allclose(values, np.arange(n, dtype=np.float32) / (n - 1),
                                       atol=1e-7))


def _interpolated_pr_auc(tp, fp, fn):
    """Keras's closed-form interpolation of precision between thresholds (Davis & Goadrich)."""
    dtp = tp[:-1] - tp[1:]  # (K-1,)
    p = tp + fp  # (K,)
    dp = p[:-1] - p[1:]  # (K-1,)
    slope = _div(dtp, jnp.maximum(dp, 0))  # (K-1,)
    intercept = tp[1:] - slope * p[1:]  # (K-1,)
    ratio = jnp.where((p[:-1] > 0) & (p[1:] > 0), _div(p[:-1], jnp.maximum(p[1:], 0)), 1.0)
    increments = _div(slope * (dtp + intercept * jnp.log(ratio)),
                      jnp.maximum(tp[1:] + fn[1:], 0))  # (K-1,)
    return jnp.sum(increments)


class _ThresholdMetric(_ConfusionMetric):
    def __init__(self, thresholds=None, class_id: int | None = None, name: str | None = None):
        values = [0.5] if thresholds is None else (
            [float(thresholds)] if isinstance(thresholds, (int, float)) else
            [float(t) for t in thresholds])
        if not values or not all(0.0 <= t <= 1.0 for t in values):
            raise ValueError(f"{type(self).__name__}: thresholds must lie in [0, 1]; received "
                             f"{thresholds!r}.")
        self._thresholds, self.thresholds, self.class_id = values, thresholds, class_id
        super().__init__(name)

    def _prepare(self, y_true, y_pred):
        if self.class_id is None:
            return y_true, y_pred
        return y_true[..., self.class_id, None], y_pred[..., self.class_id, None]

    def _ratio(self, numerator, denominator):
        value = _div(numerator, denominator)
        return value[0] if len(self._thresholds) == 1 else value

    def get_config(self):
        """Return the constructor arguments."""
        return {"name": self.name, "thresholds": self.thresholds, "class_id": self.class_id}


class Precision(_ThresholdMetric):
    """``tp / (tp + fp)`` with ``y_pred > threshold`` as a positive, as ``keras.metrics.Precision``.

    Args:
        thresholds: a float or list of floats in [0, 1] (default 0.5); a list gives one value
            per threshold.
        class_id: compute the metric for this column only.
        name: metric name.

    Example:
        >>> import numpy as np
        >>> from unrolled import metrics
        >>> m = metrics.Precision()
        >>> m.update_state(np.array([0, 1, 1, 1]), np.array([1.0, 1.0, 1.0, 0.0]))
        >>> round(m.result(), 4)
        0.6667

    """

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="precision"):
        if top_k is not None:
            raise ValueError("Precision(top_k=...) is not supported by unrolled; leave it None.")
        super().__init__(thresholds, class_id, name)

    def result_of(self, state):
        """Precision for accumulated counts."""
        tp, fp, _, _ = state
        return self._ratio(tp, tp + fp)


class Recall(_ThresholdMetric):
    """``tp / (tp + fn)`` with ``y_pred > threshold`` as a positive, as ``keras.metrics.Recall``.

    Args:
        thresholds: a float or list of floats in [0, 1] (default 0.5).
        class_id: compute the metric for this column only.
        name: metric name.

    Example:
        >>> import numpy as np
        >>> from unrolled import metrics
        >>> m = metrics.Recall()
        >>> m.update_state(np.array([0, 1, 1, 1]), np.array([1.0, 0.0, 1.0, 1.0]))
        >>> round(m.result(), 4)
        0.6667

    """

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="recall"):
        if top_k is not None:
            raise ValueError("Recall(top_k=...) is not supported by unrolled; leave it None.")
        super().__init__(thresholds, class_id, name)

    def result_of(self, state):
        """Recall for accumulated counts."""
        tp, _, _, fn = state
        return self._ratio(tp, tp + fn)


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "auc": AUC, "precision": Precision, "recall": Recall,
}
_CLASSES = {cls.__name__: cls for cls in (
    BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, MeanAbsoluteError,
    MeanSquaredError, AUC, Precision, Recall)}
_FUNCTIONS = {binary_accuracy: BinaryAccuracy, categorical_accuracy: CategoricalAccuracy,
              sparse_categorical_accuracy: SparseCategoricalAccuracy,
              losses_module.mean_absolute_error: MeanAbsoluteError,
              losses_module.mean_squared_error: MeanSquaredError}
object_registration.register_all("metrics", {**_BY_NAME, **_CLASSES, "Mean": Mean})
_ALTERNATIVES = ", a Metric instance or a function fn(y_true, y_pred)"


def names() -> list[str]:
    """Metric names `get` accepts (``"accuracy"`` and ``"acc"`` resolve by shape)."""
    return sorted([*object_registration.names("metrics"), "accuracy", "acc"])


def resolve(identifier, y_true_shape, y_pred_shape, loss_name: str | None = None) -> Metric:
    """Turn a metric identifier into a `Metric`, applying Keras 3's rule for ``"accuracy"``.

    A metric named by a string reports under that string (``"mae"`` logs as ``mae``), as Keras.

    Args:
        identifier: a name, a `Metric` or a function ``fn(y_true, y_pred)``.
        y_true_shape: shape of one batch of labels.
        y_pred_shape: shape of one batch of predictions.
        loss_name: the compiled loss's name, to warn when ``"accuracy"`` meets
            binary cross-entropy on a multi-column output.

    Raises:
        ValueError: for an unknown name.

    """
    if isinstance(identifier, Metric):
        return identifier
    if identifier in ("accuracy", "acc"):
        t_rank, p_rank = len(y_true_shape), len(y_pred_shape)
        t_last, p_last = y_true_shape[-1], y_pred_shape[-1]
        if p_last == 1:
            return BinaryAccuracy(name=identifier)
        if t_rank < p_rank or (t_last == 1 and p_last > 1):
            chosen = SparseCategoricalAccuracy(name=identifier)
        else:
            chosen = CategoricalAccuracy(name=identifier)
        if loss_name == "binary_crossentropy":
            warnings.warn(
                f"metrics=['{identifier}'] with binary_crossentropy on a {p_last}-column output "
                f"resolves, by Keras 3's shape rule, to {chosen.__class__.__name__} (argmax "
                f"over the columns), not to per-column binary accuracy. Pass "
                f"metrics=['binary_accuracy'] for the fraction of columns right at threshold "
                f"0.5, or metrics=['categorical_accuracy'] to keep this choice silently.",
                UserWarning, stacklevel=4,
            )
        return chosen
    if isinstance(identifier, str):
        cls = object_registration.get_registered_object(
            "metrics", identifier, listed=names(), alternatives=_ALTERNATIVES)
        return cls(name=identifier)
    if callable(identifier):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]()
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Could not interpret metric {identifier!r}.")


def get(identifier) -> Metric:
    """Resolve a metric from a name, an instance or a function (``"accuracy"`` needs shapes).

    Raises:
        ValueError: for an unknown name, or ``"accuracy"`` (use `resolve`).

    """
    if identifier in ("accuracy", "acc"):
        raise ValueError("'accuracy' depends on the label and output shapes; compile the model "
                         "with it, or pick BinaryAccuracy/CategoricalAccuracy/"
                         "SparseCategoricalAccuracy.")
    return resolve(identifier, (None, 1), (None, 1))


def check_name(identifier) -> None:
    """Fail fast (at compile) on an unknown metric name."""
    if isinstance(identifier, str) and identifier not in names():
        raise object_registration.unknown_name_error("metrics", identifier, names(),
                                                     _ALTERNATIVES)
