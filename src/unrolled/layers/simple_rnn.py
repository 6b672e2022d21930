"""`SimpleRNNCell` and `SimpleRNN`: ``h_t = activation(x_t @ kernel + h_{t-1} @ U + b)``."""

from __future__ import annotations

from unrolled.layers import initializers, regularizers
from unrolled.layers.rnn import RNN, DropoutRNNCell, check_units, project
from unrolled.ops import activations
from unrolled.ops.simple_rnn import simple_rnn_step


class SimpleRNNCell(DropoutRNNCell):
    """The fully connected recurrent step, for use inside `RNN` (Keras's ``SimpleRNNCell``).

    Args:
        units: size of the state ``h`` (also the output).
        activation: default ``"tanh"``.
        use_bias: whether to add ``bias (u,)``.
        kernel_initializer: for ``kernel (D, u)`` (default glorot_uniform).
        recurrent_initializer: for ``recurrent_kernel (u, u)`` (default orthogonal).
        bias_initializer: default zeros.
        dropout: fraction of the inputs dropped during training (one mask per call).
        recurrent_dropout: fraction of ``h`` dropped in the recurrence during training.
        seed: seed for the dropout masks.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> layers.RNN(layers.SimpleRNNCell(4))(np.zeros((2, 5, 3), "float32")).shape
        (2, 4)

    """

    def __init__(self, units: int, activation="tanh", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        check_units("SimpleRNN", units, 2)
        regularizers.set_options(
            self, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._init_dropout(dropout, recurrent_dropout, seed)
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape``."""
        u = self.units
        self.kernel = self.add_weight("kernel", (input_shape[-1], u), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            "recurrent_kernel", (u, u), self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint)
        self.bias = self.add_weight("bias", (u,), self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.built = True

    def project(self, inputs, input_masks=None):
        """Input side ``x @ kernel + bias`` for ``(B, D)`` or ``(B, T, D)`` inputs."""
        bias = None if self.bias is None else self.bias.value
        return project(inputs, self.kernel.value, bias, input_masks)

    def step(self, x_proj, states, recurrent_masks=None, return_gates=False):
        """Recurrent side: ``x_proj (B, u)``, ``[h]`` -> ``(h, [h])`` (and `Gates`)."""
        h = states[0]
        if recurrent_masks is not None:
            h = h * recurrent_masks[0]  # (B, u)
        out = simple_rnn_step(x_proj, h, self.recurrent_kernel.value, self.activation,
                              return_gates=return_gates)
        if return_gates:
            return out[0], [out[0]], out[1]
        return out, [out]

    def get_config(self):
        """Return the constructor arguments (Keras's keys)."""
        return {
            **super().get_config(), "units": self.units,
            "activation": activations.name_of(self.activation), "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            **regularizers.options_config(self, *regularizers.RECURRENT_OPTIONS),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


class SimpleRNN(RNN):
    """Fully connected RNN whose output is fed back as the next input, exactly as Keras 3.

    Args:
        units: size of the state ``h``.
        activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
        dropout, recurrent_dropout, seed: as `SimpleRNNCell`.
        return_sequences, return_state, go_backwards, stateful, unroll, zero_output_for_mask:
            as `RNN`.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> rnn = layers.SimpleRNN(4, return_sequences=True)
        >>> rnn(np.zeros((2, 5, 3), "float32")).shape
        (2, 5, 4)

    """

    def __init__(self, units: int, activation="tanh", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 unroll: bool = False, seed=None, zero_output_for_mask: bool = False, **kwargs):
        cell = SimpleRNNCell(
            units, activation=activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed, name="simple_rnn_cell",
        )
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask,
                         activity_regularizer=activity_regularizer,
                         **kwargs)

    def get_config(self):
        """Return the constructor arguments (Keras's keys; like Keras, no ``seed``)."""
        config = self._cell_layer_config()
        config.pop("seed", None)
        return config
