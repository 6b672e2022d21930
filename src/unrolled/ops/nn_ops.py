"""Keras-style ``ops`` activations and neural-network helpers (``keras.ops.nn``) on JAX arrays.

Same names, arguments and defaults as ``keras.ops`` (e.g. ``leaky_relu``'s slope 0.2 and
``gelu``'s ``approximate=True``, both unlike ``jax.nn``); layer `Variable`s are accepted.

Example:
    >>> from unrolled import ops
    >>> [round(float(v), 3) for v in ops.softmax(ops.convert_to_tensor([0.0, 1.0]))]
    [0.269, 0.731]

"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from unrolled.ops.numpy_ops import _unwrap, _wrap

relu6 = _wrap(jax.nn.relu6)
softplus = _wrap(jax.nn.softplus)
softsign = _wrap(jax.nn.soft_sign)
silu = _wrap(jax.nn.silu)
swish = silu
log_sigmoid = _wrap(jax.nn.log_sigmoid)
hard_sigmoid = _wrap(jax.nn.hard_sigmoid)
hard_silu = _wrap(jax.nn.hard_silu)
hard_swish = hard_silu
selu = _wrap(jax.nn.selu)
erf = _wrap(jax.scipy.special.erf)
logsumexp = _wrap(jax.scipy.special.logsumexp)
rsqrt = _wrap(jax.lax.rsqrt)


def leaky_relu(x, negative_slope: float = 0.2):
    """Return ``x`` where positive, ``negative_slope * x`` elsewhere (Keras's default 0.2)."""
    return jax.nn.leaky_relu(_unwrap(x), negative_slope=negative_slope)


def elu(x, alpha: float = 1.0):
    """Return the exponential linear unit of ``x``."""
    return jax.nn.elu(_unwrap(x), alpha=alpha)


def gelu(x, approximate: bool = True):
    """Return the Gaussian error linear unit of ``x`` (tanh approximation by default, as Keras)."""
    return jax.nn.gelu(_unwrap(x), approximate=approximate)


def log_softmax(x, axis: int = -1):
    """Return ``log(softmax(x))`` along ``axis``, computed stably."""
    return jax.nn.log_softmax(_unwrap(x), axis=axis)


def one_hot(x, num_classes: int, axis: int = -1, dtype=None, sparse: bool = False):
    """Return integer labels ``x`` as one-hot vectors of length ``num_classes`` (float32)."""
    if sparse:
        raise ValueError("one_hot: sparse=True needs sparse tensors, which unrolled does not "
                         "have; leave sparse=False for a dense one-hot array.")
    return jax.nn.one_hot(_unwrap(x), num_classes, dtype=dtype or jnp.float32, axis=axis)


def top_k(x, k: int, sorted: bool = True):  # noqa: A002 - keras.ops argument name
    """Return ``(values, indices)`` of the ``k`` largest entries along the last axis."""
    return jax.lax.top_k(_unwrap(x), k)


def norm(x, ord=None, axis=None, keepdims: bool = False):  # noqa: A002 - keras.ops name
    """Return the vector or matrix norm of ``x`` (``numpy.linalg.norm``'s arguments)."""
    return jnp.linalg.norm(_unwrap(x), ord=ord, axis=axis, keepdims=keepdims)


def conv(inputs, kernel, strides=1, padding: str = "valid", data_format=None, dilation_rate=1):
    """Return the N-D convolution of channels-last ``inputs`` with ``kernel`` (``(*k, in, out)``).

    ``padding`` is ``"valid"`` or ``"same"``; ``strides`` and ``dilation_rate`` an int or one per
    spatial axis. A kernel with fewer input channels than ``inputs`` makes a grouped convolution.

    Raises:
        ValueError: for ``data_format="channels_first"`` or an unknown padding.

    """
    x, k = jnp.asarray(_unwrap(inputs)), jnp.asarray(_unwrap(kernel))
    if data_format not in (None, "channels_last"):
        raise ValueError(f"conv: unrolled is channels-last; received data_format={data_format!r}. "
                         "Transpose the input to (batch, *spatial, channels).")
    if str(padding).lower() not in ("valid", "same"):
        raise ValueError(f"conv: padding must be 'valid' or 'same'; received {padding!r}.")
    n = x.ndim - 2
    spatial = "DHW"[-n:] if n <= 3 else None
    if spatial is None or k.ndim != n + 2:
        raise ValueError(f"conv: expected 1-3 spatial axes with a kernel of rank {x.ndim}; "
                         f"received inputs {x.shape} and kernel {k.shape}.")

    def per_axis(v):
        return (v,) * n if isinstance(v, int) else tuple(v)

    return jax.lax.conv_general_dilated(
        x, k, window_strides=per_axis(strides), padding=str(padding).upper(),
        rhs_dilation=per_axis(dilation_rate),
        dimension_numbers=(f"N{spatial}C", f"{spatial}IO", f"N{spatial}C"),
        feature_group_count=x.shape[-1] // k.shape[-2])
