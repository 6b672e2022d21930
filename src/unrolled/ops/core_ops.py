"""Keras-style ``ops`` control flow and tensor helpers (``keras.ops.core``) on JAX arrays.

``cond``, ``while_loop``, ``scan``, ``fori_loop``, ``switch`` and ``map`` take Keras's arguments
and mean what Keras's JAX backend means by them (``jax.lax`` underneath), so a custom cell's loop
compiles inside unrolled's jitted steps.

Example:
    >>> from unrolled import ops
    >>> int(ops.while_loop(lambda i: i < 10, lambda i: i + 3, 0))
    12

"""

from __future__ import annotations

import jax
import numpy as np

from unrolled.ops.numpy_ops import _unwrap, _wrap

stop_gradient = _wrap(jax.lax.stop_gradient)


def cond(pred, true_fn, false_fn):
    """Return ``true_fn()`` if ``pred`` else ``false_fn()`` (both traced, as ``jax.lax.cond``)."""
    return jax.lax.cond(_unwrap(pred), true_fn, false_fn)


def switch(index, branches, *operands):
    """Return ``branches[index](*operands)``."""
    return jax.lax.switch(_unwrap(index), branches, *_unwrap(operands))


def map(f, xs):  # noqa: A001 - keras.ops name
    """Apply ``f`` to each slice of ``xs`` along its first axis and stack the results."""
    return jax.lax.map(f, _unwrap(xs))


def vectorized_map(function, elements):
    """Apply ``function`` to each slice of ``elements`` along axis 0, vectorised."""
    return jax.vmap(function)(_unwrap(elements))


def scan(f, init, xs=None, length=None, reverse: bool = False, unroll=1):
    """Loop ``carry, y = f(carry, x)`` over ``xs``; return ``(final carry, stacked ys)``.

    Raises:
        ValueError: if ``unroll`` is neither a bool nor a positive integer.

    """
    if not isinstance(unroll, bool) and not (isinstance(unroll, int) and unroll >= 1):
        raise ValueError(f"scan: `unroll` must be a positive integer or a bool; received "
                         f"unroll={unroll!r}.")
    return jax.lax.scan(f, _unwrap(init), _unwrap(xs), length=length, reverse=reverse,
                        unroll=unroll)


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Repeat ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)``; return them.

    ``loop_vars`` is one array or a tuple/list (then ``cond`` and ``body`` take them unpacked);
    ``maximum_iterations`` caps the number of iterations.
    """
    is_tuple = isinstance(loop_vars, (tuple, list))
    state = tuple(_unwrap(loop_vars)) if is_tuple else (_unwrap(loop_vars),)

    def as_tuple(outputs):
        return tuple(outputs) if is_tuple else (outputs,)

    if maximum_iterations is None:
        out = jax.lax.while_loop(lambda s: cond(*s), lambda s: as_tuple(body(*s)), state)
    else:
        out = jax.lax.while_loop(
            lambda s: cond(*s[:-1]) & (s[-1] < maximum_iterations),
            lambda s: as_tuple(body(*s[:-1])) + (s[-1] + 1,), state + (0,))[:-1]
    return out if is_tuple else out[0]


def fori_loop(lower, upper, body_fun, init_val):
    """Return ``init_val`` after ``val = body_fun(i, val)`` for ``i`` in ``[lower, upper)``."""
    return jax.lax.fori_loop(lower, upper, body_fun, _unwrap(init_val))


def slice(inputs, start_indices, shape):  # noqa: A001 - keras.ops name
    """Return the block of ``inputs`` at ``start_indices`` of ``shape`` (-1: to the end)."""
    inputs = _unwrap(inputs)
    size = tuple(inputs.shape[i] - start_indices[i] if s == -1 else s
                 for i, s in enumerate(shape))
    return jax.lax.dynamic_slice(inputs, start_indices, size)


def slice_update(inputs, start_indices, updates):
    """Return ``inputs`` with the block at ``start_indices`` replaced by ``updates``."""
    return jax.lax.dynamic_update_slice(_unwrap(inputs), _unwrap(updates), start_indices)


def unstack(x, num=None, axis: int = 0):
    """Return the slices of ``x`` along ``axis`` as a list."""
    x = _unwrap(x)
    return [jax.lax.index_in_dim(x, i, axis, keepdims=False) for i in range(x.shape[axis])]


def convert_to_numpy(x) -> np.ndarray:
    """Return ``x`` (an array or variable) as a NumPy array."""
    return np.asarray(_unwrap(x))


def is_tensor(x) -> bool:
    """Whether ``x`` is a JAX array (what ``keras.ops.is_tensor`` means on JAX)."""
    return isinstance(x, jax.Array)
