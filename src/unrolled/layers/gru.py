"""`GRUCell` and `GRU`, exactly as Keras 3 (gate blocks ``[z | r | h]``).

``GRU(u)`` on ``D`` features holds ``kernel (D, 3u)``, ``recurrent_kernel (u, 3u)`` and a bias of
shape ``(2, 3u)`` with ``reset_after=True`` (Keras's default: row 0 for the input side, row 1
for the recurrent side) or ``(3u,)`` with ``reset_after=False``. See `unrolled.ops.gru` for the
equations.
"""

from __future__ import annotations

from unrolled.layers import initializers, regularizers
from unrolled.layers.rnn import RNN, DropoutRNNCell, check_units, project
from unrolled.ops import activations
from unrolled.ops.gru import gru_step, split_bias


class GRUCell(DropoutRNNCell):
    """The GRU step for one time step, for use inside `RNN` (Keras's ``GRUCell``).

    Args:
        units: size of the state ``h``.
        activation: candidate activation (default ``"tanh"``).
        recurrent_activation: update/reset gate activation (default ``"sigmoid"``).
        use_bias: whether to use a bias.
        kernel_initializer: for ``kernel (D, 3u)`` (default glorot_uniform).
        recurrent_initializer: for ``recurrent_kernel (u, 3u)`` (default orthogonal).
        bias_initializer: for the bias (default zeros).
        dropout: fraction of the inputs dropped during training (masks drawn once per call).
        recurrent_dropout: fraction of ``h`` dropped in the recurrence during training.
        reset_after: apply the reset gate after the recurrent matmul (default ``True``, bias
            ``(2, 3u)``); ``False`` applies it before (bias ``(3u,)``).
        seed: seed for the dropout masks.
        implementation: 1 (one dropout mask per gate; forced by ``recurrent_dropout`` as in
            Keras) or 2.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> layers.RNN(layers.GRUCell(4))(np.zeros((2, 5, 3), "float32")).shape
        (2, 4)

    """

    n_gates = 3

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, reset_after: bool = True,
                 seed=None, implementation: int = 2, **kwargs):
        super().__init__(**kwargs)
        check_units("GRU", units, implementation)
        regularizers.set_options(
            self, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint)
        self.units = units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.reset_after = bool(reset_after)
        self._init_dropout(dropout, recurrent_dropout, seed)
        self.implementation = 1 if self.recurrent_dropout else implementation
        self.state_size = units
        self.output_size = units

    def _mask_count(self) -> int:
        return 3 if self.implementation == 1 else 1

    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape``."""
        u = self.units
        self.kernel = self.add_weight("kernel", (input_shape[-1], 3 * u), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            "recurrent_kernel", (u, 3 * u), self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint)
        if self.use_bias:
            shape = (2, 3 * u) if self.reset_after else (3 * u,)
            self.bias = self.add_weight("bias", shape, self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        else:
            self.bias = None
        self.built = True

    def project(self, inputs, input_masks=None):
        """Input side ``x @ kernel + input_bias`` for ``(B, D)`` or ``(B, T, D)`` inputs."""
        in_bias, _ = split_bias(None if self.bias is None else self.bias.value, self.reset_after)
        return project(inputs, self.kernel.value, in_bias, input_masks)

    def step(self, x_proj, states, recurrent_masks=None, return_gates=False):
        """Recurrent side: ``x_proj (B, 3u)``, ``[h]`` -> ``(h, [h])`` (and `Gates`)."""
        _, rec_bias = split_bias(None if self.bias is None else self.bias.value,
                                 self.reset_after)
        out = gru_step(x_proj, states[0], self.recurrent_kernel.value, rec_bias,
                       self.activation, self.recurrent_activation, self.reset_after,
                       recurrent_masks, return_gates=return_gates)
        if return_gates:
            return out[0], [out[0]], out[1]
        return out, [out]

    def get_config(self):
        """Return the constructor arguments (Keras's keys)."""
        return {
            **super().get_config(), "units": self.units,
            "activation": activations.name_of(self.activation),
            "recurrent_activation": activations.name_of(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            **regularizers.options_config(self, *regularizers.RECURRENT_OPTIONS),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "reset_after": self.reset_after, "seed": self.seed,
        }


class GRU(RNN):
    """Gated recurrent unit layer (Cho et al. 2014), exactly as Keras 3.

    Args:
        units: size of the state ``h``.
        activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, dropout, recurrent_dropout, reset_after, seed, implementation:
            as `GRUCell`.
        return_sequences, return_state, go_backwards, stateful, unroll, zero_output_for_mask:
            as `RNN`.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> gru = layers.GRU(4)
        >>> gru(np.zeros((2, 5, 3), "float32")).shape
        (2, 4)
        >>> [w.path for w in gru.weights]
        ['gru/gru_cell/kernel', 'gru/gru_cell/recurrent_kernel', 'gru/gru_cell/bias']

    """

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed=None, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 reset_after: bool = True, use_cudnn="auto", implementation: int = 2,
                 zero_output_for_mask: bool = False, **kwargs):
        cell = GRUCell(
            units, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout, recurrent_dropout=recurrent_dropout, reset_after=reset_after,
            seed=seed, implementation=implementation, name="gru_cell",
        )
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask,
                         activity_regularizer=activity_regularizer,
                         **kwargs)
        self.use_cudnn = use_cudnn

    def get_config(self):
        """Return the constructor arguments (Keras's keys)."""
        return self._cell_layer_config()
