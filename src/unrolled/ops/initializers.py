"""Initializer maths as Keras 3 defines it: pure functions of a PRNG key and a shape."""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from unrolled.ops.compile import jit, to_device

Shape = tuple[int, ...]


def compute_fans(shape: Shape) -> tuple[int, int]:
    """Return Keras's ``(fan_in, fan_out)`` for a weight shape.

    2D ``(in, out)`` kernels give ``(in, out)``; convolution kernels multiply both by the receptive
    field size; vectors use their length for both.
    """
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def variance_scaling(
    key: jax.Array,
    shape: Shape,
    dtype=jnp.float32,
    *,
    scale: float = 1.0,
    mode: str = "fan_in",
    distribution: str = "truncated_normal",
) -> jax.Array:
    """Variance scaling as Keras: ``scale / n`` with ``n`` the fan chosen by ``mode``."""
    if distribution not in ("uniform", "truncated_normal", "normal", "untruncated_normal"):
        raise ValueError(
            f"Unknown distribution {distribution!r}; expected 'uniform', 'truncated_normal' "
            "or 'untruncated_normal'."
        )
    return _variance_scaling(key, tuple(int(d) for d in shape), jnp.dtype(dtype), scale=scale,
                             mode=mode, distribution=distribution)


def scaled_variance(shape: Shape, scale: float, mode: str) -> float:
    """Return ``scale / n``, ``n`` the fan `compute_fans` gives for ``mode`` (at least 1)."""
    fan_in, fan_out = compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
    return scale / max(1.0, n)


def uniform_limit(shape: Shape, scale: float, mode: str) -> float:
    """Return the bound ``sqrt(3 scale / n)`` of variance scaling's uniform distribution."""
    return math.sqrt(3.0 * scaled_variance(shape, scale, mode))


# Initializers run eagerly while a model builds; one jitted program per (shape, options) costs
# one XLA compilation instead of one per random primitive, which halved the build time of the
# benchmark's LSTM (BENCHMARKS.md, first trained batch). The numbers are the same.
@partial(jit, static_argnums=(1, 2), static_argnames=("scale", "mode", "distribution"))
def _variance_scaling(key, shape, dtype, *, scale, mode, distribution):
    if distribution == "uniform":
        limit = uniform_limit(shape, scale, mode)
        return jax.random.uniform(key, shape, dtype, -limit, limit)
    variance = scaled_variance(shape, scale, mode)
    if distribution == "truncated_normal":
        # 0.879... is the std of a unit normal truncated to [-2, 2]; Keras divides by it.
        stddev = math.sqrt(variance) / 0.87962566103423978
        return stddev * jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype)
    return math.sqrt(variance) * jax.random.normal(key, shape, dtype)


def orthogonal(key: jax.Array, shape: Shape, dtype=jnp.float32, *, gain: float = 1.0) -> jax.Array:
    """Orthogonal matrix (Saxe et al.) over the whole flattened shape, as Keras.

    The QR factor of a normal matrix, with column signs fixed by ``diag(R)`` so the result is
    uniformly distributed; rows are orthonormal when the matrix is wide, columns when tall.
    The normal matrix is drawn by JAX from ``key``; its QR runs in NumPy's LAPACK for float32
    and float64 (the routines ``jnp.linalg.qr`` calls on CPU, from another LAPACK build: equal
    to float32 rounding, at most 2.3e-6 apart in tests/ops/test_host_random.py): lowering and
    compiling XLA's QR took ~0.25 s of the first model build, the NumPy call microseconds.
    Under a trace or for other dtypes the whole draw runs in XLA.
    """
    if len(shape) < 2:
        raise ValueError(
            f"The orthogonal initializer needs a shape of rank >= 2; received shape {shape}."
        )
    shape, dtype = tuple(int(d) for d in shape), jnp.dtype(dtype)
    if isinstance(key, jax.core.Tracer) or dtype not in (np.float32, np.float64):
        return _orthogonal(key, shape, dtype, gain=gain)
    a = np.asarray(_normal(key, _qr_shape(shape), dtype))  # (max, min)
    q, r = np.linalg.qr(a)  # q: (max, min)
    return to_device(_orient(q, r, shape, gain, np).astype(dtype, copy=False))


def _qr_shape(shape: Shape) -> tuple[int, int]:
    rows, cols = math.prod(shape[:-1]), shape[-1]
    return max(rows, cols), min(rows, cols)


def _orient(q, r, shape, gain, xp):
    """Fix the column signs of ``q`` by ``diag(r)``, transpose a wide result, scale, reshape."""
    q = q * xp.sign(xp.diag(r))
    if math.prod(shape[:-1]) < shape[-1]:
        q = q.T
    return gain * q.reshape(shape)


@partial(jit, static_argnums=(1, 2))
def _normal(key, shape, dtype):
    return jax.random.normal(key, shape, dtype)


@partial(jit, static_argnums=(1, 2), static_argnames=("gain",))
def _orthogonal(key, shape, dtype, *, gain):
    q, r = jnp.linalg.qr(jax.random.normal(key, _qr_shape(shape), dtype))  # q: (max, min)
    return _orient(q, r, shape, gain, jnp)


def identity(shape: Shape, dtype=jnp.float32, *, gain: float = 1.0) -> jax.Array:
    """Identity matrix (or its rectangular analogue) times ``gain``."""
    if len(shape) != 2:
        raise ValueError(f"The identity initializer needs a 2D shape; received {shape}.")
    return gain * jnp.eye(*shape, dtype=dtype)
