"""`ConvLSTM1D`, `ConvLSTM2D`, `ConvLSTM3D`: the generic `RNN` running a `ConvLSTMCell`.

Inputs are sequences of images ``(B, T, *S, C)`` (``(B, T, C, *S)`` with ``channels_first``);
the input convolution of every step runs as one convolution over ``B*T`` images, and the scan
carries only the recurrent convolution, as `LSTM` hoists its input matmul.
"""

from __future__ import annotations

import jax.numpy as jnp

from unrolled.layers.conv_lstm_cell import ConvLSTMCell
from unrolled.layers.rnn import RNN
from unrolled.ops import rnn


class ConvLSTM(RNN):
    """N-D convolutional LSTM (Shi et al. 2015), as Keras 3's ``ConvLSTM`` base.

    Args:
        rank: number of spatial axes (the subclasses set it).
        filters, kernel_size, strides, padding, data_format, dilation_rate, activation,
        recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, unit_forget_bias, dropout, recurrent_dropout, seed:
            as `ConvLSTMCell`.
        return_sequences, return_state, go_backwards, stateful: as `RNN` (also ``unroll`` and
            ``zero_output_for_mask`` by keyword).

    Call arguments:
        inputs: ``(B, T, *S, C)``.
        initial_state: ``[h, c]``, each ``(B, *S_out, filters)``.
        mask: boolean ``(B, T)``; a masked step carries ``h`` and ``c`` unchanged.
        training: turns dropout on.

    """

    def __init__(self, rank: int, filters: int, kernel_size, strides=1, padding="valid",
                 data_format=None, dilation_rate=1, activation="tanh",
                 recurrent_activation="sigmoid", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias: bool = True,
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed=None, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, **kwargs):
        cell = ConvLSTMCell(
            rank, filters, kernel_size, strides=strides, padding=padding,
            data_format=data_format, dilation_rate=dilation_rate, activation=activation,
            recurrent_activation=recurrent_activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
            name="conv_lstm_cell")
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful,
                         activity_regularizer=activity_regularizer, **kwargs)

    def _check_rank(self, shape) -> None:
        if len(shape) != self.cell.rank + 3:
            raise ValueError(
                f"Input of layer {self.name!r} is incompatible: expected ndim="
                f"{self.cell.rank + 3} (batch, timesteps, {self.cell.rank} spatial axes and "
                f"channels), found ndim={len(shape)} with shape {tuple(shape)}.")

    def build(self, input_shape):
        """Build the cell for one step's shape, then the `RNN` (stateful states)."""
        self._check_rank(input_shape)
        self.cell._maybe_build((input_shape[0], *input_shape[2:]))
        super().build(input_shape)

    def _check_input(self, inputs) -> None:
        self._check_rank(inputs.shape)
        if tuple(inputs.shape[2:]) != self.cell.step_shape:
            raise ValueError(
                f"Input of layer {self.name!r} is incompatible: the layer was built for steps "
                f"of shape {self.cell.step_shape}, received input with shape "
                f"{tuple(inputs.shape)}.")
        super()._check_input(inputs)

    def _initial_state(self, inputs, initial_state) -> list:
        if initial_state is None:
            return super()._initial_state(inputs, None)
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [
            initial_state]
        shape = (inputs.shape[0], *self.cell.state_shape)
        if len(states) != 2 or any(jnp.shape(s) != shape for s in states):
            raise ValueError(
                f"Layer {self.name!r} expects initial_state=[h, c], each of shape {shape}; "
                f"received {[tuple(jnp.shape(s)) for s in states]}.")
        return [jnp.asarray(s, jnp.float32) for s in states]

    def inner_loop(self, inputs, initial_state, mask, training):
        """Input convolution for all steps at once; the scan carries the flattened states."""
        cell = self.cell
        in_masks, rec_masks = cell.current_masks()
        xs = cell.project(inputs, in_masks)  # (B, T, *S_out, 4f)
        b, t = xs.shape[:2]
        shape = (b, *cell.state_shape)

        def step(z_t, flat):
            h, states = cell.step(z_t.reshape(b, *xs.shape[2:]),
                                  [s.reshape(shape) for s in flat], rec_masks)
            return h.reshape(b, -1), [s.reshape(b, -1) for s in states]  # (B, n) each

        last, outputs, final = rnn.scan(
            step, xs.reshape(b, t, -1), [s.reshape(b, -1) for s in initial_state], mask=mask,
            go_backwards=self.go_backwards, zero_output_for_mask=self.zero_output_for_mask,
            unroll=self._unroll_arg(inputs))  # states flattened to (B, n)
        return (last.reshape(shape), outputs.reshape(b, t, *shape[1:]),
                [s.reshape(shape) for s in final])

    def compute_output_shape(self, input_shape):
        """``(B, [T,] *S_out, filters)``; with ``return_state`` also ``h`` and ``c``."""
        self._maybe_build(input_shape)
        state = (input_shape[0], *self.cell.state_shape)
        out = (state[0], input_shape[1], *state[1:]) if self.return_sequences else state
        return [out, state, state] if self.return_state else out

    def compute_mask(self, inputs, mask=None):
        """Return the input mask with ``return_sequences``, else ``None`` (``None`` for states)."""
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        return [out, None, None] if self.return_state else out

    def get_config(self):
        """Return the constructor arguments (Keras's keys: the RNN's and the cell's)."""
        return self._cell_layer_config()


class ConvLSTM1D(ConvLSTM):
    """1-D convolutional LSTM over ``(B, T, W, C)`` sequences; see `ConvLSTM`.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> layer = layers.ConvLSTM1D(2, 3, padding="same", return_sequences=True)
        >>> layer(np.zeros((1, 4, 6, 3), "float32")).shape
        (1, 4, 6, 2)
        >>> [w.shape for w in layer.weights]
        [(3, 3, 8), (3, 2, 8), (8,)]

    """

    def __init__(self, filters: int, kernel_size, **kwargs):
        super().__init__(1, filters, kernel_size, **kwargs)


class ConvLSTM2D(ConvLSTM):
    """2-D convolutional LSTM over ``(B, T, H, W, C)`` sequences; see `ConvLSTM`.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> layer = layers.ConvLSTM2D(2, (3, 3), padding="same")
        >>> layer(np.zeros((1, 4, 6, 5, 3), "float32")).shape
        (1, 6, 5, 2)
        >>> [w.path for w in layer.weights]
        ['conv_lstm2d/conv_lstm_cell/kernel', 'conv_lstm2d/conv_lstm_cell/recurrent_kernel', \
'conv_lstm2d/conv_lstm_cell/bias']

    """

    def __init__(self, filters: int, kernel_size, **kwargs):
        super().__init__(2, filters, kernel_size, **kwargs)


class ConvLSTM3D(ConvLSTM):
    """3-D convolutional LSTM over ``(B, T, D, H, W, C)`` sequences; see `ConvLSTM`.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> layer = layers.ConvLSTM3D(2, 3, return_state=True)
        >>> out, h, c = layer(np.zeros((1, 2, 3, 4, 5, 1), "float32"))
        >>> out.shape, c.shape
        ((1, 1, 2, 3, 2), (1, 1, 2, 3, 2))

    """

    def __init__(self, filters: int, kernel_size, **kwargs):
        super().__init__(3, filters, kernel_size, **kwargs)
