"""Recurrent layers: the generic `RNN` wrapper, `LSTMCell` and `LSTM`.

An ``LSTM(u)`` is ONE layer of ``u`` memory cells (not ``u`` separate blocks): every cell has its
own input, forget and output gates and candidate, and the layer keeps all of them in three
arrays, ``kernel (D, 4u)``, ``recurrent_kernel (u, 4u)`` and ``bias (4u,)``, whose column blocks
are the gates ``[i | f | c | o]``; column ``k * u + j`` belongs to gate ``k`` of cell ``j``. The
same weights are reused at each of the T time steps. See `unrolled.ops.rnn` for the equations.

Every built-in cell splits its step into ``project`` (the input side, ``x @ kernel + bias``,
which `RNN` computes for all time steps in one matmul) and ``step`` (the recurrent side, the
only part inside the scan).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from unrolled.layers import initializers
from unrolled.layers.base import Layer
from unrolled.layers.core import _no_extras
from unrolled.layers.random import SeedGenerator
from unrolled.layers.stacked import (
    StackedRNNCells,
    call_cell,
    initial_state_of,
    output_size_of,
    state_is_list,
)
from unrolled.layers.variables import Variable, current_path
from unrolled.ops import activations, rnn


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


def serialize_layer(layer: Layer) -> dict:
    """Keras's serialized form of a layer: class name plus config."""
    from unrolled import layers as registry  # lazy: the registry imports this module

    name = type(layer).__name__
    if registry._REGISTRY.get(name) is type(layer):
        return {"module": "keras.layers", "class_name": name, "config": layer.get_config(),
                "registered_name": None}
    return {"module": type(layer).__module__, "class_name": name,
            "config": layer.get_config(), "registered_name": name}


def _layer_subclasses(base: type) -> list[type]:
    found = []
    for sub in base.__subclasses__():
        found.append(sub)
        found.extend(_layer_subclasses(sub))
    return found


def layer_class(name: str, custom_objects: dict | None = None,
                module: str | None = None) -> type:
    """Return the layer class called ``name``.

    Looked up in ``custom_objects``, then the built-ins, then among the defined subclasses of
    `Layer` (a user-defined cell such as Keras's ``OneStateRNNCell``), preferring one from
    ``module`` when several share the name. Nothing is imported.
    """
    from unrolled import layers as registry  # lazy: the registry imports this module

    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in registry._REGISTRY:
        return registry._REGISTRY[name]
    matches = {c for c in _layer_subclasses(Layer) if c.__name__ == name}
    if len(matches) > 1 and module is not None:
        matches = {c for c in matches if c.__module__ == module} or matches
    if len(matches) == 1:
        return matches.pop()
    if matches:
        raise ValueError(
            f"Several layer classes are named {name!r} "
            f"({sorted(c.__module__ + '.' + c.__qualname__ for c in matches)}); pass "
            f"custom_objects={{{name!r}: TheClass}} to from_config to choose one."
        )
    raise ValueError(
        f"Unknown layer class {name!r}: it is not a built-in layer and no subclass of "
        "unrolled.layers.Layer with that name is defined. Import or define the class before "
        f"calling from_config, or pass custom_objects={{{name!r}: TheClass}}."
    )


def deserialize_layer(config: dict, custom_objects: dict | None = None) -> Layer:
    """Recreate a layer from `serialize_layer`'s output (or return an existing layer)."""
    if isinstance(config, Layer):
        return config
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(
            "A serialized layer must be a dict with 'class_name' and 'config' (the output of "
            f"get_config of the wrapping layer); received {config!r:.200}."
        )
    cls = layer_class(config["class_name"], custom_objects, config.get("module"))
    return cls.from_config(config.get("config", {}))


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
        self.cell = cell
        self._sublayers.append(cell)
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

    def inner_loop(self, inputs, initial_state, mask, training):
        """Return ``(last_output, outputs, flat_final_states)``.

        Built-in cells get the input projection for all steps in one matmul; other cells
        (and stacks) are called step by step.
        """
        cell = self.cell
        if hasattr(cell, "project") and hasattr(cell, "step"):
            in_masks, rec_masks = cell.current_masks()
            xs = cell.project(inputs, in_masks)  # (B, T, G*u)

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

        def step(x_t, carry):
            flat = [None] * n
            for j, i in enumerate(perm):
                flat[i] = carry[j]
            out, new = step_fn(x_t, flat)
            return out, [new[i] for i in perm]

        last, outputs, final = rnn.scan(
            step, xs, [initial_state[i] for i in perm], mask=mask,
            go_backwards=self.go_backwards, zero_output_for_mask=self.zero_output_for_mask,
            unroll=self._unroll_arg(inputs))
        flat_final = [None] * n
        for j, i in enumerate(perm):
            flat_final[i] = final[j]
        return last, outputs, flat_final

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
        prepare = getattr(self.cell, "prepare_dropout", None)
        if prepare is not None:
            prepare(inputs.shape[0], inputs.shape[-1], training)
        try:
            last, outputs, final = self.inner_loop(inputs, states, mask, training)
        finally:
            if prepare is not None:
                self.cell.clear_dropout()
        if self.stateful:
            for var, value in zip(self._state_vars, final, strict=True):
                var.assign(value)
        output = outputs if self.return_sequences else last
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
        """Recreate the layer from `get_config`'s output (user cells: see `layer_class`)."""
        config = dict(config)
        if "cell" in config:
            config["cell"] = deserialize_layer(config["cell"], custom_objects)
        return super().from_config(config)

    def _cell_layer_config(self) -> dict:
        """Config of LSTM/GRU/SimpleRNN: the RNN keys plus the cell's (Keras's layout)."""
        cell = {k: v for k, v in self.cell.get_config().items()
                if k not in ("name", "trainable", "dtype")}
        return {**RNN.get_config(self), **cell, "activity_regularizer": None}




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
        self.implementation = implementation
        self._init_dropout(dropout, recurrent_dropout, seed)
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape``."""
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

    def project(self, inputs, input_masks=None):
        """Input side ``x @ kernel + bias`` for ``(B, D)`` or ``(B, T, D)`` inputs."""
        bias = None if self.bias is None else self.bias.value
        return project(inputs, self.kernel.value, bias, input_masks)

    def step(self, z_x, states, recurrent_masks=None):
        """Recurrent side: ``z_x (B, 4u)``, ``[h, c]`` -> ``(h, [h, c])``."""
        h, c = states
        if recurrent_masks is not None:
            h = h * recurrent_masks[0]  # (B, u)
        h, c, _ = rnn.lstm_step(z_x, h, c, self.recurrent_kernel.value, self.activation,
                                self.recurrent_activation)
        return h, [h, c]

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
            "kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
            "kernel_constraint": None, "recurrent_constraint": None, "bias_constraint": None,
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

    def inner_loop(self, inputs, initial_state, mask, training):
        """`unrolled.ops.rnn.lstm` (hoisted projection, fused step) unless dropout is active."""
        in_masks, rec_masks = self.cell.current_masks()
        if in_masks is not None or rec_masks is not None:
            return super().inner_loop(inputs, initial_state, mask, training)
        cell = self.cell
        return rnn.lstm(
            inputs, cell.kernel.value, cell.recurrent_kernel.value,
            None if cell.bias is None else cell.bias.value, mask=mask,
            initial_state=initial_state, activation=cell.activation,
            recurrent_activation=cell.recurrent_activation, go_backwards=self.go_backwards,
            zero_output_for_mask=self.zero_output_for_mask, unroll=self._unroll_arg(inputs),
        )

    def get_config(self):
        """Return the constructor arguments (Keras's keys)."""
        return self._cell_layer_config()
