"""Pure functions on JAX arrays: activations, initializer maths, recurrent scans, losses.

Nothing in this package holds state; everything above it (layers, models, training) calls in.
It also offers ``keras.ops``-style functions (``ops.matmul``, ``ops.tanh``, ...) that accept
layer variables, for custom cells written the Keras way.
"""

from unrolled.ops import activations, initializers, losses, rnn
from unrolled.ops.numpy_ops import *  # noqa: F403 - the keras.ops-style names
from unrolled.ops.numpy_ops import __dict__ as _numpy_ops
from unrolled.ops.rnn import lstm, lstm_step

__all__ = ["activations", "initializers", "losses", "rnn", "lstm", "lstm_step"] + [
    name for name, value in _numpy_ops.items() if callable(value) and not name.startswith("_")
    and name not in ("annotations", "functools", "jax", "jnp")
]
