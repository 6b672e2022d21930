"""Recurrent layers: the generic `RNN` wrapper, `LSTMCell` and `LSTM`.

An ``LSTM(u)`` is ONE layer of ``u`` memory cells (not ``u`` separate blocks): every cell has its
own input, forget and output gates and candidate, and the layer keeps all of them in three
arrays, ``kernel (D, 4u)``, ``recurrent_kernel (u, 4u)`` and ``bias (4u,)``, whose column blocks
are the gates ``[i | f | c | o]``; column ``k * u + j`` belongs to gate ``k`` of cell ``j``. The
same weights are reused at each of the T time steps. See `unrolled.ops.rnn` for the equations.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from unrolled.layers import initializers
from unrolled.layers.base import Layer
from unrolled.layers.core import _no_extras
from unrolled.layers.random import SeedGenerator
from unrolled.ops import activations, rnn


def _check_rate(name: str, value: float) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"`{name}` must be a float in [0, 1]; received {value!r}.")
    return float(value)


class LSTMCell(Layer):
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
    """

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias: bool = True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed=None, implementation: int = 2, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"LSTM expects a positive integer `units`; received {units!r}.")
        if implementation not in (1, 2):
            raise ValueError(f"`implementation` must be 1 or 2; received {implementation!r}.")
        _no_extras("LSTM", kernel_regularizer=kernel_regularizer,
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
        self.dropout = _check_rate("dropout", dropout)
        self.recurrent_dropout = _check_rate("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self.seed_generator = SeedGenerator(seed)
        self.implementation = implementation
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        u = self.units
        self.kernel = self.add_weight("kernel", (input_dim, 4 * u), self.kernel_initializer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (u, 4 * u),
                                                self.recurrent_initializer)
        if self.use_bias:
            init = self.bias_initializer
            if self.unit_forget_bias:
                base = init

                def init(shape, dtype="float32"):
                    return jnp.concatenate([base((u,), dtype), jnp.ones((u,), dtype),
                                            base((2 * u,), dtype)])

            self.bias = self.add_weight("bias", (4 * u,), init)
        else:
            self.bias = None
        self.built = True

    def dropout_masks(self, batch: int, input_dim: int, training: bool):
        """Return ``(input_mask (B, D) or None, recurrent_mask (B, u) or None)`` for one call."""
        def make(rate, shape):
            if not training or rate <= 0.0:
                return None
            keep = jax.random.bernoulli(self.seed_generator.next(), 1.0 - rate, shape)
            return keep.astype(jnp.float32) / (1.0 - rate)

        return (make(self.dropout, (batch, input_dim)),
                make(self.recurrent_dropout, (batch, self.units)))

    def call(self, inputs, states, training=False):
        """One step: ``inputs (B, D)``, ``states [h, c]`` -> ``(h, [h, c])``."""
        h, c = states
        z_x = inputs @ self.kernel.value  # (B, 4u)
        if self.bias is not None:
            z_x = z_x + self.bias.value  # (B, 4u)
        h, c, _ = rnn.lstm_step(z_x, h, c, self.recurrent_kernel.value, self.activation,
                                self.recurrent_activation)
        return h, [h, c]

    def get_initial_state(self, batch_size: int):
        """Zero ``[h, c]`` of shape ``(batch_size, units)``."""
        zeros = jnp.zeros((batch_size, self.units), jnp.float32)
        return [zeros, zeros]

    def get_config(self):
        return {
            **super().get_config(), "units": self.units,
            "activation": activations.name_of(self.activation),
            "recurrent_activation": activations.name_of(self.recurrent_activation),
            "use_bias": self.use_bias, "unit_forget_bias": self.unit_forget_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
            "kernel_constraint": None, "recurrent_constraint": None, "bias_constraint": None,
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


class RNN(Layer):
    """Run a cell over the time axis of ``(B, T, F)`` inputs, with Keras's masking rules.

    Args:
        cell: a cell layer (``call(x_t, states) -> (output, new_states)``, ``state_size``).
        return_sequences: return every step's output ``(B, T, u)`` instead of the last ``(B, u)``.
        return_state: also return the final states (``[output, h, c]`` for an LSTM).
        go_backwards: process the sequence in reverse (outputs in processing order).
        stateful: not supported yet (raises).
        unroll: unroll the time loop (``lax.scan`` with full unrolling).
        zero_output_for_mask: emit zeros at masked steps of returned sequences instead of the
            carried output.

    A masked step (``mask[b, t] == False``) leaves the state unchanged; with
    ``return_sequences=False`` the output is ``h`` at the last valid step, and the mask is dropped.
    """

    supports_masking = True

    def __init__(self, cell, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(cell, Layer) or not hasattr(cell, "state_size"):
            raise ValueError(
                f"RNN expects a cell layer with `state_size` and `call(inputs, states)` (e.g. "
                f"LSTMCell); received {cell!r}."
            )
        if stateful:
            raise NotImplementedError(
                "stateful=True is not supported yet; carry state explicitly with "
                "return_state=True and initial_state=."
            )
        self.cell = cell
        self._sublayers.append(cell)
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = stateful
        self.unroll = unroll
        self.zero_output_for_mask = zero_output_for_mask

    def _check_rank(self, shape) -> None:
        if len(shape) != 3:
            raise ValueError(
                f"Input of layer {self.name!r} is incompatible: expected ndim=3 "
                f"(batch, timesteps, features), found ndim={len(shape)} with shape "
                f"{tuple(shape)}. For a single feature per step reshape to (batch, timesteps, 1)."
            )

    def build(self, input_shape):
        self._check_rank(input_shape)
        self.cell._maybe_build((input_shape[0], input_shape[-1]))
        self.built = True

    def _check_input(self, inputs) -> None:
        self._check_rank(inputs.shape)
        expected = self.cell.kernel.shape[0] if hasattr(self.cell, "kernel") else None
        if expected is not None and inputs.shape[-1] != expected:
            raise ValueError(
                f"Input of layer {self.name!r} is incompatible: expected {expected} features "
                f"on the last axis (the layer was built for that), received input with shape "
                f"{tuple(inputs.shape)}."
            )

    def _initial_state(self, inputs, initial_state):
        batch = inputs.shape[0]
        if initial_state is None:
            return self.cell.get_initial_state(batch)
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [
            initial_state]
        sizes = self.cell.state_size
        sizes = sizes if isinstance(sizes, (list, tuple)) else [sizes]
        if len(states) != len(sizes):
            raise ValueError(
                f"Layer {self.name!r} expects {len(sizes)} initial state(s) of shapes "
                f"{[(batch, s) for s in sizes]}; received {len(states)}."
            )
        out = []
        for s, size in zip(states, sizes):
            s = jnp.asarray(s, jnp.float32)
            if s.shape != (batch, size):
                raise ValueError(
                    f"Layer {self.name!r}: initial state expected shape {(batch, size)}, "
                    f"received {tuple(s.shape)}."
                )
            out.append(s)
        return out

    def inner_loop(self, inputs, initial_state, mask, training):
        """Return ``(last_output, outputs, states)`` using the cell step by step."""
        def step(x_t, states):
            return self.cell.call(x_t, states, training=training)

        return rnn.scan(step, inputs, initial_state, mask=mask, go_backwards=self.go_backwards,
                        zero_output_for_mask=self.zero_output_for_mask,
                        unroll=self._unroll_arg(inputs))

    def _unroll_arg(self, inputs):
        return max(1, inputs.shape[1]) if self.unroll else 1

    def call(self, inputs, initial_state=None, mask=None, training=False):
        self._check_input(inputs)
        states = self._initial_state(inputs, initial_state)
        if mask is not None:
            mask = jnp.asarray(mask).astype(bool)
            if mask.shape != inputs.shape[:2]:
                raise ValueError(
                    f"Layer {self.name!r}: mask expected shape {tuple(inputs.shape[:2])} "
                    f"(batch, timesteps), received {tuple(mask.shape)}."
                )
        last, outputs, states = self.inner_loop(inputs, states, mask, training)
        output = outputs if self.return_sequences else last
        if self.return_state:
            return [output, *states]
        return output

    def compute_mask(self, inputs, mask=None):
        out_mask = mask if self.return_sequences else None
        if self.return_state:
            n = len(self.cell.state_size) if isinstance(self.cell.state_size, (list, tuple)) \
                else 1
            return [out_mask] + [None] * n
        return out_mask

    def get_config(self):
        return {
            **super().get_config(), "return_sequences": self.return_sequences,
            "return_state": self.return_state, "go_backwards": self.go_backwards,
            "stateful": self.stateful, "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        }


class LSTM(RNN):
    """Long short-term memory layer (Hochreiter & Schmidhuber 1997), exactly as Keras 3.

    ``LSTM(16)`` is one layer of 16 memory cells, each with its own gates; on ``D`` input
    features it holds ``kernel (D, 64)``, ``recurrent_kernel (16, 64)`` and ``bias (64,)``,
    ``4 * 16 * (D + 16 + 1)`` parameters, shared by every time step.

    Args:
        units: number of memory cells (size of ``h`` and ``c``).
        activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, unit_forget_bias, dropout, recurrent_dropout, seed: as `LSTMCell`.
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
        _no_extras("LSTM", activity_regularizer=activity_regularizer)
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
                         zero_output_for_mask=zero_output_for_mask, **kwargs)
        self.use_cudnn = use_cudnn

    def __getattr__(self, name):
        # units, activation, kernel, ... are the cell's, as in Keras.
        if name != "cell" and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def inner_loop(self, inputs, initial_state, mask, training):
        """Hoisted input projection, then a scan over ``h @ recurrent_kernel`` only."""
        cell = self.cell
        in_mask, rec_mask = cell.dropout_masks(inputs.shape[0], inputs.shape[-1], training)
        x = inputs if in_mask is None else inputs * in_mask[:, None, :]  # (B, T, D)
        bias = None if cell.bias is None else cell.bias.value
        if rec_mask is None:
            return rnn.lstm(
                x, cell.kernel.value, cell.recurrent_kernel.value, bias, mask=mask,
                initial_state=initial_state, activation=cell.activation,
                recurrent_activation=cell.recurrent_activation, go_backwards=self.go_backwards,
                zero_output_for_mask=self.zero_output_for_mask, unroll=self._unroll_arg(inputs),
            )
        z_x = x @ cell.kernel.value  # (B, T, 4u)
        if bias is not None:
            z_x = z_x + bias  # (B, T, 4u)
        rk = cell.recurrent_kernel.value

        def step(z_t, states):
            h, c = states
            h_new, c_new, _ = rnn.lstm_step(z_t, h * rec_mask, c, rk, cell.activation,
                                            cell.recurrent_activation)
            return h_new, [h_new, c_new]

        return rnn.scan(step, z_x, initial_state, mask=mask, go_backwards=self.go_backwards,
                        zero_output_for_mask=self.zero_output_for_mask,
                        unroll=self._unroll_arg(inputs))

    def get_config(self):
        config = {**super().get_config(), **{k: v for k, v in self.cell.get_config().items()
                                             if k not in ("name", "trainable", "dtype")}}
        return config
