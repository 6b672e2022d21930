"""Metrics as Keras 3 computes them, usable statefully (``update_state``/``result``) or as pure
``init``/``update``/``result`` functions inside a jitted step.

``"accuracy"`` resolves by Keras 3's shape rule (`resolve`): one output column -> binary accuracy;
integer labels (lower rank, or one label column against several outputs) -> sparse categorical;
otherwise categorical.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp

from unrolled.training.losses import squeeze_or_expand_to_same_rank


def binary_accuracy(y_true, y_pred, threshold: float = 0.5) -> jax.Array:
    """Per-sample fraction of entries where ``y_pred > threshold`` equals the label."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(jnp.asarray(y_true), jnp.asarray(y_pred))
    hit = jnp.equal(y_true.astype(jnp.float32), (y_pred > threshold).astype(jnp.float32))
    return jnp.mean(hit.astype(jnp.float32), axis=-1)


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


class Metric:
    """A streaming metric: running ``(total, count)`` reduced to a mean by `result`."""

    def __init__(self, name: str | None = None):
        self.name = name or type(self).__name__.lower()
        self._state = self.init()

    def init(self):
        """Return the zero state."""
        return (jnp.zeros((), jnp.float32), jnp.zeros((), jnp.float32))

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

    def result(self) -> float:
        """Current value."""
        return float(self.result_of(self._state))

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
        return binary_accuracy(y_true, y_pred, self.threshold)

    def get_config(self):
        return {"name": self.name, "threshold": self.threshold}


class CategoricalAccuracy(Metric):
    """Fraction of samples whose predicted argmax equals the one-hot label's."""

    def __init__(self, name: str = "categorical_accuracy"):
        super().__init__(name)

    def values(self, y_true, y_pred):
        return categorical_accuracy(y_true, y_pred)


class SparseCategoricalAccuracy(Metric):
    """Fraction of samples whose predicted argmax equals the integer label."""

    def __init__(self, name: str = "sparse_categorical_accuracy"):
        super().__init__(name)

    def values(self, y_true, y_pred):
        return sparse_categorical_accuracy(y_true, y_pred)


class MeanMetricWrapper(Metric):
    """Wrap ``fn(y_true, y_pred) -> per-sample values`` as a mean metric."""

    def __init__(self, fn, name: str | None = None):
        self.fn = fn
        super().__init__(name or getattr(fn, "__name__", "metric"))

    def values(self, y_true, y_pred):
        return self.fn(y_true, y_pred)


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
}
_FUNCTIONS = {binary_accuracy: BinaryAccuracy, categorical_accuracy: CategoricalAccuracy,
              sparse_categorical_accuracy: SparseCategoricalAccuracy}


def names() -> list[str]:
    """Metric names `get` accepts."""
    return sorted([*_BY_NAME, "accuracy", "acc"])


def resolve(identifier, y_true_shape, y_pred_shape, loss_name: str | None = None) -> Metric:
    """Turn a metric identifier into a `Metric`, applying Keras 3's rule for ``"accuracy"``.

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
        if identifier in _BY_NAME:
            return _BY_NAME[identifier]()
        raise ValueError(
            f"Unknown metric {identifier!r}. Expected one of {names()}, a Metric instance or a "
            "function fn(y_true, y_pred)."
        )
    if callable(identifier):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]()
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Could not interpret metric {identifier!r}.")


def check_name(identifier) -> None:
    """Fail fast (at compile) on an unknown metric name."""
    if isinstance(identifier, str) and identifier not in names():
        raise ValueError(
            f"Unknown metric {identifier!r}. Expected one of {names()}, a Metric instance or a "
            "function fn(y_true, y_pred)."
        )
