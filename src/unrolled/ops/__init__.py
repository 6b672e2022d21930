"""Pure functions on JAX arrays: activations, initializer maths, recurrent scans, losses.

Nothing in this package holds state; everything above it (layers, models, training) calls in.
"""

from unrolled.ops import activations, initializers, losses, rnn
from unrolled.ops.rnn import lstm, lstm_step

__all__ = ["activations", "initializers", "losses", "rnn", "lstm", "lstm_step"]
