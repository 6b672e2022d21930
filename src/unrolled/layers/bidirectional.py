"""`Bidirectional`: run a recurrent layer forwards and a copy backwards, and merge the outputs."""

from __future__ import annotations

import jax.numpy as jnp

from unrolled.layers.base import Layer, set_weight_values
from unrolled.layers.rnn import RNN
from unrolled.saving.serialization_lib import deserialize_layer, serialize_layer

MERGE_MODES = ("concat", "sum", "ave", "mul", None)


def _renamed(layer: RNN, prefix: str, **changes) -> RNN:
    """Return a fresh copy of ``layer`` from its config, named ``prefix + name`` (as Keras)."""
    config = layer.get_config()
    base = layer.name[len(prefix):] if layer.name.startswith(prefix) else layer.name
    config.update(name=prefix + base, **changes)
    return type(layer).from_config(config)


class Bidirectional(Layer):
    """Bidirectional wrapper for RNNs, exactly as Keras 3.

    The forward layer is a fresh copy of ``layer`` named ``forward_<name>``; the backward layer is
    another copy with ``go_backwards=True`` named ``backward_<name>`` (or ``backward_layer``).
    Weight paths are ``bidirectional/forward_lstm/lstm_cell/kernel``, ... forward first. With
    ``return_sequences`` both directions emit zeros at masked steps (Keras forces
    ``zero_output_for_mask``) and the backward sequence is flipped back to input order.

    Args:
        layer: a recurrent layer (`LSTM`, `GRU`, `SimpleRNN` or `RNN`).
        merge_mode: ``"concat"`` (default), ``"sum"``, ``"ave"``, ``"mul"`` or ``None`` (return
            both outputs as a list).
        weights: optional initial weights (forward half then backward half).
        backward_layer: optional recurrent layer for the backward direction; it must have
            ``go_backwards`` opposite to ``layer`` and the same ``return_sequences``,
            ``return_state`` and ``stateful``.

    Call arguments:
        inputs: ``(B, T, F)``.
        initial_state: list of states, the forward layer's first half, the backward's second.
        mask: boolean ``(B, T)``.
        training: turns dropout on.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> bi = layers.Bidirectional(layers.LSTM(4, return_sequences=True))
        >>> bi(np.zeros((2, 5, 3), "float32")).shape
        (2, 5, 8)
        >>> bi.weights[0].path
        'bidirectional/forward_lstm/lstm_cell/kernel'

    """

    supports_masking = True

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, RNN):
            raise ValueError(
                "Bidirectional wraps a recurrent layer (LSTM, GRU, SimpleRNN or RNN); received "
                f"{type(layer).__name__} {getattr(layer, 'name', layer)!r}. Put the recurrent "
                "layer inside: Bidirectional(LSTM(16))."
            )
        if backward_layer is not None and not isinstance(backward_layer, RNN):
            raise ValueError(
                "`backward_layer` must be a recurrent layer (LSTM, GRU, SimpleRNN or RNN); "
                f"received {type(backward_layer).__name__}."
            )
        if merge_mode not in MERGE_MODES:
            raise ValueError(
                f"Invalid merge_mode {merge_mode!r}; expected one of {list(MERGE_MODES)}."
            )
        super().__init__(**kwargs)
        if self._batch_input_shape is None:
            self._batch_input_shape = layer._batch_input_shape
        self.forward_layer = _renamed(layer, "forward_")
        if backward_layer is None:
            self.backward_layer = _renamed(layer, "backward_", go_backwards=True)
        else:
            self.backward_layer = backward_layer
        if hasattr(layer, "use_cudnn"):  # not in the config, so carried over as Keras does
            self.forward_layer.use_cudnn = layer.use_cudnn
            self.backward_layer.use_cudnn = layer.use_cudnn
        self._verify()
        for sub in (self.forward_layer, self.backward_layer):
            sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self._initial_weights = weights
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state

    def _verify(self) -> None:
        fwd, bwd = self.forward_layer, self.backward_layer
        if fwd.go_backwards == bwd.go_backwards:
            raise ValueError(
                "Forward layer and backward layer should have different `go_backwards` values; "
                f"both have go_backwards={fwd.go_backwards}. Pass a backward_layer with "
                f"go_backwards={not fwd.go_backwards}."
            )
        for attr in ("stateful", "return_sequences", "return_state"):
            if getattr(fwd, attr) != getattr(bwd, attr):
                raise ValueError(
                    f"Forward layer and backward layer must have the same {attr!r}; got "
                    f"{getattr(fwd, attr)} for the forward layer and {getattr(bwd, attr)} for "
                    "the backward layer."
                )

    def build(self, input_shape):
        """Build both directions for inputs of ``input_shape``."""
        self.forward_layer._maybe_build(input_shape)
        self.backward_layer._maybe_build(input_shape)
        if self._initial_weights is not None:
            set_weight_values(self.weights, self._initial_weights, f"layer {self.name!r}")
            self._initial_weights = None
        self.built = True

    @property
    def states(self):
        """The stateful state variables, forward then backward (``None`` when not stateful)."""
        if self.forward_layer.states and self.backward_layer.states:
            return tuple(self.forward_layer.states + self.backward_layer.states)
        return None

    def reset_state(self) -> None:
        """Zero both directions' states (the layer must be stateful)."""
        if not self.stateful:
            raise AttributeError(
                f"Layer {self.name!r} is not stateful, so it has no states to reset; build it "
                "from a layer with stateful=True."
            )
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self) -> None:
        """Alias of `reset_state`."""
        self.reset_state()

    def _merge(self, y, y_rev):
        if self.merge_mode == "concat":
            return jnp.concatenate([y, y_rev], axis=-1)  # (..., 2u)
        if self.merge_mode == "sum":
            return y + y_rev
        if self.merge_mode == "ave":
            return (y + y_rev) / 2
        if self.merge_mode == "mul":
            return y * y_rev
        return [y, y_rev]

    def call(self, inputs, initial_state=None, mask=None, training=False):
        """Run both directions and merge; see the class docstring."""
        forward_state = backward_state = None
        if initial_state is not None:
            states = list(initial_state)
            if len(states) % 2:
                raise ValueError(
                    f"Layer {self.name!r}: initial_state must hold the forward layer's states "
                    f"followed by the backward layer's (an even count); received {len(states)}."
                )
            half = len(states) // 2
            forward_state, backward_state = states[:half], states[half:]
        y = self.forward_layer.call(inputs, initial_state=forward_state, mask=mask,
                                    training=training)
        y_rev = self.backward_layer.call(inputs, initial_state=backward_state, mask=mask,
                                         training=training)
        states = []
        if self.return_state:
            states = [*y[1:], *y_rev[1:]]
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = jnp.flip(y_rev, axis=1)  # (B, T, u), back in input order
        output = self._merge(y, y_rev)
        if self.return_state:
            return [*output, *states] if self.merge_mode is None else [output, *states]
        return output

    def compute_output_shape(self, input_shape):
        """Output shape(s) for ``input_shape`` (states too with ``return_state``)."""
        shape = self.forward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:
            shape, states = shape[0], list(shape[1:])
        if self.merge_mode == "concat":
            shape = (*shape[:-1], 2 * shape[-1])
        outputs = [shape, shape] if self.merge_mode is None else [shape]
        if self.return_state:
            return [*outputs, *states, *states]
        return outputs if self.merge_mode is None else shape

    def compute_mask(self, inputs, mask=None):
        """Return the output mask(s), as Keras: the input mask with ``return_sequences``."""
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        outs = [out, out] if self.merge_mode is None else [out]
        if self.return_state:
            n = len(self.forward_layer.state_size)
            return [*outs, *([None] * (2 * n))]
        return outs if self.merge_mode is None else out

    def get_config(self):
        """Return the constructor arguments (Keras's keys)."""
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": serialize_layer(self.forward_layer),
                "backward_layer": serialize_layer(self.backward_layer)}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        """Recreate the layer from `get_config`'s output."""
        config = dict(config)
        config["layer"] = deserialize_layer(config["layer"], custom_objects)
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize_layer(config["backward_layer"],
                                                         custom_objects)
        return super().from_config(config)
