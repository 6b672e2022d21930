"""Pure functions on JAX arrays: activations, initializer maths, recurrent scans, losses.

Nothing in this package holds state; everything above it (layers, models, training) calls in.
It also offers the ``keras.ops`` functions custom cells and recurrent guides use
(``ops.matmul``, ``ops.tanh``, ``ops.einsum``, ``ops.scan``, ...), which accept layer
variables; ``tools/keras_ops_coverage.py`` measures how many of Keras's are here.
"""

import types as _types

from unrolled.ops import activations, initializers, losses, rnn
from unrolled.ops import core_ops as _core_ops
from unrolled.ops import nn_ops as _nn_ops
from unrolled.ops import numpy_ops as _numpy_ops
from unrolled.ops.core_ops import *  # noqa: F403 - keras.ops control flow
from unrolled.ops.nn_ops import *  # noqa: F403 - keras.ops activations
from unrolled.ops.numpy_ops import *  # noqa: F403 - the keras.ops numpy names
from unrolled.ops.rnn import lstm, lstm_step


def _public(module) -> list[str]:
    return [name for name, value in vars(module).items()
            if not name.startswith("_") and callable(value) and name != "annotations"
            and not isinstance(value, (_types.ModuleType, type))
            and getattr(value, "__module__", module.__name__) != "__future__"]


#: The ``keras.ops`` names this package offers (see ``tools/keras_ops_coverage.py``).
KERAS_OPS = sorted({*_public(_numpy_ops), *_public(_nn_ops), *_public(_core_ops)})

__all__ = ["activations", "initializers", "losses", "rnn", "lstm", "lstm_step", *KERAS_OPS]
