"""``jit`` with the XLA options unrolled compiles its own steps with.

On CPU, XLA's LLVM backend at optimization level 1 instead of the default 2 compiled the
benchmark LSTM's train step 0.3-0.4 s faster (1.29 s instead of 1.70 s at 16 units) and ran it
as fast or faster (1.18x at 16 units, 1.01x at 128; interleaved, BENCHMARKS.md). The options
travel with each jitted function (``jax.jit(compiler_options=...)``), so nothing global changes
and other JAX code in the process keeps XLA's defaults. Other backends get no options.

The options depend on the backend, so `jit` builds the `jax.jit` at its first use: importing
unrolled must not start XLA's backend, or `unrolled.distribution.initialize` (which calls
`jax.distributed.initialize`, allowed only before the backend starts) could not follow it.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

CPU_COMPILER_OPTIONS = {"xla_backend_optimization_level": 1}


@functools.cache
def compiler_options() -> dict:
    """Return the options for the default backend (those above on CPU, none elsewhere)."""
    return dict(CPU_COMPILER_OPTIONS) if jax.default_backend() == "cpu" else {}


def jit(fun=None, **kwargs):
    """`jax.jit` with `compiler_options`; usable as ``jit(f)``, ``@jit`` or ``@partial(jit, ...)``.

    Example:
        >>> import jax.numpy as jnp
        >>> float(jit(lambda a: a * 2.0)(jnp.float32(1.5)))
        3.0

    """
    if fun is None:
        return functools.partial(jit, **kwargs)
    return _LazyJit(fun, kwargs)


class _LazyJit:
    """A `jax.jit` of `fun` built at its first call or attribute access (`.lower`, ...)."""

    def __init__(self, fun, kwargs: dict):
        functools.update_wrapper(self, fun)
        self._fun, self._kwargs, self._jitted = fun, kwargs, None

    def _get(self):
        if self._jitted is None:
            self._jitted = jax.jit(self._fun, compiler_options=compiler_options(), **self._kwargs)
        return self._jitted

    def __call__(self, *args, **kwargs):
        return self._get()(*args, **kwargs)

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("_fun", "_kwargs", "_jitted"):
            raise AttributeError(name)
        return getattr(self._get(), name)


def to_device(value, dtype=None) -> jax.Array:
    """Return host data (NumPy, scalars, lists) as a device array without compiling anything.

    In this JAX, ``jnp.asarray`` of a NumPy array compiles a small copy program (``stage``) per
    shape and dtype, ~15 ms each on the first fit of a model; ``jax.device_put`` transfers the
    buffer instead. Dtypes follow JAX's canonicalization (float64 -> float32 without x64), as
    ``jnp.asarray`` does. A JAX array is returned as it is (cast when ``dtype`` differs).

    Example:
        >>> import numpy as np
        >>> to_device(np.zeros(3)).dtype
        dtype('float32')

    """
    if isinstance(value, jax.Array):
        return value if dtype is None or value.dtype == np.dtype(dtype) else value.astype(dtype)
    a = np.asarray(value, dtype=dtype)
    return jax.device_put(a.astype(jax.dtypes.canonicalize_dtype(a.dtype), copy=False))


def to_host(value) -> np.ndarray:
    """Return an array as NumPy, gathering a global array split over several processes.

    Every process must call it for such an array (the gather is a collective); any other
    array is simply fetched (``np.asarray``).
    """
    if isinstance(value, jax.Array) and not value.is_fully_addressable \
            and not value.is_fully_replicated:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(value, tiled=True))
    return np.asarray(value)
