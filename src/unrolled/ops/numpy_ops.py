"""Keras-style ``ops`` functions (``matmul``, ``tanh``, ``concatenate``, ...) on JAX arrays.

They accept layer `Variable`s as well as arrays, like ``keras.ops``, so a custom cell written
for Keras (``ops.matmul(inputs, self.kernel)``) runs unchanged with ``from unrolled import ops``.
Each name takes Keras's arguments; on JAX they are ``jax.numpy``'s, which is what Keras's JAX
backend calls too. `nn_ops` holds the activations, `core_ops` the control flow.

Example:
    >>> from unrolled import ops
    >>> ops.tile(ops.expand_dims(ops.arange(3), axis=-1), [1, 2]).tolist()
    [[0, 0], [1, 1], [2, 2]]

"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


def _unwrap(x):
    if getattr(type(x), "_unrolled_variable", False):
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(i) for i in x)
    return x


def _wrap(fn):
    @functools.wraps(fn)
    def call(*args, **kwargs):
        return fn(*(_unwrap(a) for a in args), **{k: _unwrap(v) for k, v in kwargs.items()})

    return call


def convert_to_tensor(x, dtype=None):
    """Return ``x`` (an array, variable or nested list) as a JAX array."""
    return jnp.asarray(_unwrap(x), dtype=dtype)


def cast(x, dtype):
    """Return ``x`` converted to ``dtype``."""
    return jnp.asarray(_unwrap(x)).astype(dtype)


def shape(x):
    """Return the shape of ``x`` as a tuple."""
    return tuple(jnp.shape(_unwrap(x)))


matmul = _wrap(jnp.matmul)
dot = _wrap(jnp.dot)
add = _wrap(jnp.add)
subtract = _wrap(jnp.subtract)
multiply = _wrap(jnp.multiply)
divide = _wrap(jnp.divide)
negative = _wrap(jnp.negative)
maximum = _wrap(jnp.maximum)
minimum = _wrap(jnp.minimum)
power = _wrap(jnp.power)
exp = _wrap(jnp.exp)
log = _wrap(jnp.log)
sqrt = _wrap(jnp.sqrt)
square = _wrap(jnp.square)
abs = _wrap(jnp.abs)  # noqa: A001 - keras.ops name
tanh = _wrap(jnp.tanh)
sigmoid = _wrap(jax.nn.sigmoid)
relu = _wrap(jax.nn.relu)
softmax = _wrap(jax.nn.softmax)
clip = _wrap(jnp.clip)
where = _wrap(jnp.where)
sum = _wrap(jnp.sum)  # noqa: A001 - keras.ops name
mean = _wrap(jnp.mean)
max = _wrap(jnp.max)  # noqa: A001 - keras.ops name
min = _wrap(jnp.min)  # noqa: A001 - keras.ops name
concatenate = _wrap(jnp.concatenate)
stack = _wrap(jnp.stack)
split = _wrap(jnp.split)
reshape = _wrap(jnp.reshape)
transpose = _wrap(jnp.transpose)
expand_dims = _wrap(jnp.expand_dims)
squeeze = _wrap(jnp.squeeze)
zeros = jnp.zeros
ones = jnp.ones
zeros_like = _wrap(jnp.zeros_like)
ones_like = _wrap(jnp.ones_like)
equal = _wrap(jnp.equal)
not_equal = _wrap(jnp.not_equal)
logical_and = _wrap(jnp.logical_and)
logical_or = _wrap(jnp.logical_or)
logical_not = _wrap(jnp.logical_not)
any = _wrap(jnp.any)  # noqa: A001 - keras.ops name
all = _wrap(jnp.all)  # noqa: A001 - keras.ops name

# The rest of keras.ops' numpy family, each the jax.numpy function of the same name.
_SAME_NAME = (
    "absolute", "amax", "amin", "append", "arange", "arccos", "arccosh", "arcsin", "arcsinh",
    "arctan", "arctan2", "arctanh", "argmax", "argmin", "argsort", "average", "broadcast_to",
    "ceil", "copy", "cos", "cosh", "count_nonzero", "cumprod", "cumsum", "diag", "diagonal",
    "diff", "einsum", "empty", "expm1", "eye", "flip", "floor", "floor_divide", "full",
    "full_like", "greater", "greater_equal", "hstack", "identity", "isclose", "isfinite", "isinf",
    "isnan", "less", "less_equal", "linspace", "log10", "log1p", "log2", "logaddexp",
    "logical_xor", "median", "meshgrid", "mod", "moveaxis", "nan_to_num", "ndim", "outer", "pad",
    "prod", "reciprocal", "repeat", "roll", "round", "sign", "sin", "sinh", "size", "sort", "std",
    "swapaxes", "take", "take_along_axis", "tan", "tensordot", "tile", "trace", "tri", "tril",
    "triu", "true_divide", "var", "vdot", "vstack",
)
globals().update({_name: _wrap(getattr(jnp, _name)) for _name in _SAME_NAME})


def array(x, dtype=None):
    """Return ``x`` as a JAX array (``keras.ops.array``)."""
    return jnp.asarray(_unwrap(x), dtype=dtype)
