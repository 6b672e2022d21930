"""The generic `RNN` wrapper and what every built-in cell shares (dropout masks, projection).

`LSTMCell`/`LSTM` live in `unrolled.layers.lstm`, `GRU` and `SimpleRNN` in their own modules.

Every built-in cell splits its step into ``project`` (the input side, ``x @ kernel + bias``,
which `RNN` computes for all time steps in one matmul) and ``step`` (the recurrent side, the
only part inside the scan).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from unrolled.layers import capture
from unrolled.layers.base import Layer
from unrolled.layers.random import SeedGenerator
from unrolled.layers.stacked import (
    StackedRNNCells,
    call_cell,
    initial_state_of,
    output_size_of,
    state_is_list,
)
from unrolled.layers.variables import Variable, current_path
from unrolled.ops import rnn
from unrolled.saving.serialization_lib import deserialize_layer, serialize_layer


def check_units(layer: str, units, implementation) -> None:
    """Validate ``units`` (positive int) and ``implementation`` (1 or 2; Keras's legacy 0 = 2)."""
    if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
        raise ValueError(f"{layer} expects a positive integer `units`; received {units!r}.")
    if implementation not in (0, 1, 2):
        raise ValueError(
            f"`implementation` must be 1 or 2 (0, a legacy value Keras still reads from old "
            f"configs, means 2); received {implementation!r}."
        )


def _check_rate(name: str, value: float) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"`{name}` must be a float in [0, 1]; received {value!r}.")
    return float(value)


def project(inputs, kernel, bias, input_masks=None):
    """Return ``inputs @ kernel + bias`` for ``(B, D)`` or ``(B, T, D)`` inputs.

    With one dropout mask ``(B, D)`` it scales the inputs first; with ``G`` masks (Keras's
    implementation 1) gate block ``k`` of the kernel sees the inputs scaled by mask ``k``.
    """
    def scaled(m):
        return inputs * (m if inputs.ndim == 2 else m[:, None, :])  # (B, [T,] D)

    if input_masks is None:
        out = inputs @ kernel  # (B, [T,] G*u)
    elif len(input_masks) == 1:
        out = scaled(input_masks[0]) @ kernel  # (B, [T,] G*u)
    else:
        blocks = jnp.split(kernel, len(input_masks), axis=-1)  # G x (D, u)
        out = jnp.concatenate([scaled(m) @ k for m, k in zip(input_masks, blocks, strict=True)],
                              axis=-1)  # (B, [T,] G*u)
    return out if bias is None else out + bias


class DropoutRNNCell(Layer):
    """Base of the built-in cells: dropout masks drawn once per call and reused at every step.

    A subclass sets ``n_gates`` and calls ``_init_dropout``; with ``implementation=1`` (which
    Keras forces for a GRU with ``recurrent_dropout``) each gate gets its own masks.
    """

    n_gates = 1

    def _init_dropout(self, dropout, recurrent_dropout, seed) -> None:
        self.dropout = _check_rate("dropout", dropout)
        self.recurrent_dropout = _check_rate("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self.seed_generator = SeedGenerator(seed)
        self._masks = (None, None)

    def _mask_count(self) -> int:
        return 1

    def prepare_dropout(self, batch: int, input_dim: int, training: bool) -> None:
        """Draw this call's masks (``None`` outside training or at rate 0)."""
        n = self._mask_count()

        def make(rate, width):
            if not training or rate <= 0.0:
                return None
            shape = (batch, width)
            return [jax.random.bernoulli(self.seed_generator.next(), 1.0 - rate, shape)
                    .astype(jnp.float32) / (1.0 - rate) for _ in range(n)]  # n x (B, width)

        self._masks = (make(self.dropout, input_dim), make(self.recurrent_dropout, self.units))

    def clear_dropout(self) -> None:
        """Forget this call's masks."""
        self._masks = (None, None)

    def current_masks(self):
        """``(input_masks, recurrent_masks)`` of the current call (lists or ``None``)."""
        return self._masks

    def get_initial_state(self, batch_size: int):
        """Zero states, one ``(batch_size, n)`` array per entry of ``state_size``."""
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        return [jnp.zeros((batch_size, s), jnp.float32) for s in sizes]

    def call(self, inputs, states, training=False):
        """One step on ``inputs (B, D)`` and ``states`` -> ``(output, new_states)``."""
        prepared = self._masks != (None, None)
        if not prepared:
            self.prepare_dropout(inputs.shape[0], inputs.shape[-1], training)
        in_masks, rec_masks = self._masks
        out = self.step(self.project(inputs, in_masks), list(states), rec_masks)
        if not prepared:
            self.clear_dropout()
        return out


def _flat_sizes(state_size) -> list[int]:
    sizes = state_size if isinstance(state_size, (list, tuple)) else [state_size]
    out = []
    for s in sizes:
        out.extend(_flat_sizes(s) if isinstance(s, (list, tuple)) else [s])
    return out


def _flatten(states) -> list:
    if isinstance(states, (list, tuple)):
        return [leaf for s in states for leaf in _flatten(s)]
    return [states]


class RNN(Layer):
    """Run a cell over the time axis of ``(B, T, F)`` inputs, with Keras's masking rules.

    Args:
        cell: a cell (``call(x_t, states) -> (output, new_states)``, ``state_size``), or a list
            of cells, which becomes a `StackedRNNCells`.
        return_sequences: return every step's output ``(B, T, u)`` instead of the last ``(B, u)``.
        return_state: also return the final states (``[output, h, c]`` for an LSTM).
        go_backwards: process the sequence in reverse (outputs in processing order).
        stateful: keep the final states of each batch as the initial states of the next (same
            batch size every call, fixed by ``batch_input_shape``/``Input(batch_shape=...)`` or
            the first call); `reset_state` zeroes them.
        unroll: unroll the time loop (same numbers; ``lax.scan`` with full unrolling).
        zero_output_for_mask: emit zeros at masked steps of returned sequences instead of the
            carried output.

    Call arguments:
        inputs: ``(B, T, F)``.
        initial_state: list of state arrays (``[h, c]`` for an LSTM; one list per cell for a
            stack), replacing the zero (or stateful) states.
        mask: boolean ``(B, T)``.
        training: turns dropout on.

    A masked step (``mask[b, t] == False``) leaves the state unchanged; with
    ``return_sequences=False`` the output is ``h`` at the last valid step, and the mask is dropped.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> rnn = layers.RNN([layers.LSTMCell(4), layers.GRUCell(3)], return_state=True)
        >>> out, lstm_states, gru_states = rnn(np.zeros((2, 5, 3), "float32"))
        >>> out.shape, len(lstm_states), len(gru_states)
        ((2, 3), 2, 1)

    """

    supports_masking = True

    def __init__(self, cell, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(list(cell))
        if not isinstance(cell, Layer) or not hasattr(cell, "state_size") or \
                not callable(getattr(cell, "call", None)):
            raise ValueError(
                f"RNN expects a cell layer with `state_size` and `call(inputs, states)` (e.g. "
                f"LSTMCell, GRUCell, SimpleRNNCell) or a list of them; received {cell!r}."
            )
        self.cell = cell  # tracked as a sub-layer (`layers.tracking`)
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = stateful
        self.unroll = unroll
        self.zero_output_for_mask = zero_output_for_mask
        self.states = None
        self._state_vars: list[Variable] = []
        self._input_dim = None

    def __getattr__(self, name):
        # units, activation, kernel, ... are the cell's, as in Keras.
        if name != "cell" and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def state_size(self):
        """The cell's ``state_size`` as a list (one entry per state, nested for a stack)."""
        sizes = self.cell.state_size
        return list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]

    def _check_rank(self, shape) -> None:
        if len(shape) != 3:
            raise ValueError(
                f"Input of layer {self.name!r} is incompatible: expected ndim=3 "
                f"(batch, timesteps, features), found ndim={len(shape)} with shape "
                f"{tuple(shape)}. For a single feature per step reshape to (batch, timesteps, 1)."
            )
        if shape[1] == 0:
            raise ValueError(
                f"Layer {self.name!r} received sequences of 0 time steps (shape "
                f"{tuple(shape)}); an RNN needs at least one step. Drop the empty sequences, or "
                "pad them to one step and mask it (Masking)."
            )

    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape``."""
        self._check_rank(input_shape)
        self.cell._maybe_build((input_shape[0], input_shape[-1]))
        self._input_dim = input_shape[-1]
        if self.stateful:
            batch = input_shape[0]
            if batch is None:
                raise ValueError(
                    f"Layer {self.name!r} has stateful=True, which needs a fixed batch size, but "
                    f"the input shape {tuple(input_shape)} has none. Pass "
                    "batch_input_shape=(batch, timesteps, features) to the layer or start the "
                    "model with Input(batch_shape=(batch, timesteps, features))."
                )
            zeros = _flatten(initial_state_of(self.cell, batch))
            self._state_vars = [Variable(z, name="rnn_state", path=current_path("rnn_state"),
                                         trainable=False) for z in zeros]
            for var in self._state_vars:
                var.is_state = True  # not a weight (as Keras): `layers.tracking` skips it
            self.states = self._structure(self._state_vars)
        self.built = True

    def reset_state(self) -> None:
        """Zero the states of a stateful layer (Keras's ``reset_state``)."""
        for v in self._state_vars:
            v.assign(jnp.zeros(v.shape, jnp.float32))

    def reset_states(self) -> None:
        """Alias of `reset_state`."""
        self.reset_state()

    def _check_input(self, inputs) -> None:
        self._check_rank(inputs.shape)
        if self._input_dim is not None and inputs.shape[-1] != self._input_dim:
            raise ValueError(
                f"Input of layer {self.name!r} is incompatible: expected {self._input_dim} "
                f"features on the last axis (the layer was built for that), received input with "
                f"shape {tuple(inputs.shape)}."
            )
        if self.stateful and self._state_vars and inputs.shape[0] != self._state_vars[0].shape[0]:
            raise ValueError(
                f"Layer {self.name!r} is stateful with batch size "
                f"{self._state_vars[0].shape[0]}, but received a batch of {inputs.shape[0]} "
                f"(input shape {tuple(inputs.shape)}). A stateful layer needs the same batch "
                "size at every call; pass batch_size= to predict/fit accordingly, or build a "
                "new layer for a different batch size."
            )

    def _initial_state(self, inputs, initial_state) -> list:
        """Return the flat list of initial states after checking count and shapes."""
        batch = inputs.shape[0]
        sizes = _flat_sizes(self.cell.state_size)
        if initial_state is None:
            if self.stateful:
                return [v.value for v in self._state_vars]
            return [jnp.asarray(s, jnp.float32)
                    for s in _flatten(initial_state_of(self.cell, batch))]
        states = _flatten(initial_state)
        expected = [(batch, s) for s in sizes]
        if len(states) != len(sizes):
            raise ValueError(
                f"Layer {self.name!r} expects {len(sizes)} initial state(s) of shapes "
                f"{expected}; received {len(states)}. Pass initial_state as a list with one "
                "array per state (an LSTM has two, [h, c]; a GRU or SimpleRNN one)."
            )
        out = []
        for i, (s, shape) in enumerate(zip(states, expected, strict=True)):
            s = jnp.asarray(s, jnp.float32)
            if s.shape != shape:
                raise ValueError(
                    f"Layer {self.name!r}: initial state {i} expected shape {shape} "
                    f"(batch, units), received {tuple(s.shape)}."
                )
            out.append(s)
        return out

    def _structure(self, flat: list) -> list:
        """Flat states -> ``[h, c]`` for one cell, ``[[h, c], [h2], ...]`` for a stack."""
        if not isinstance(self.cell, StackedRNNCells):
            return list(flat)
        out, i = [], 0
        for cell, s in zip(self.cell.cells, self.cell.state_size, strict=True):
            n = len(_flat_sizes(s))
            out.append(list(flat[i:i + n]) if state_is_list(cell) else flat[i])
            i += n
        return out

    def _unroll_arg(self, inputs):
        return max(1, inputs.shape[1]) if self.unroll else 1

    def inner_loop(self, inputs, initial_state, mask, training, return_states=False,
                   offsets=None):
        """Return ``(last_output, outputs, flat_final_states)`` (and the state sequences).

        Built-in cells get the input projection for all steps in one matmul; other cells
        (and stacks) are called step by step. ``return_states`` and ``offsets`` are those of
        `unrolled.ops.rnn.scan` (set by a `unrolled.layers.capture.Capture`); ``offsets`` is
        ``{"states": [(B, T, n) per flat state], "gates": (B, T, G*u)}``.
        """
        cell = self.cell
        offsets = offsets or {}
        if hasattr(cell, "project") and hasattr(cell, "step"):
            in_masks, rec_masks = cell.current_masks()
            xs = cell.project(inputs, in_masks)  # (B, T, G*u)
            if offsets.get("gates") is not None:
                xs = xs + offsets["gates"]  # (B, T, G*u)

            def step_fn(x_t, flat):
                out, new = cell.step(x_t, list(flat), rec_masks)
                return out, _flatten(new)
        else:
            xs = inputs

            def step_fn(x_t, flat):
                out, new = call_cell(cell, x_t, self._structure(flat), training)
                return out, _flatten(new)

        # The output repeated at a masked step is the state listed first: the last cell's h.
        n = len(initial_state)
        stacked = isinstance(cell, StackedRNNCells)
        first = n - len(_flat_sizes(cell.state_size[-1])) if stacked else 0
        perm = [first] + [i for i in range(n) if i != first]

        def unpermute(values):
            flat = [None] * n
            for j, i in enumerate(perm):
                flat[i] = values[j]
            return flat

        def step(x_t, carry):
            out, new = step_fn(x_t, unpermute(carry))
            return out, [new[i] for i in perm]

        state_offsets = offsets.get("states")
        result = rnn.scan(
            step, xs, [initial_state[i] for i in perm], mask=mask,
            go_backwards=self.go_backwards, zero_output_for_mask=self.zero_output_for_mask,
            unroll=self._unroll_arg(inputs), return_states=return_states,
            state_offsets=None if state_offsets is None else [state_offsets[i] for i in perm])
        last, outputs, final = result[:3]
        if return_states:
            return last, outputs, unpermute(final), unpermute(result[3])
        return last, outputs, unpermute(final)

    def call(self, inputs, initial_state=None, mask=None, training=False):
        """Run the cell over ``inputs (B, T, F)``; see the class docstring."""
        self._check_input(inputs)
        states = self._initial_state(inputs, initial_state)
        if mask is not None:
            mask = jnp.asarray(mask).astype(bool)
            if mask.shape != inputs.shape[:2]:
                raise ValueError(
                    f"Layer {self.name!r}: mask expected shape {tuple(inputs.shape[:2])} "
                    f"(batch, timesteps), received {tuple(mask.shape)}."
                )
        request = capture.requested(self)  # None outside unrolled.inspect
        extra = {} if request is None else {"return_states": True, "offsets": request.offsets}
        prepare = getattr(self.cell, "prepare_dropout", None)
        if prepare is not None:
            prepare(inputs.shape[0], inputs.shape[-1], training)
        try:
            last, outputs, final, *seqs = self.inner_loop(inputs, states, mask, training,
                                                          **extra)
        finally:
            if prepare is not None:
                self.cell.clear_dropout()
        if self.stateful:
            for var, value in zip(self._state_vars, final, strict=True):
                var.assign(value)
        output = outputs if self.return_sequences else last
        if request is not None:
            request.record(inputs=inputs, mask=mask, initial_states=states, states=seqs[0],
                           output=output)
        if self.return_state:
            return [output, *self._structure(final)]
        return output

    def compute_output_shape(self, input_shape):
        """Output shape(s) for ``input_shape`` (states too with ``return_state``)."""
        batch = input_shape[0]
        out = output_size_of(self.cell)
        shape = (batch, input_shape[1], out) if self.return_sequences else (batch, out)
        if not self.return_state:
            return shape

        flat = [(batch, s) for s in _flat_sizes(self.state_size)]
        return [shape, *self._structure(flat)]

    def compute_mask(self, inputs, mask=None):
        """Return the input mask with ``return_sequences``, else ``None`` (``None`` for states)."""
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out_mask = mask if self.return_sequences else None
        if self.return_state:
            return [out_mask] + [None] * len(self.state_size)
        return out_mask

    def get_config(self):
        """Return the constructor arguments (Keras's keys)."""
        config = {
            **super().get_config(), "return_sequences": self.return_sequences,
            "return_state": self.return_state, "go_backwards": self.go_backwards,
            "stateful": self.stateful, "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        }
        if type(self) is RNN:
            config["cell"] = serialize_layer(self.cell)
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        """Recreate the layer from `get_config`'s output.

        A user-defined cell class is found by name (``custom_objects`` first, then the defined
        subclasses of `Layer`; see `unrolled.saving.serialization_lib.layer_class`).
        """
        config = dict(config)
        if "cell" in config:
            config["cell"] = deserialize_layer(config["cell"], custom_objects)
        return super().from_config(config)

    def _cell_layer_config(self) -> dict:
        """Config of LSTM/GRU/SimpleRNN: the RNN keys plus the cell's (Keras's layout)."""
        cell = {k: v for k, v in self.cell.get_config().items()
                if k not in ("name", "trainable", "dtype")}
        config = {**RNN.get_config(self), **cell}
        config["activity_regularizer"] = config.get("activity_regularizer")
        return config
