"""`TimeDistributed`: apply one layer to every time step of ``(B, T, ...)`` inputs."""

from __future__ import annotations

from unrolled.layers.base import Layer
from unrolled.saving.serialization_lib import deserialize_layer, serialize_layer


class TimeDistributed(Layer):
    """Apply ``layer`` to every time step with the same weights (``keras.layers.TimeDistributed``).

    The inputs ``(B, T, ...)`` are folded to ``(B * T, ...)``, passed through the layer once and
    unfolded to ``(B, T, ...)`` (the same numbers as Keras's step-by-step loop for deterministic
    layers). The weights are the wrapped layer's, under ``time_distributed/<layer>/``. A
    ``(B, T)`` mask passes through to the output; it is not handed to the wrapped layer.

    Args:
        layer: the layer to apply (e.g. ``Dense(3)``).

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> td = layers.TimeDistributed(layers.Dense(3))
        >>> td(np.zeros((2, 5, 4), "float32")).shape
        (2, 5, 3)
        >>> [w.path for w in td.weights]
        ['time_distributed/dense/kernel', 'time_distributed/dense/bias']

    """

    supports_masking = True

    def __init__(self, layer: Layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed needs a layer instance, e.g. "
                             f"TimeDistributed(Dense(3)); received {layer!r}.")
        super().__init__(**kwargs)
        self.layer = layer  # tracked as a sub-layer (`layers.tracking`)

    def _child_shape(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) < 3:
            raise ValueError(
                f"TimeDistributed {self.name!r} expects inputs of rank >= 3 (batch, time, ...); "
                f"received shape {input_shape}."
            )
        return (input_shape[0], *tuple(input_shape)[2:])

    def build(self, input_shape):
        """Create the layer's weights for inputs of ``input_shape``."""
        self.layer._maybe_build(self._child_shape(tuple(input_shape)))
        self.built = True

    def call(self, inputs, mask=None, training=False):
        """Compute the outputs from JAX arrays."""
        self._child_shape(tuple(inputs.shape))
        b, t = inputs.shape[:2]
        flat = inputs.reshape(b * t, *inputs.shape[2:])  # (B*T, ...)
        y = self.layer.call(flat, training=training)  # (B*T, ...)
        return y.reshape(b, t, *y.shape[1:])  # (B, T, ...)

    def compute_output_shape(self, input_shape):
        """Return the output shape for ``input_shape``."""
        child = self.layer.compute_output_shape(self._child_shape(tuple(input_shape)))
        return (child[0], input_shape[1], *tuple(child)[1:])

    def get_config(self):
        """Return the constructor arguments (Keras keys)."""
        return {**super().get_config(), "layer": serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        """Recreate the layer (and the wrapped one) from `get_config`'s output."""
        config = dict(config)
        config["layer"] = deserialize_layer(config["layer"], custom_objects)
        return super().from_config(config)
