"""`Flatten` and `RepeatVector`."""

from __future__ import annotations

import math

import jax.numpy as jnp

from unrolled.layers.base import Layer


class Flatten(Layer):
    """Flatten every axis but the batch axis: ``(B, d1, d2, ...)`` -> ``(B, d1 * d2 * ...)``.

    A mask does not pass through (as Keras).

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"`` (channels are moved
            last before flattening, as Keras).

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> layers.Flatten()(np.zeros((2, 3, 4), "float32")).shape
        (2, 12)

    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        data_format = data_format or "channels_last"
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"Flatten: data_format must be 'channels_last' or 'channels_first'; "
                             f"received {data_format!r}.")
        self.data_format = data_format

    def call(self, inputs, mask=None, training=False):
        """Compute the outputs from JAX arrays."""
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = jnp.moveaxis(inputs, 1, -1)  # (B, ..., C)
        return inputs.reshape(inputs.shape[0], -1)  # (B, prod)

    def compute_output_shape(self, input_shape):
        """Return the output shape for ``input_shape``."""
        rest = tuple(input_shape)[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], size)

    def get_config(self):
        """Return the constructor arguments (Keras keys)."""
        return {**super().get_config(), "data_format": self.data_format}


class RepeatVector(Layer):
    """Repeat a ``(B, F)`` input ``n`` times: ``(B, n, F)`` (e.g. to feed a decoder LSTM).

    Args:
        n: number of repetitions.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> layers.RepeatVector(3)(np.zeros((2, 4), "float32")).shape
        (2, 3, 4)

    """

    def __init__(self, n: int, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise TypeError(f"RepeatVector expects a positive integer `n`; received {n!r}.")
        self.n = n

    def call(self, inputs, mask=None, training=False):
        """Compute the outputs from JAX arrays."""
        if inputs.ndim != 2:
            raise ValueError(
                f"RepeatVector {self.name!r} expects inputs of rank 2 (batch, features); "
                f"received shape {tuple(inputs.shape)}. Use Flatten() or an LSTM without "
                "return_sequences before it."
            )
        return jnp.repeat(inputs[:, None, :], self.n, axis=1)  # (B, n, F)

    def compute_output_shape(self, input_shape):
        """Return the output shape for ``input_shape``."""
        if len(input_shape) != 2:
            raise ValueError(f"RepeatVector {self.name!r} expects inputs of rank 2 (batch, "
                             f"features); received shape {tuple(input_shape)}.")
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        """Return the constructor arguments (Keras keys)."""
        return {**super().get_config(), "n": self.n}
