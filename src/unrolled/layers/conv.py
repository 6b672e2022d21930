"""`Conv1D`, `Conv2D`, `Conv3D`: convolution layers as Keras 3's (one `BaseConv` for all ranks)."""

from __future__ import annotations

import jax.numpy as jnp

from unrolled.layers import initializers, regularizers
from unrolled.layers.base import Layer
from unrolled.layers.core import _no_extras
from unrolled.ops import activations
from unrolled.ops.convolution import conv, output_length


def conv_tuple(layer: str, name: str, value, rank: int) -> tuple[int, ...]:
    """Keras's ``standardize_tuple``: an int or a ``rank``-tuple of positive ints."""
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,) * rank
    if len(values) != rank or any(
            not isinstance(v, int) or isinstance(v, bool) or v <= 0 for v in values):
        raise ValueError(f"{layer}: `{name}` must be a positive integer or a tuple of {rank} "
                         f"positive integers; received {value!r}.")
    return values


def conv_padding(layer: str, padding, allowed=("valid", "same")) -> str:
    """Lower-case ``padding`` after checking it is one of ``allowed``."""
    value = str(padding).lower()
    if value not in allowed:
        raise ValueError(f"{layer}: padding must be one of {list(allowed)}; received "
                         f"{padding!r}.")
    return value


def conv_data_format(layer: str, data_format) -> str:
    """``None`` means ``"channels_last"`` (Keras's default image_data_format)."""
    value = data_format or "channels_last"
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"{layer}: data_format must be 'channels_last' or 'channels_first'; "
                         f"received {data_format!r}.")
    return value


class BaseConv(Layer):
    """N-D convolution (cross-correlation), as ``keras.layers.Conv{1,2,3}D``.

    ``y[b, p, f] = activation(bias[f] + sum_{k, c} x[b, p*s + k*d, c] * kernel[k, c, f])`` for
    every output position ``p`` with strides ``s`` and dilation ``d`` (per spatial axis).
    ``padding="same"`` pads as XLA/TensorFlow ``SAME``; Conv1D's ``"causal"`` pads
    ``d * (kernel_size - 1)`` zeros on the left so ``y[t]`` never sees ``x[t+1:]``.

    Args:
        rank: number of spatial axes (set by the subclass).
        filters: number of output channels.
        kernel_size: window size (int or ``rank``-tuple).
        strides: step between windows (``strides > 1`` with ``dilation_rate > 1`` is refused,
            as Keras).
        padding: ``"valid"`` or ``"same"`` (and ``"causal"`` for Conv1D), case-insensitive.
        data_format: ``"channels_last"`` (default, ``(B, *S, C)``) or ``"channels_first"``.
        dilation_rate: spacing between the taps of the window.
        groups: split the input channels into this many groups, each with its own filters.
        activation: applied after the bias (default linear).
        use_bias: add ``bias (filters,)``.
        kernel_initializer: for ``kernel (*kernel_size, C // groups, filters)``.
        bias_initializer: default zeros.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> conv = layers.Conv2D(4, 3, padding="same")
        >>> conv(np.zeros((2, 8, 8, 3), "float32")).shape
        (2, 8, 8, 4)
        >>> [w.shape for w in conv.weights]
        [(3, 3, 3, 4), (4,)]

    """

    rank = 0
    paddings = ("valid", "same")

    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid",
                 data_format=None, dilation_rate=1, groups: int = 1, activation=None,
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 lora_rank=None, lora_alpha=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        cls, rank = type(self).__name__, self.rank
        self.filters = conv_tuple(cls, "filters", filters, 1)[0]
        self.kernel_size = conv_tuple(cls, "kernel_size", kernel_size, rank)
        self.strides = conv_tuple(cls, "strides", strides, rank)
        self.dilation_rate = conv_tuple(cls, "dilation_rate", dilation_rate, rank)
        self.groups = conv_tuple(cls, "groups", groups, 1)[0]
        self.padding = conv_padding(cls, padding, self.paddings)
        self.data_format = conv_data_format(cls, data_format)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{cls}: strides > 1 is incompatible with dilation_rate > 1; "
                             f"received strides={strides}, dilation_rate={dilation_rate}.")
        if self.filters % self.groups:
            raise ValueError(f"{cls}: filters ({filters}) must be divisible by groups "
                             f"({groups}).")
        _no_extras(cls, lora_rank=lora_rank)
        regularizers.set_options(self, kernel_regularizer=kernel_regularizer,
                                 bias_regularizer=bias_regularizer,
                                 kernel_constraint=kernel_constraint,
                                 bias_constraint=bias_constraint)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def _check_rank(self, shape) -> None:
        if len(shape) != self.rank + 2:
            where = "(batch, *spatial, channels)" if self.data_format == "channels_last" else \
                "(batch, channels, *spatial)"
            raise ValueError(f"{type(self).__name__} {self.name!r} expects inputs of rank "
                             f"{self.rank + 2} {where}; received shape {tuple(shape)}.")

    def _channels(self, shape):
        return shape[-1] if self.data_format == "channels_last" else shape[1]

    def build(self, input_shape):
        """Create the layer's weights for inputs of ``input_shape``."""
        self._check_rank(input_shape)
        channels = self._channels(input_shape)
        if channels is None or channels % self.groups:
            raise ValueError(f"{type(self).__name__} {self.name!r}: the number of input channels "
                             f"({channels}) must be known and divisible by groups "
                             f"({self.groups}).")
        self.kernel = self.add_weight(
            "kernel", (*self.kernel_size, channels // self.groups, self.filters),
            self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        self.bias = (self.add_weight("bias", (self.filters,), self.bias_initializer,
                                     regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint)
                     if self.use_bias else None)
        self.built = True

    def call(self, inputs, mask=None, training=False):
        """Compute the outputs from JAX arrays."""
        self._check_rank(inputs.shape)
        expected = self.kernel.shape[-2] * self.groups
        if self._channels(inputs.shape) != expected:
            raise ValueError(f"Input of layer {self.name!r} is incompatible: expected {expected} "
                             f"channels, received input with shape {tuple(inputs.shape)}.")
        y = conv(inputs, self.kernel.value, self.strides, self.padding, self.dilation_rate,
                 self.data_format, self.groups)  # (B, *S_out, F) or (B, F, *S_out)
        if self.bias is not None:
            shape = (self.filters,) if self.data_format == "channels_last" else \
                (self.filters,) + (1,) * self.rank
            y = y + jnp.reshape(self.bias.value, shape)  # y's shape
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        """Return the output shape for ``input_shape``."""
        last = self.data_format == "channels_last"
        spatial = input_shape[1:-1] if last else input_shape[2:]
        out = tuple(output_length(n, k, s, d, self.padding) for n, k, s, d in zip(
            spatial, self.kernel_size, self.strides, self.dilation_rate, strict=True))
        if last:
            return (input_shape[0], *out, self.filters)
        return (input_shape[0], self.filters, *out)

    def get_config(self):
        """Return the constructor arguments (Keras keys)."""
        return {
            **super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
            "strides": self.strides, "padding": self.padding, "data_format": self.data_format,
            "dilation_rate": self.dilation_rate, "groups": self.groups,
            "activation": activations.name_of(self.activation), "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            **regularizers.options_config(self, "kernel_regularizer", "bias_regularizer"),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            **regularizers.options_config(self, "kernel_constraint", "bias_constraint"),
        }


class Conv1D(BaseConv):
    """1-D convolution over the time axis ``(B, T, C)``; see `BaseConv` (adds ``"causal"``).

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> conv = layers.Conv1D(4, 3, padding="causal")
        >>> conv(np.zeros((2, 10, 5), "float32")).shape
        (2, 10, 4)
        >>> [w.shape for w in conv.weights]
        [(3, 5, 4), (4,)]

    """

    rank = 1
    paddings = ("valid", "same", "causal")


class Conv2D(BaseConv):
    """2-D convolution over ``(B, H, W, C)`` images; see `BaseConv`.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> layers.Conv2D(2, (3, 2), strides=2)(np.zeros((1, 7, 6, 3), "float32")).shape
        (1, 3, 3, 2)

    """

    rank = 2


class Conv3D(BaseConv):
    """3-D convolution over ``(B, D, H, W, C)`` volumes; see `BaseConv`.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> layers.Conv3D(2, 3, padding="same")(np.zeros((1, 4, 5, 6, 1), "float32")).shape
        (1, 4, 5, 6, 2)

    """

    rank = 3
