"""`LayerNormalization`: normalise each sample over its feature axes, as Keras 3."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from unrolled.layers import initializers, regularizers
from unrolled.layers.base import Layer


class LayerNormalization(Layer):
    """Normalise over ``axis`` per sample (and per time step), then scale and shift.

    ``y = (x - mean) / sqrt(var + epsilon) * gamma + beta`` with mean and (biased) variance over
    ``axis``; with ``rms_scaling=True``, ``y = x / sqrt(var + epsilon) * gamma`` (Keras 3's rule:
    it still divides by the variance, not the mean square, and has no beta). Masks pass through.

    Args:
        axis: int or list of ints to normalise over (default ``-1``, the features).
        epsilon: added to the variance (default ``1e-3``, Keras's default).
        center: learn ``beta`` (added).
        scale: learn ``gamma`` (multiplied).
        rms_scaling: see above.
        beta_initializer, gamma_initializer: default ``"zeros"`` and ``"ones"``.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> y = layers.LayerNormalization()(np.array([[1.0, 3.0]], "float32"))
        >>> [round(float(v), 4) for v in y[0]]  # (x - mean) / sqrt(var + 1e-3)
        [-0.9995, 0.9995]

    """

    supports_masking = True

    def __init__(self, axis=-1, epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                 rms_scaling: bool = False, beta_initializer="zeros", gamma_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = list(axis)
        elif isinstance(axis, int):
            self.axis = axis
        else:
            raise TypeError(f"LayerNormalization: axis must be an int or a list of ints; "
                            f"received {axis!r}.")
        regularizers.set_options(self, beta_regularizer=beta_regularizer,
                                 gamma_regularizer=gamma_regularizer,
                                 beta_constraint=beta_constraint,
                                 gamma_constraint=gamma_constraint)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.rms_scaling = bool(rms_scaling)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)

    def _axes(self, ndim: int) -> list[int]:
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if not -ndim <= a < ndim:
                raise ValueError(f"LayerNormalization {self.name!r}: axis {a} is out of range "
                                 f"for inputs of rank {ndim}.")
        return sorted(a % ndim for a in axes)

    def build(self, input_shape):
        """Create the layer's weights for inputs of ``input_shape``."""
        axes = self._axes(len(input_shape))
        shape = tuple(input_shape[a] for a in axes)
        if any(d is None for d in shape):
            raise ValueError(f"LayerNormalization {self.name!r} needs known sizes on the "
                             f"normalised axes {axes}; input shape {tuple(input_shape)}.")
        self.gamma = (self.add_weight("gamma", shape, self.gamma_initializer,
                                      regularizer=self.gamma_regularizer,
                                      constraint=self.gamma_constraint)
                      if self.scale or self.rms_scaling else None)
        self.beta = (self.add_weight("beta", shape, self.beta_initializer,
                                     regularizer=self.beta_regularizer,
                                     constraint=self.beta_constraint)
                     if self.center and not self.rms_scaling else None)
        self.built = True

    def call(self, inputs, mask=None, training=False):
        """Compute the outputs from JAX arrays."""
        axes = self._axes(inputs.ndim)
        bshape = [1] * inputs.ndim
        for a in axes:
            bshape[a] = inputs.shape[a]

        def broadcast(w):
            return None if w is None else w.value.reshape(bshape)

        gamma, beta = broadcast(self.gamma), broadcast(self.beta)
        mean = jnp.mean(inputs, axis=axes, keepdims=True)  # (B, ..., 1)
        var = jnp.var(inputs, axis=axes, keepdims=True)  # (B, ..., 1)
        inv = jax.lax.rsqrt(var + self.epsilon)  # (B, ..., 1)
        if self.rms_scaling:
            out = inputs * inv  # input shape
            return out if gamma is None else out * gamma
        if gamma is not None:
            inv = inv * gamma  # input shape (broadcast)
        shift = -mean * inv if beta is None else -mean * inv + beta
        return inputs * inv + shift  # input shape

    def compute_output_shape(self, input_shape):
        """Return the output shape for ``input_shape``."""
        return tuple(input_shape)

    def get_config(self):
        """Return the constructor arguments (Keras keys)."""
        return {
            **super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale, "rms_scaling": self.rms_scaling,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            **regularizers.options_config(self, "beta_regularizer", "gamma_regularizer",
                                          "beta_constraint", "gamma_constraint"),
        }
