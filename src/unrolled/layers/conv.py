"""`Conv1D`: 1-D convolution over time with ``valid``, ``same`` and ``causal`` padding."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from unrolled.layers import initializers
from unrolled.layers.base import Layer
from unrolled.layers.core import _no_extras
from unrolled.ops import activations


def _one_int(name: str, value) -> int:
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(f"Conv1D: `{name}` must be an int or a 1-tuple; received {value!r}.")
        value = value[0]
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"Conv1D: `{name}` must be a positive integer; received {value!r}.")
    return value


def _out_len(length, kernel: int, stride: int, dilation: int, padding: str):
    if length is None:
        return None
    if padding == "same":
        return -(-length // stride)
    if padding == "causal":
        length += dilation * (kernel - 1)
    span = dilation * (kernel - 1) + 1
    return max(0, (length - span) // stride + 1)


class Conv1D(Layer):
    """1-D convolution over the time axis, as ``keras.layers.Conv1D`` (cross-correlation).

    ``y[b, t, f] = activation(bias[f] + sum_{k, c} x[b, t*s + k*d, c] * kernel[k, c, f])`` with
    stride ``s`` and dilation ``d``. ``padding="causal"`` pads ``d * (kernel_size - 1)`` zeros on
    the left so ``y[t]`` never sees ``x[t+1:]``; ``"same"`` pads as XLA/TensorFlow ``SAME``.

    Args:
        filters: number of output channels.
        kernel_size: window length (int or 1-tuple).
        strides: step between windows (``strides > 1`` with ``dilation_rate > 1`` is rejected, as
            Keras).
        padding: ``"valid"``, ``"same"`` or ``"causal"`` (case-insensitive).
        data_format: ``"channels_last"`` (default, ``(B, T, C)``) or ``"channels_first"``.
        dilation_rate: spacing between the taps of the window.
        groups: split the input channels into this many groups, each with its own filters.
        activation: applied after the bias (default linear).
        use_bias: add ``bias (filters,)``.
        kernel_initializer: for ``kernel (kernel_size, C // groups, filters)``.
        bias_initializer: default zeros.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> conv = layers.Conv1D(4, 3, padding="causal")
        >>> conv(np.zeros((2, 10, 5), "float32")).shape
        (2, 10, 4)
        >>> [w.shape for w in conv.weights]
        [(3, 5, 4), (4,)]

    """

    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid",
                 data_format=None, dilation_rate=1, groups: int = 1, activation=None,
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = _one_int("filters", filters)
        self.kernel_size = _one_int("kernel_size", kernel_size)
        self.strides = _one_int("strides", strides)
        self.dilation_rate = _one_int("dilation_rate", dilation_rate)
        self.groups = _one_int("groups", groups)
        padding = str(padding).lower()
        if padding not in ("valid", "same", "causal"):
            raise ValueError(f"Conv1D: padding must be 'valid', 'same' or 'causal'; received "
                             f"{padding!r}.")
        self.padding = padding
        data_format = data_format or "channels_last"
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"Conv1D: data_format must be 'channels_last' or 'channels_first'; "
                             f"received {data_format!r}.")
        self.data_format = data_format
        if self.strides > 1 and self.dilation_rate > 1:
            raise ValueError(f"Conv1D: strides > 1 is incompatible with dilation_rate > 1; "
                             f"received strides={strides}, dilation_rate={dilation_rate}.")
        if self.filters % self.groups:
            raise ValueError(f"Conv1D: filters ({filters}) must be divisible by groups "
                             f"({groups}).")
        _no_extras("Conv1D", kernel_regularizer=kernel_regularizer,
                   bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                   kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def _channels(self, shape):
        return shape[-1] if self.data_format == "channels_last" else shape[1]

    def build(self, input_shape):
        """Create the layer's weights for inputs of ``input_shape``."""
        if len(input_shape) != 3:
            raise ValueError(f"Conv1D {self.name!r} expects inputs of rank 3 (batch, steps, "
                             f"channels); received shape {tuple(input_shape)}.")
        channels = self._channels(input_shape)
        if channels is None or channels % self.groups:
            raise ValueError(f"Conv1D {self.name!r}: the number of input channels ({channels}) "
                             f"must be known and divisible by groups ({self.groups}).")
        self.kernel = self.add_weight(
            "kernel", (self.kernel_size, channels // self.groups, self.filters),
            self.kernel_initializer)
        self.bias = (self.add_weight("bias", (self.filters,), self.bias_initializer)
                     if self.use_bias else None)
        self.built = True

    def call(self, inputs, mask=None, training=False):
        """Compute the outputs from JAX arrays."""
        if inputs.ndim != 3:
            raise ValueError(f"Conv1D {self.name!r} expects inputs of rank 3; received shape "
                             f"{tuple(inputs.shape)}.")
        x = inputs if self.data_format == "channels_last" else jnp.swapaxes(inputs, 1, 2)
        expected = self.kernel.shape[1] * self.groups
        if x.shape[-1] != expected:
            raise ValueError(f"Input of layer {self.name!r} is incompatible: expected {expected} "
                             f"channels, received input with shape {tuple(inputs.shape)}.")
        padding = "SAME" if self.padding == "same" else "VALID"
        if self.padding == "causal":
            left = self.dilation_rate * (self.kernel_size - 1)
            x = jnp.pad(x, ((0, 0), (left, 0), (0, 0)))  # (B, T + left, C)
        y = jax.lax.conv_general_dilated(
            x, self.kernel.value, window_strides=(self.strides,), padding=padding,
            rhs_dilation=(self.dilation_rate,), dimension_numbers=("NWC", "WIO", "NWC"),
            feature_group_count=self.groups)  # (B, T_out, filters)
        if self.bias is not None:
            y = y + self.bias.value  # (B, T_out, filters)
        y = self.activation(y)
        return y if self.data_format == "channels_last" else jnp.swapaxes(y, 1, 2)

    def compute_output_shape(self, input_shape):
        """Return the output shape for ``input_shape``."""
        steps = input_shape[1] if self.data_format == "channels_last" else input_shape[2]
        t = _out_len(steps, self.kernel_size, self.strides, self.dilation_rate, self.padding)
        if self.data_format == "channels_last":
            return (input_shape[0], t, self.filters)
        return (input_shape[0], self.filters, t)

    def get_config(self):
        """Return the constructor arguments (Keras keys)."""
        return {
            **super().get_config(), "filters": self.filters,
            "kernel_size": (self.kernel_size,), "strides": (self.strides,),
            "padding": self.padding, "data_format": self.data_format,
            "dilation_rate": (self.dilation_rate,), "groups": self.groups,
            "activation": activations.name_of(self.activation), "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "bias_constraint": None,
        }
