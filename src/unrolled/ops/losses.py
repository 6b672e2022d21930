"""Per-sample loss functions as Keras 3 computes them, and Keras's weighted reduction."""

from __future__ import annotations

import jax
import jax.numpy as jnp

EPSILON = 1e-7  # keras.config.epsilon()


def binary_crossentropy(
    y_true: jax.Array,
    y_pred: jax.Array,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> jax.Array:
    """Binary cross-entropy averaged over ``axis``; probabilities clipped to [1e-7, 1 - 1e-7].

    Returns:
        Losses with ``axis`` reduced, e.g. ``(B,)`` for ``(B, C)`` inputs.

    """
    y_true = y_true.astype(y_pred.dtype)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        bce = -y_true * jax.nn.log_sigmoid(y_pred) - (1.0 - y_true) * jax.nn.log_sigmoid(-y_pred)
    else:
        p = jnp.clip(y_pred, EPSILON, 1.0 - EPSILON)
        bce = y_true * jnp.log(p)
        bce = -(bce + (1.0 - y_true) * jnp.log(1.0 - p))
    return jnp.mean(bce, axis=axis)


def weighted_mean(
    values: jax.Array,
    sample_weight: jax.Array | None = None,
    mask: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Keras's ``sum_over_batch_size`` reduction, split as ``(numerator, denominator)``.

    Without a mask the denominator is the number of loss entries; with a mask it is the number
    of unmasked entries (Keras reweights valid entries by ``total / valid``). ``sample_weight``
    scales entries without changing the denominator. Zero sample weights (e.g. the rows that pad
    a last partial batch) are excluded through ``mask``.

    Returns:
        ``(sum of weighted losses, count)``; the loss is their quotient.

    """
    weight = jnp.ones_like(values)
    if sample_weight is not None:
        weight = weight * _to_rank(sample_weight.astype(values.dtype), values.ndim)
    if mask is None:
        count = jnp.asarray(values.size, values.dtype)
    else:
        m = jnp.broadcast_to(_to_rank(mask.astype(values.dtype), values.ndim), values.shape)
        weight = weight * m
        count = jnp.sum(m)
    return jnp.sum(values * weight), count


def _to_rank(w: jax.Array, ndim: int) -> jax.Array:
    while w.ndim < ndim:
        w = w[..., None]
    while w.ndim > ndim and w.shape[-1] == 1:
        w = w[..., 0]
    return w
