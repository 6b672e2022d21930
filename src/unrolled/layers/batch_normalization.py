"""`BatchNormalization`: normalise each feature by batch statistics, as Keras 3."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from unrolled.layers import initializers, regularizers
from unrolled.layers.base import Layer

_EPSILON = 1e-7  # keras.backend.epsilon(), in the masked moments


class BatchNormalization(Layer):
    """Normalise the ``axis`` features by the batch's statistics, then scale and shift.

    ``y = (x - mean) / sqrt(var + epsilon) * gamma + beta``. In training (``training=True`` and
    the layer trainable) ``mean`` and the biased ``var`` come from the batch, over every axis
    but ``axis`` (only the unmasked steps when a mask is given), and the non-trainable weights
    follow them: ``moving_mean = momentum * moving_mean + (1 - momentum) * mean`` (likewise
    ``moving_variance``). At inference, or when the layer is frozen, ``moving_mean`` and
    ``moving_variance`` take their place. Masks pass through.

    Args:
        axis: the feature axis (default ``-1``).
        momentum: of the moving statistics (default ``0.99``).
        epsilon: added to the variance (default ``1e-3``).
        center: learn ``beta``; scale: learn ``gamma``.
        beta_initializer, gamma_initializer: default ``"zeros"`` and ``"ones"``.
        moving_mean_initializer, moving_variance_initializer: default ``"zeros"`` and ``"ones"``.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> bn = layers.BatchNormalization()
        >>> y = bn(np.array([[0.0], [2.0]], "float32"), training=True)
        >>> np.round(y, 2).tolist(), round(float(bn.moving_mean.numpy()[0]), 4)
        ([[-1.0], [1.0]], 0.01)
        >>> [w.name for w in bn.weights]
        ['gamma', 'beta', 'moving_mean', 'moving_variance']

    """

    supports_masking = True

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 renorm: bool = False, renorm_clipping=None, renorm_momentum: float = 0.99,
                 synchronized: bool = False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"BatchNormalization: axis must be one integer (the feature axis); "
                            f"received {axis!r}.")
        if synchronized:
            raise ValueError("BatchNormalization: synchronized=True needs Keras's TensorFlow "
                             "backend (Keras on JAX refuses it too); pass synchronized=False.")
        if renorm:
            raise ValueError("BatchNormalization: renorm=True (batch renormalization) is not "
                             "supported by unrolled yet; pass renorm=False.")
        regularizers.set_options(self, beta_regularizer=beta_regularizer,
                                 gamma_regularizer=gamma_regularizer,
                                 beta_constraint=beta_constraint,
                                 gamma_constraint=gamma_constraint)
        self.axis = axis
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.renorm_clipping = renorm_clipping  # unused without renorm, kept for the config
        self.renorm_momentum = float(renorm_momentum)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def _feature_axis(self, ndim: int) -> int:
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"BatchNormalization {self.name!r}: axis {self.axis} is out of "
                             f"range for inputs of rank {ndim}.")
        return self.axis % ndim

    def build(self, input_shape):
        """Create ``gamma``, ``beta``, ``moving_mean``, ``moving_variance`` (Keras's order)."""
        size = input_shape[self._feature_axis(len(input_shape))]
        if size is None:
            raise ValueError(f"BatchNormalization {self.name!r} needs the size of axis "
                             f"{self.axis} known; input shape {tuple(input_shape)}.")
        shape = (size,)
        self.gamma = self.add_weight("gamma", shape, self.gamma_initializer,
                                     regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint) if self.scale else None
        self.beta = self.add_weight("beta", shape, self.beta_initializer,
                                    regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint) if self.center else None
        self.moving_mean = self.add_weight("moving_mean", shape, self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight(
            "moving_variance", shape, self.moving_variance_initializer, trainable=False)
        self.built = True

    def _moments(self, inputs, axes, mask):
        if mask is None:
            return jnp.mean(inputs, axes), jnp.var(inputs, axes)  # (C,) each
        if mask.ndim != inputs.ndim - 1:
            raise ValueError(f"BatchNormalization {self.name!r}: the mask must have one axis "
                             f"less than the inputs; received mask shape {tuple(mask.shape)} "
                             f"for inputs of shape {tuple(inputs.shape)}.")
        keep = jnp.broadcast_to(mask[..., None].astype(bool), inputs.shape)  # input shape
        count = jnp.sum(keep.astype(inputs.dtype), axes, keepdims=True) + _EPSILON
        mean = jnp.sum(jnp.where(keep, inputs, 0.0), axes, keepdims=True) / count
        var = jnp.sum(jnp.where(keep, inputs - mean, 0.0) ** 2, axes, keepdims=True) / count
        return jnp.squeeze(mean, axes), jnp.squeeze(var, axes)  # (C,) each

    def call(self, inputs, training=False, mask=None):
        """Normalise; in training also update the moving statistics (see the class docstring)."""
        feature = self._feature_axis(inputs.ndim)
        axes = tuple(a for a in range(inputs.ndim) if a != feature)
        if training and self.trainable:
            mean, var = self._moments(inputs, axes, mask)
            m = self.momentum
            self.moving_mean.assign(self.moving_mean.value * m + mean * (1.0 - m))
            self.moving_variance.assign(self.moving_variance.value * m + var * (1.0 - m))
        else:
            mean, var = self.moving_mean.value, self.moving_variance.value
        shape = [1] * inputs.ndim
        shape[feature] = inputs.shape[feature]
        inv = jax.lax.rsqrt(var.reshape(shape) + self.epsilon)  # broadcast to the features
        if self.gamma is not None:
            inv = inv * self.gamma.value.reshape(shape)
        shift = -mean.reshape(shape) * inv
        if self.beta is not None:
            shift = shift + self.beta.value.reshape(shape)
        return inputs * inv + shift  # input shape

    def compute_output_shape(self, input_shape):
        """Return ``input_shape``."""
        return tuple(input_shape)

    def get_config(self):
        """Return the constructor arguments (Keras keys)."""
        def init(i):
            return initializers.serialize(i)

        return {
            **super().get_config(), "axis": self.axis, "momentum": self.momentum,
            "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
            "beta_initializer": init(self.beta_initializer),
            "gamma_initializer": init(self.gamma_initializer),
            "moving_mean_initializer": init(self.moving_mean_initializer),
            "moving_variance_initializer": init(self.moving_variance_initializer),
            **regularizers.options_config(self, "beta_regularizer", "gamma_regularizer",
                                          "beta_constraint", "gamma_constraint"),
            "synchronized": False, "renorm": False,
            "renorm_clipping": self.renorm_clipping, "renorm_momentum": self.renorm_momentum,
        }
