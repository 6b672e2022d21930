"""`LSTMCell` and `LSTM`, exactly as Keras 3.

An ``LSTM(u)`` is ONE layer of ``u`` memory cells: every cell has its own input, forget and
output gates and candidate (``u`` one-cell "memory blocks" in Hochreiter & Schmidhuber's sense,
where a block is a group of cells sharing gates; never one block of ``u`` cells), and the layer
keeps all of them in three arrays, ``kernel (D, 4u)``, ``recurrent_kernel (u, 4u)`` and
``bias (4u,)``, whose column groups are the gates ``[i | f | c | o]``; column ``k * u + j``
belongs to gate ``k`` of cell ``j``. The same weights are reused at each of the T time steps.
See `unrolled.ops.rnn` for the equations.
"""

from __future__ import annotations

import numpy as np

from unrolled.layers import initializers, regularizers
from unrolled.layers.rnn import RNN, DropoutRNNCell, check_units, project
from unrolled.ops import activations, rnn
from unrolled.ops.compile import to_device


class LSTMCell(DropoutRNNCell):
    """The LSTM step for one time step, for use inside `RNN` (Keras's ``LSTMCell``).

    Args:
        units: number of memory cells (the size of ``h`` and ``c``).
        activation: for the candidate and the output (default ``"tanh"``).
        recurrent_activation: for the gates (default ``"sigmoid"``).
        use_bias: whether to add ``bias (4u,)``.
        kernel_initializer: for ``kernel (D, 4u)`` (default glorot_uniform over the whole matrix).
        recurrent_initializer: for ``recurrent_kernel (u, 4u)`` (default orthogonal).
        bias_initializer: for the bias (default zeros).
        unit_forget_bias: set the forget block of the bias to exactly 1.0 at initialization.
        dropout: fraction of the inputs dropped during training (one mask per call).
        recurrent_dropout: fraction of ``h`` dropped in the recurrence during training.
        seed: seed for the dropout masks.
        implementation: 1 or 2, accepted for Keras compatibility (same numbers).

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> layers.RNN(layers.LSTMCell(4))(np.zeros((2, 5, 3), "float32")).shape
        (2, 4)

    """

    n_gates = 4

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias: bool = True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed=None, implementation: int = 2, **kwargs):
        super().__init__(**kwargs)
        check_units("LSTM", units, implementation)
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
        self.unit_forget_bias = unit_forget_bias
        self.implementation = implementation
        self._init_dropout(dropout, recurrent_dropout, seed)
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape``."""
        input_dim = input_shape[-1]
        u = self.units
        self.kernel = self.add_weight("kernel", (input_dim, 4 * u), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            "recurrent_kernel", (u, 4 * u), self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint)
        if self.use_bias:
            init = self.bias_initializer
            if self.unit_forget_bias:
                base = init

                def init(shape, dtype="float32"):
                    # on the host: eager jnp ops would compile a program each
                    parts = [np.asarray(base((u,), dtype)), np.ones((u,), np.dtype(dtype)),
                             np.asarray(base((2 * u,), dtype))]
                    return to_device(np.concatenate(parts))

            self.bias = self.add_weight("bias", (4 * u,), init, regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint)
        else:
            self.bias = None
        self.built = True

    def project(self, inputs, input_masks=None):
        """Input side ``x @ kernel + bias`` for ``(B, D)`` or ``(B, T, D)`` inputs."""
        bias = None if self.bias is None else self.bias.value
        return project(inputs, self.kernel.value, bias, input_masks)

    def step(self, z_x, states, recurrent_masks=None, return_gates=False):
        """Recurrent side: ``z_x (B, 4u)``, ``[h, c]`` -> ``(h, [h, c])`` (and `Gates`).

        ``return_gates`` adds the step's `unrolled.ops.rnn.Gates` (what `unrolled.inspect`
        shows); any leading axes broadcast, as in `unrolled.ops.rnn.lstm_step`.
        """
        h, c = states
        if recurrent_masks is not None:
            h = h * recurrent_masks[0]  # (B, u)
        out = rnn.lstm_step(z_x, h, c, self.recurrent_kernel.value, self.activation,
                            self.recurrent_activation, return_gates=return_gates)
        h, c = out[:2]
        return (h, [h, c], out[2]) if return_gates else (h, [h, c])

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
            "unit_forget_bias": self.unit_forget_bias,
            **regularizers.options_config(self, *regularizers.RECURRENT_OPTIONS),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


class LSTM(RNN):
    """Long short-term memory layer (Hochreiter & Schmidhuber 1997), exactly as Keras 3.

    ``LSTM(16)`` is one layer of 16 memory cells, each with its own gates; on ``D`` input
    features it holds ``kernel (D, 64)``, ``recurrent_kernel (16, 64)`` and ``bias (64,)``,
    ``4 * 16 * (D + 16 + 1)`` parameters, shared by every time step.

    Args:
        units: number of memory cells (size of ``h`` and ``c``).
        activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, unit_forget_bias, dropout, recurrent_dropout, seed, implementation:
            as `LSTMCell`.
        return_sequences, return_state, go_backwards, stateful, unroll, zero_output_for_mask:
            as `RNN`.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> lstm = layers.LSTM(4)
        >>> lstm(np.zeros((2, 5, 3), "float32")).shape
        (2, 4)
        >>> [w.shape for w in lstm.weights]
        [(3, 16), (4, 16), (16,)]

    """

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias: bool = True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed=None,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 use_cudnn="auto", implementation: int = 2, zero_output_for_mask: bool = False,
                 **kwargs):
        cell = LSTMCell(
            units, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed, implementation=implementation,
            name="lstm_cell",
        )
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask,
                         activity_regularizer=activity_regularizer,
                         **kwargs)
        self.use_cudnn = use_cudnn

    def inner_loop(self, inputs, initial_state, mask, training, return_states=False,
                   offsets=None):
        """`unrolled.ops.rnn.lstm`, which chooses the path (`unrolled.ops.rnn.lstm_path`)."""
        cell = self.cell
        in_masks, rec_masks = cell.current_masks()
        offsets = offsets or {}
        return rnn.lstm(
            inputs, cell.kernel.value, cell.recurrent_kernel.value,
            None if cell.bias is None else cell.bias.value, mask=mask,
            initial_state=initial_state, activation=cell.activation,
            recurrent_activation=cell.recurrent_activation, go_backwards=self.go_backwards,
            zero_output_for_mask=self.zero_output_for_mask, unroll=self._unroll_arg(inputs),
            input_dropout=None if in_masks is None else in_masks[0],
            recurrent_dropout=None if rec_masks is None else rec_masks[0],
            state_offsets=offsets.get("states"), gate_offsets=offsets.get("gates"),
            return_states=return_states,
        )

    def get_config(self):
        """Return the constructor arguments (Keras's keys)."""
        return self._cell_layer_config()
