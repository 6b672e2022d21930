"""`Dropout` and `SpatialDropout1D`: random zeroing during training, identity at inference."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from unrolled.layers.base import Layer
from unrolled.layers.random import SeedGenerator


class Dropout(Layer):
    """Zero a fraction ``rate`` of the inputs during training and scale the rest by ``1/(1-rate)``.

    At inference (``training=False``, the default of `predict` and `evaluate`) it returns the
    inputs unchanged. Masks pass through. Keys come from ``SeedGenerator(seed)``; inside a jitted
    train step they derive from the step's key, so every step draws a new pattern.

    Args:
        rate: fraction of the units to drop, in ``[0, 1]``.
        noise_shape: shape of the keep/drop pattern, broadcast against the input; ``None`` for the
            input's shape. A ``None`` entry takes the input's size on that axis.
        seed: integer seed.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> x = np.ones((2, 3), "float32")
        >>> layers.Dropout(0.5)(x).tolist()  # inference: identity
        [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]

    """

    supports_masking = True

    def __init__(self, rate: float, noise_shape=None, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(
                f"Invalid value received for argument `rate` of {type(self).__name__}: expected "
                f"a float in [0, 1], received rate={rate!r}."
            )
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self.seed_generator = SeedGenerator(seed)

    def _noise_shape(self, inputs) -> tuple[int, ...]:
        if self.noise_shape is None:
            return tuple(inputs.shape)
        if len(self.noise_shape) != inputs.ndim:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: noise_shape {self.noise_shape} must have "
                f"one entry per input axis; the input has shape {tuple(inputs.shape)}."
            )
        pairs = zip(self.noise_shape, inputs.shape, strict=True)
        return tuple(d if n is None else n for n, d in pairs)

    def call(self, inputs, mask=None, training=False):
        """Compute the outputs from JAX arrays."""
        if not training or self.rate == 0.0:
            return inputs
        if self.rate == 1.0:
            return jnp.zeros_like(inputs)
        keep_prob = 1.0 - self.rate
        keep = jax.random.bernoulli(self.seed_generator.next(), keep_prob,
                                    self._noise_shape(inputs))  # noise_shape
        keep = jnp.broadcast_to(keep, inputs.shape)  # input shape
        return jnp.where(keep, inputs / keep_prob, 0.0).astype(inputs.dtype)

    def compute_output_shape(self, input_shape):
        """Return the output shape for ``input_shape``."""
        return tuple(input_shape)

    def get_config(self):
        """Return the constructor arguments (Keras keys)."""
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
                "seed": self.seed}


class SpatialDropout1D(Dropout):
    """Dropout of whole feature channels: one keep/drop draw per (sample, feature), all steps.

    Args:
        rate: fraction of the channels to drop, in ``[0, 1]``.
        seed: integer seed.

    Input shape:
        ``(batch, timesteps, channels)``.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> y = layers.SpatialDropout1D(0.5, seed=1)(np.ones((2, 4, 3), "float32"), training=True)
        >>> bool(np.all(y == y[:, :1]))  # the same pattern at every step
        True

    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)

    def _noise_shape(self, inputs):
        if inputs.ndim != 3:
            raise ValueError(
                f"SpatialDropout1D {self.name!r} expects inputs of rank 3 (batch, timesteps, "
                f"channels); received shape {tuple(inputs.shape)}."
            )
        return (inputs.shape[0], 1, inputs.shape[2])

    def get_config(self):
        """Return the constructor arguments (Keras keys)."""
        config = super().get_config()
        config.pop("noise_shape")
        return config
