"""`ConvLSTMCell`: the LSTM step with convolutions in place of matmuls, as Keras 3's.

With ``*`` a convolution (the input one with the layer's strides, padding and dilation; the
recurrent one always ``"same"`` with stride 1, so ``h`` keeps its spatial shape)::

    z = x_t * kernel + h_{t-1} * recurrent_kernel + bias      # channels [i | f | c | o]
    c_t = sigmoid(z_f) c_{t-1} + sigmoid(z_i) tanh(z_c);  h_t = sigmoid(z_o) tanh(c_t)

``kernel (*k, C, 4f)``, ``recurrent_kernel (*k, f, 4f)``, ``bias (4f,)``; the states ``h`` and
``c`` are images ``(B, *S_out, f)`` (``(B, f, *S_out)`` with ``channels_first``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from unrolled.layers import initializers, regularizers
from unrolled.layers.conv import conv_data_format, conv_padding, conv_tuple
from unrolled.layers.rnn import DropoutRNNCell
from unrolled.ops import activations
from unrolled.ops.compile import to_device
from unrolled.ops.convolution import conv, output_length


class ConvLSTMCell(DropoutRNNCell):
    """One ConvLSTM step, for `ConvLSTM1D`/`2D`/`3D` (Keras's ``ConvLSTMCell``).

    Args:
        rank: number of spatial axes (1, 2 or 3).
        filters: channels of ``h`` and ``c``.
        kernel_size, strides, padding, data_format, dilation_rate: of the input convolution,
            as `Conv2D` (``padding`` is ``"valid"`` or ``"same"``).
        activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, unit_forget_bias: as `LSTMCell`.
        dropout: fraction of the inputs dropped during training; each gate has its own mask of
            the step input's shape, the same at every step of a call.
        recurrent_dropout: likewise for ``h`` in the recurrent convolution.
        seed: seed for the dropout masks.

    Example:
        >>> import numpy as np
        >>> from unrolled.layers.conv_lstm_cell import ConvLSTMCell
        >>> cell = ConvLSTMCell(2, filters=3, kernel_size=3, padding="same")
        >>> cell.build((None, 5, 5, 2))
        >>> h, (h, c) = cell.call(np.ones((1, 5, 5, 2), "float32"), cell.get_initial_state(1))
        >>> h.shape, cell.state_shape
        ((1, 5, 5, 3), (5, 5, 3))

    """

    n_gates = 4

    def __init__(self, rank: int, filters: int, kernel_size, strides=1, padding="valid",
                 data_format=None, dilation_rate=1, activation="tanh",
                 recurrent_activation="sigmoid", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias: bool = True,
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if rank not in (1, 2, 3):
            raise ValueError(f"ConvLSTMCell: rank must be 1, 2 or 3; received {rank!r}.")
        layer = f"ConvLSTM{rank}D"
        self.rank = rank
        self.filters = conv_tuple(layer, "filters", filters, 1)[0]
        self.kernel_size = conv_tuple(layer, "kernel_size", kernel_size, rank)
        self.strides = conv_tuple(layer, "strides", strides, rank)
        self.dilation_rate = conv_tuple(layer, "dilation_rate", dilation_rate, rank)
        self.padding = conv_padding(layer, padding)
        self.data_format = conv_data_format(layer, data_format)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{layer}: strides > 1 is incompatible with dilation_rate > 1; "
                             f"received strides={strides}, dilation_rate={dilation_rate}.")
        regularizers.set_options(
            self, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)
        self._init_dropout(dropout, recurrent_dropout, seed)
        self.state_size = -1  # as Keras: the states are images, see `state_shape`
        self.step_shape = self.state_shape = None

    @property
    def _channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 1

    def build(self, input_shape):
        """Create the weights for one step's input shape ``(B, *S, C)`` (or ``(B, C, *S)``)."""
        last = self.data_format == "channels_last"
        spatial = tuple(input_shape[1:-1] if last else input_shape[2:])
        channels = input_shape[-1] if last else input_shape[1]
        if len(input_shape) != self.rank + 2 or None in spatial or channels is None:
            raise ValueError(f"ConvLSTM{self.rank}D needs each step's input shape fully known "
                             f"(batch, then {self.rank} spatial axes and the channels); "
                             f"received {tuple(input_shape)}.")
        out = tuple(output_length(n, k, s, d, self.padding) for n, k, s, d in zip(
            spatial, self.kernel_size, self.strides, self.dilation_rate, strict=True))
        if min(out) <= 0:
            raise ValueError(f"ConvLSTM{self.rank}D: a step input of spatial shape {spatial} "
                             f"is smaller than the kernel {self.kernel_size} with padding "
                             f"'valid'; use a smaller kernel or padding='same'.")
        self.step_shape = tuple(input_shape[1:])
        self.state_shape = (*out, self.filters) if last else (self.filters, *out)
        f, k = self.filters, self.kernel_size
        self.kernel = self.add_weight("kernel", (*k, channels, 4 * f), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (*k, f, 4 * f),
                                                self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        self.bias = None
        if self.use_bias:
            init, base = self.bias_initializer, self.bias_initializer
            if self.unit_forget_bias:
                def init(shape, dtype="float32"):
                    parts = [np.asarray(base((f,), dtype)), np.ones((f,), np.dtype(dtype)),
                             np.asarray(base((2 * f,), dtype))]
                    return to_device(np.concatenate(parts))
            self.bias = self.add_weight("bias", (4 * f,), init,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def _conv_gates(self, x, kernel, masks, **conv_args):
        """``x * kernel`` with ``4f`` output channels; with 4 masks, gate k sees ``x * mask_k``."""
        if masks is None:
            return conv(x, kernel, data_format=self.data_format, **conv_args)
        blocks = jnp.split(kernel, 4, axis=-1)  # 4 x (*k, C, f)
        return jnp.concatenate([conv(x * m, w, data_format=self.data_format, **conv_args)
                                for m, w in zip(masks, blocks, strict=True)],
                               axis=self._channel_axis)  # (B, *S_out, 4f)

    def project(self, inputs, input_masks=None):
        """Input side ``x * kernel + bias`` for one step ``(B, ...)`` or steps ``(B, T, ...)``."""
        seq = inputs.ndim == self.rank + 3
        b = inputs.shape[0]
        if seq:
            t = inputs.shape[1]
            inputs = inputs.reshape(b * t, *inputs.shape[2:])  # (B*T, ...)
            if input_masks is not None:  # row b*T + t takes sample b's mask
                input_masks = [jnp.repeat(m, t, axis=0) for m in input_masks]  # (B*T, ...)
        z = self._conv_gates(inputs, self.kernel.value, input_masks, strides=self.strides,
                             padding=self.padding, dilation_rate=self.dilation_rate)
        if self.bias is not None:
            shape = (4 * self.filters,) + (() if self._channel_axis == -1 else (1,) * self.rank)
            z = z + self.bias.value.reshape(shape)  # (B[*T], *S_out, 4f)
        if seq:
            z = z.reshape(b, t, *z.shape[1:])  # (B, T, *S_out, 4f)
        return z

    def step(self, z_x, states, recurrent_masks=None):
        """Recurrent side: ``z_x (B, *S_out, 4f)`` and ``[h, c]`` -> ``(h, [h, c])``."""
        h, c = states
        z = z_x + self._conv_gates(h, self.recurrent_kernel.value, recurrent_masks,
                                   strides=(1,) * self.rank, padding="same")  # (B, *S_out, 4f)
        zi, zf, zc, zo = jnp.split(z, 4, axis=self._channel_axis)  # 4 x (B, *S_out, f)
        i = self.recurrent_activation(zi)
        f = self.recurrent_activation(zf)
        c = f * c + i * self.activation(zc)  # (B, *S_out, f)
        h = self.recurrent_activation(zo) * self.activation(c)  # (B, *S_out, f)
        return h, [h, c]

    def prepare_dropout(self, batch: int, input_dim: int, training: bool) -> None:
        """Draw this call's masks: 4 per rate in ``(0, 1)``, of the step input / state shape."""
        def make(rate, shape):
            if not training or not 0.0 < rate < 1.0:  # Keras skips dropout at rate 1 too
                return None
            return [jax.random.bernoulli(self.seed_generator.next(), 1.0 - rate,
                                         (batch, *shape)).astype(jnp.float32) / (1.0 - rate)
                    for _ in range(4)]  # 4 x (B, *shape)

        self._masks = (make(self.dropout, self.step_shape),
                       make(self.recurrent_dropout, self.state_shape))

    def get_initial_state(self, batch_size: int):
        """Zero ``[h, c]``, each ``(batch_size, *state_shape)``."""
        return [jnp.zeros((batch_size, *self.state_shape), jnp.float32) for _ in range(2)]

    def get_config(self):
        """Return the constructor arguments (Keras's keys; ``rank`` is the layer's, as Keras)."""
        return {
            **super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
            "strides": self.strides, "padding": self.padding, "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.name_of(self.activation),
            "recurrent_activation": activations.name_of(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            **regularizers.options_config(self, *regularizers.RECURRENT_OPTIONS),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
