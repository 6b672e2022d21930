"""Loss functions and objects with Keras 3 names, formulas and reduction.

Every function returns unreduced per-sample (or per-step) values with the class axis averaged or
summed away, exactly as ``keras.losses.<name>``; the classes reduce them with Keras's
``sum_over_batch_size`` (`ops.losses.weighted_mean`, mask-aware). Labels and predictions are
first aligned with Keras's rank rule (`squeeze_or_expand_to_same_rank`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from unrolled.ops import losses as ops_losses
from unrolled.saving import object_registration

EPSILON = ops_losses.EPSILON


def squeeze_or_expand_to_same_rank(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Keras's rank alignment: drop or add a trailing unit axis so ``a`` and ``b`` match."""
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        if b.ndim == 1:
            b = b[..., None]
        else:
            a = a[..., 0]
    elif b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        if a.ndim == 1:
            a = a[..., None]
        else:
            b = b[..., 0]
    return a, b


def _aligned(y_true, y_pred) -> tuple[jax.Array, jax.Array]:
    y_pred = jnp.asarray(y_pred, jnp.float32)
    y_true = jnp.asarray(y_true, jnp.float32)
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


def _same_shape(name: str, y_true, y_pred, hint: str = "") -> None:
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{name} needs labels shaped like the predictions: received labels of shape "
            f"{tuple(y_true.shape)} and predictions of shape {tuple(y_pred.shape)}.{hint}"
        )


def binary_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0,
                        axis: int = -1) -> jax.Array:
    """Per-sample binary cross-entropy, as ``keras.losses.binary_crossentropy``.

    Probabilities are clipped to ``[1e-7, 1 - 1e-7]``; with ``from_logits=True`` the stable
    log-sigmoid form is used. The mean is taken over ``axis``.

    Example:
        >>> import numpy as np
        >>> from unrolled import losses
        >>> float(losses.binary_crossentropy(np.array([1.0]), np.array([0.5]))[()])
        0.693147...

    """
    y_true, y_pred = _aligned(y_true, y_pred)
    _same_shape("binary_crossentropy", y_true, y_pred)
    return ops_losses.binary_crossentropy(y_true, y_pred, from_logits, label_smoothing, axis)


def _log_probs(y_pred: jax.Array, from_logits: bool, axis: int) -> jax.Array:
    if from_logits:
        return jax.nn.log_softmax(y_pred, axis=axis)
    p = y_pred / jnp.sum(y_pred, axis, keepdims=True)  # renormalised like Keras
    return jnp.log(jnp.clip(p, EPSILON, 1.0 - EPSILON))


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> jax.Array:
    """Cross-entropy between one-hot labels and a probability (or logit) vector.

    As ``keras.losses.categorical_crossentropy``: probabilities are renormalised to sum to 1 and
    clipped to ``[1e-7, 1 - 1e-7]``; ``label_smoothing`` replaces the labels with
    ``y * (1 - s) + s / num_classes``.

    Returns:
        Losses with ``axis`` summed away, e.g. ``(B,)`` for ``(B, C)`` inputs.

    Example:
        >>> import numpy as np
        >>> from unrolled import losses
        >>> float(losses.categorical_crossentropy(np.array([[0., 1.]]), np.array([[.5, .5]]))[0])
        0.693147...

    """
    y_pred = jnp.asarray(y_pred, jnp.float32)
    y_true = jnp.asarray(y_true, jnp.float32)
    _same_shape("categorical_crossentropy", y_true, y_pred,
                " For integer class labels use sparse_categorical_crossentropy.")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    return -jnp.sum(y_true * _log_probs(y_pred, from_logits, axis), axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False,
                                    ignore_class: int | None = None,
                                    axis: int = -1) -> jax.Array:
    """Cross-entropy between integer class labels and a probability (or logit) vector.

    Labels have the prediction's shape without the class axis (a trailing axis of size 1 is
    squeezed). With ``ignore_class`` the entries with that label contribute 0 (and `Loss`
    objects leave them out of the mean, as Keras does).

    Example:
        >>> import numpy as np
        >>> from unrolled import losses
        >>> float(losses.sparse_categorical_crossentropy(np.array([1]), np.array([[.5, .5]]))[0])
        0.693147...

    """
    y_pred = jnp.asarray(y_pred, jnp.float32)
    y_true = jnp.asarray(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = jnp.squeeze(y_true, axis=axis)
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError(
            f"sparse_categorical_crossentropy needs integer labels shaped like the predictions "
            f"without their class axis: predictions of shape {tuple(y_pred.shape)} need labels "
            f"of shape {tuple(y_pred.shape[:-1])} (or with a trailing 1), but received labels "
            f"of shape {tuple(y_true.shape)}. For one-hot labels use categorical_crossentropy."
        )
    valid = None
    if ignore_class is not None:
        valid = y_true != ignore_class  # (...)
        y_true = jnp.where(valid, y_true, 0)
        y_pred = jnp.where(valid[..., None], y_pred, 0.0)
    one_hot = jax.nn.one_hot(y_true.astype(jnp.int32), y_pred.shape[axis], axis=axis)
    res = -jnp.sum(one_hot * _log_probs(y_pred, from_logits, axis), axis=axis)
    return res if valid is None else jnp.where(valid, res, 0.0)


def mean_squared_error(y_true, y_pred) -> jax.Array:
    """``mean((y_true - y_pred)**2, axis=-1)`` after Keras's rank alignment."""
    y_true, y_pred = _aligned(y_true, y_pred)
    return jnp.mean(jnp.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred) -> jax.Array:
    """``mean(|y_true - y_pred|, axis=-1)`` after Keras's rank alignment."""
    y_true, y_pred = _aligned(y_true, y_pred)
    return jnp.mean(jnp.abs(y_true - y_pred), axis=-1)


def huber(y_true, y_pred, delta: float = 1.0) -> jax.Array:
    """Huber loss: quadratic for ``|error| <= delta``, linear beyond; mean over the last axis."""
    y_true, y_pred = _aligned(y_true, y_pred)
    error = y_pred - y_true
    abs_error = jnp.abs(error)
    delta = jnp.float32(delta)
    values = jnp.where(abs_error <= delta, 0.5 * jnp.square(error),
                       delta * abs_error - 0.5 * jnp.square(delta))
    return jnp.mean(values, axis=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


class Loss:
    """Base class: ``loss(y_true, y_pred, sample_weight=None)`` -> scalar.

    Subclasses implement `call`, the unreduced loss; `loss_mask` may exclude entries from the
    mean (Keras's ``ignore_class``).
    """

    sparse_labels = False

    def __init__(self, name: str | None = None, reduction: str = "sum_over_batch_size"):
        if reduction not in ("sum_over_batch_size", "mean"):
            raise ValueError(
                f"unrolled supports reduction='sum_over_batch_size' (Keras's default); received "
                f"{reduction!r}."
            )
        self.name = name
        self.reduction = reduction

    def call(self, y_true, y_pred) -> jax.Array:
        """Return the unreduced loss values."""
        raise NotImplementedError

    def loss_mask(self, y_true, y_pred) -> jax.Array | None:
        """Boolean mask shaped like `call`'s output, or None (every entry counts)."""
        return None

    def __call__(self, y_true, y_pred, sample_weight=None, mask=None) -> jax.Array:
        """Return the reduced (scalar) loss: weighted mean over the valid entries."""
        values = self.call(jnp.asarray(y_true), jnp.asarray(y_pred))
        own = self.loss_mask(jnp.asarray(y_true), jnp.asarray(y_pred))
        if own is not None:
            mask = own if mask is None else jnp.asarray(mask) & own
        num, den = ops_losses.weighted_mean(
            values, None if sample_weight is None else jnp.asarray(sample_weight),
            None if mask is None else jnp.asarray(mask))
        return jnp.where(den > 0, num / jnp.where(den > 0, den, 1), 0.0)

    def get_config(self) -> dict:
        """Return the constructor arguments."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        """Recreate the loss from `get_config`'s output."""
        return cls(**config)


class LossFunctionWrapper(Loss):
    """Wrap a function ``fn(y_true, y_pred, **kwargs) -> per-sample losses`` as a `Loss`."""

    def __init__(self, fn, name: str | None = None, reduction: str = "sum_over_batch_size",
                 **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction)
        self.fn, self.kwargs = fn, kwargs

    def call(self, y_true, y_pred):
        """Return the wrapped function's unreduced values."""
        return self.fn(y_true, y_pred, **self.kwargs)

    def get_config(self):
        """Return the constructor arguments."""
        return {**super().get_config(), **self.kwargs}


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary cross-entropy between labels in [0, 1] and probabilities (or logits).

    Args:
        from_logits: whether ``y_pred`` are logits rather than probabilities.
        label_smoothing: squeeze labels towards 0.5 by this amount.
        axis: the axis averaged per sample.

    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str = "sum_over_batch_size", name: str = "binary_crossentropy"):
        _check_smoothing(label_smoothing)
        super().__init__(binary_crossentropy, name, reduction, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class CategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for one-hot labels (`categorical_crossentropy`).

    Args:
        from_logits: whether ``y_pred`` are logits rather than probabilities.
        label_smoothing: mix the one-hot labels with the uniform distribution by this amount.
        axis: the class axis.

    Example:
        >>> import numpy as np
        >>> from unrolled import losses
        >>> float(losses.CategoricalCrossentropy()(np.eye(2), np.full((2, 2), .5)))
        0.693147...

    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str = "sum_over_batch_size", name: str = "categorical_crossentropy"):
        _check_smoothing(label_smoothing)
        super().__init__(categorical_crossentropy, name, reduction, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for integer class labels (`sparse_categorical_crossentropy`).

    Args:
        from_logits: whether ``y_pred`` are logits rather than probabilities.
        ignore_class: a label value whose entries are left out of the loss and its mean.
        axis: the class axis.

    Example:
        >>> import numpy as np
        >>> from unrolled import losses
        >>> float(losses.SparseCategoricalCrossentropy()(np.array([0, 1]), np.full((2, 2), .5)))
        0.693147...

    """

    sparse_labels = True

    def __init__(self, from_logits: bool = False, ignore_class: int | None = None,
                 axis: int = -1, reduction: str = "sum_over_batch_size",
                 name: str = "sparse_categorical_crossentropy"):
        super().__init__(sparse_categorical_crossentropy, name, reduction,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)

    def loss_mask(self, y_true, y_pred):
        """Entries whose label is not ``ignore_class`` (None without one)."""
        ignore = self.kwargs["ignore_class"]
        if ignore is None:
            return None
        y_true = jnp.asarray(y_true)
        if y_true.ndim == jnp.ndim(y_pred) and y_true.shape[-1] == 1:
            y_true = y_true[..., 0]
        return y_true != ignore


class MeanSquaredError(LossFunctionWrapper):
    """Mean of squared errors over the last axis (`mean_squared_error`)."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "mean_squared_error"):
        super().__init__(mean_squared_error, name, reduction)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors over the last axis (`mean_absolute_error`)."""

    def __init__(self, reduction: str = "sum_over_batch_size",
                 name: str = "mean_absolute_error"):
        super().__init__(mean_absolute_error, name, reduction)


class Huber(LossFunctionWrapper):
    """Huber loss (`huber`): quadratic below ``delta``, linear above.

    Args:
        delta: the error size where the loss turns linear (positive).

    """

    def __init__(self, delta: float = 1.0, reduction: str = "sum_over_batch_size",
                 name: str = "huber_loss"):
        if not delta > 0:
            raise ValueError(f"Huber: `delta` must be positive; received delta={delta!r}.")
        super().__init__(huber, name, reduction, delta=delta)


def _check_smoothing(value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"`label_smoothing` must be in [0, 1]; received {value!r}.")


_BY_NAME = {
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber,
}
_CLASSES = (BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
            MeanSquaredError, MeanAbsoluteError, Huber)
_BY_NAME.update({cls.__name__: cls for cls in _CLASSES})
_FUNCTIONS = {binary_crossentropy: BinaryCrossentropy,
              categorical_crossentropy: CategoricalCrossentropy,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
              mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
              huber: Huber}
object_registration.register_all("losses", _BY_NAME)


def names() -> list[str]:
    """Loss names `get` accepts."""
    return [k for k in object_registration.names("losses") if k.islower()]


def get(identifier, custom_objects: dict | None = None) -> Loss:
    """Resolve a loss from a name, an instance, a config dict or a function.

    Raises:
        ValueError: for an unknown name, listing the valid ones and the closest.

    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        return object_registration.get_registered_object(
            "losses", identifier, custom_objects, listed=names(),
            alternatives=", a Loss instance or a function fn(y_true, y_pred)")()
    if isinstance(identifier, dict) and object_registration.find(
            "losses", identifier.get("class_name"), custom_objects) is not None:
        cls = object_registration.find("losses", identifier["class_name"], custom_objects)
        return cls(**dict(identifier.get("config", {})))
    if callable(identifier):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]()
        return LossFunctionWrapper(identifier)
    raise ValueError(f"Could not interpret loss {identifier!r}: expected one of {names()}, a "
                     "Loss or a function.")
