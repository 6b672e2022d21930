"""Loss objects with Keras 3 names and reduction (``sum_over_batch_size``, mask-aware)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from unrolled.ops import losses as ops_losses


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
    y_pred = jnp.asarray(y_pred, jnp.float32)
    y_true = jnp.asarray(y_true, jnp.float32)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"binary_crossentropy needs labels shaped like the predictions: received labels "
            f"of shape {tuple(y_true.shape)} and predictions of shape {tuple(y_pred.shape)}."
        )
    return ops_losses.binary_crossentropy(y_true, y_pred, from_logits, label_smoothing, axis)


class Loss:
    """Base class: ``loss(y_true, y_pred, sample_weight=None)`` -> scalar.

    Subclasses implement `call`, the per-sample (or per-step) loss.
    """

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

    def __call__(self, y_true, y_pred, sample_weight=None, mask=None) -> jax.Array:
        values = self.call(jnp.asarray(y_true), jnp.asarray(y_pred))
        num, den = ops_losses.weighted_mean(
            values, None if sample_weight is None else jnp.asarray(sample_weight),
            None if mask is None else jnp.asarray(mask))
        return jnp.where(den > 0, num / jnp.where(den > 0, den, 1), 0.0)

    def get_config(self) -> dict:
        """Return the constructor arguments."""
        return {"name": self.name, "reduction": self.reduction}


class BinaryCrossentropy(Loss):
    """Binary cross-entropy between labels in [0, 1] and predicted probabilities (or logits).

    Args:
        from_logits: whether ``y_pred`` are logits rather than probabilities.
        label_smoothing: squeeze labels towards 0.5 by this amount.
        axis: the axis averaged per sample.
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str = "sum_over_batch_size", name: str = "binary_crossentropy"):
        super().__init__(name=name, reduction=reduction)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def call(self, y_true, y_pred):
        return binary_crossentropy(y_true, y_pred, self.from_logits, self.label_smoothing,
                                   self.axis)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class LossFunctionWrapper(Loss):
    """Wrap a function ``fn(y_true, y_pred) -> per-sample losses`` as a `Loss`."""

    def __init__(self, fn, name: str | None = None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "loss"))
        self.fn, self.kwargs = fn, kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.kwargs)


_BY_NAME = {"binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
            "BinaryCrossentropy": BinaryCrossentropy}


def get(identifier) -> Loss:
    """Resolve a loss from a name, an instance, a config dict or a function.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier in _BY_NAME:
            return _BY_NAME[identifier]()
        raise ValueError(
            f"Unknown loss {identifier!r}. Expected one of "
            f"{sorted(k for k in _BY_NAME if k.islower())}, a Loss instance or a function "
            "fn(y_true, y_pred)."
        )
    if isinstance(identifier, dict) and identifier.get("class_name") in _BY_NAME:
        cfg = dict(identifier.get("config", {}))
        return _BY_NAME[identifier["class_name"]](**cfg)
    if callable(identifier):
        if identifier is binary_crossentropy:
            return BinaryCrossentropy()
        return LossFunctionWrapper(identifier)
    raise ValueError(f"Could not interpret loss {identifier!r}: expected a name, a Loss or a "
                     "function.")
