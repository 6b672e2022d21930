"""JAX's threefry PRNG computed in NumPy: the same keys and uniform samples, nothing compiled.

Each eager ``jax.random`` call compiles a small XLA program on its first use with a shape
(``jax.random.key`` 35 ms, ``fold_in`` 70 ms, a ``uniform`` draw ~100 ms on this project's CPU):
~0.3 s of the first trained batch of the benchmark's LSTM went to building keys and drawing the
Glorot-uniform kernels (BENCHMARKS.md). These functions compute the same bits on the host:

- `key_data`: ``jax.random.key(seed)``'s data, ``[0, seed]`` for a seed in ``[0, 2**31)``;
- `fold_in`: ``jax.random.fold_in(key, data)``: ``threefry2x32(key, (0, data))``;
- `uniform`: ``jax.random.uniform(key, shape, float32, minval, maxval)`` with partitionable
  threefry (``jax_threefry_partitionable``, JAX's default): element ``i`` hashes the counter
  ``(i >> 32, i & 0xffffffff)``; its two words XORed give 32 random bits, the top 23 the mantissa
  of a float in ``[1, 2)``. XLA computes ``u * (maxval - minval) + minval`` as one fused
  multiply-add; NumPy has none, so it is done exactly in float64 and rounded once to float32.

`available` says whether JAX is configured the way these reproduce; callers fall back to
``jax.random`` otherwise, and under a trace. Tests compare every function bit for bit with
``jax.random`` (tests/ops/test_host_random.py).
"""

from __future__ import annotations

from fractions import Fraction

import jax
import numpy as np

_U32 = np.uint32
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
MAX_SEED = 2**31  # seeds in [0, MAX_SEED) map to [0, seed] whatever jax_enable_x64 says


def available(seed: int | None = None) -> bool:
    """Whether JAX's PRNG is threefry2x32 with partitionable bits (and ``seed`` in range)."""
    if seed is not None and not 0 <= seed < MAX_SEED:
        return False
    try:
        return (jax.config.jax_default_prng_impl == "threefry2x32"
                and bool(jax.config.jax_threefry_partitionable))
    except AttributeError:  # an option renamed in another JAX: be conservative
        return False


def _rotl(x, d: int):
    return (x << _U32(d)) | (x >> _U32(32 - d))


def threefry2x32(key, x0, x1):
    """Hash counter words ``x0``, ``x1`` under ``key`` with Threefry-2x32 (20 rounds).

    ``key`` is two uint32; ``x0``/``x1`` uint32 arrays of one shape. Returns two arrays.
    """
    k0, k1 = _U32(key[0]), _U32(key[1])
    ks = (k0, k1, _U32(k0 ^ k1 ^ _U32(0x1BD11BDA)))
    with np.errstate(over="ignore"):  # uint32 arithmetic wraps, as intended
        x = [np.asarray(x0, _U32) + ks[0], np.asarray(x1, _U32) + ks[1]]
        for i in range(5):
            for r in _ROTATIONS[i % 2]:
                x[0] = x[0] + x[1]
                x[1] = x[0] ^ _rotl(x[1], r)
            x[0] = x[0] + ks[(i + 1) % 3]
            x[1] = x[1] + ks[(i + 2) % 3] + _U32(i + 1)
    return x[0], x[1]


def key_data(seed: int) -> np.ndarray:
    """Return ``jax.random.key_data(jax.random.key(seed))`` for ``0 <= seed < 2**31``."""
    if not 0 <= seed < MAX_SEED:
        raise ValueError(f"host keys take seeds in [0, 2**31); received {seed}.")
    return np.array([0, seed], _U32)


def key(seed: int) -> jax.Array:
    """Return ``jax.random.key(seed)``, made from `key_data` without compiling when possible."""
    if available(seed):
        return jax.random.wrap_key_data(key_data(seed))
    return jax.random.key(seed)


def folded_key(seed: int, data: int) -> jax.Array:
    """Return ``jax.random.fold_in(jax.random.key(seed), data)``, compiling nothing if possible."""
    if available(seed):
        return jax.random.wrap_key_data(fold_in(key_data(seed), data))
    return jax.random.fold_in(jax.random.key(seed), data)


def fold_in(key, data: int) -> np.ndarray:
    """Return ``jax.random.key_data(jax.random.fold_in(key, data))`` (``data`` a uint32)."""
    y0, y1 = threefry2x32(key, np.zeros(1, _U32), np.array([data], _U32))
    return np.array([y0[0], y1[0]], _U32)


def random_bits(key, shape: tuple[int, ...]) -> np.ndarray:
    """32 random bits per element, as partitionable ``jax.random.bits`` draws them."""
    index = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.uint64)
    b0, b1 = threefry2x32(key, (index >> np.uint64(32)).astype(_U32),
                          (index & np.uint64(0xFFFFFFFF)).astype(_U32))
    return (b0 ^ b1).reshape(shape)


def uniform(key, shape: tuple[int, ...], minval: float, maxval: float) -> np.ndarray:
    """Return ``jax.random.uniform(key, shape, jnp.float32, minval, maxval)``, bit for bit."""
    mantissa = (random_bits(key, shape) >> _U32(9)) | np.array(1.0, np.float32).view(_U32)
    u = mantissa.view(np.float32) - np.float32(1.0)  # [0, 1), exact
    lo, hi = np.float32(minval), np.float32(maxval)
    return np.maximum(lo, _fma32(u, hi - lo, lo))


def _fma32(a: np.ndarray, b: np.float32, c: np.float32) -> np.ndarray:
    """Return ``a * b + c`` rounded once to float32, as a fused multiply-add computes it.

    ``a * b`` of two float32 is exact in float64; adding ``c`` rounds to float64 and rounding
    that to float32 rounds twice, which differs from rounding once only when the float64 value
    lies exactly halfway between two float32: those (rare) elements are redone in exact
    rational arithmetic.
    """
    a64 = a.astype(np.float64)
    wide = a64 * np.float64(b) + np.float64(c)
    out = wide.astype(np.float32)
    other = np.where(out.astype(np.float64) <= wide, np.nextafter(out, np.float32(np.inf)),
                     np.nextafter(out, np.float32(-np.inf)))  # the float32 on wide's other side
    tie = (out.astype(np.float64) + other.astype(np.float64)) / 2 == wide
    for i in zip(*np.nonzero(tie), strict=True):
        exact = Fraction(float(a64[i])) * Fraction(float(b)) + Fraction(float(c))
        near, far = Fraction(float(out[i])), Fraction(float(other[i]))
        if abs(exact - far) < abs(exact - near):
            out[i] = other[i]
    return out
