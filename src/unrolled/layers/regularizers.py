"""Keras 3 weight regularizers: ``L1``, ``L2``, ``L1L2``, ``OrthogonalRegularizer``.

A regularizer maps a weight to a scalar penalty; a layer given ``kernel_regularizer=L2(0.01)``
passes it to `Layer.add_weight`, `Layer.losses` evaluates it on the current weights, and `fit`
adds the sum of the model's losses to the compiled loss (as Keras's ``compute_loss``). The
formulas, defaults, names and configs are Keras's (``keras.regularizers``), so files written by
Keras load with them.

Example:
    >>> import numpy as np
    >>> from unrolled import regularizers
    >>> float(regularizers.L2(0.5)(np.ones((2, 2), "float32")))
    2.0

"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from unrolled.saving import object_registration, serialization_lib


class Regularizer:
    """Base class: ``__call__(x)`` returns a scalar penalty (the base returns 0)."""

    def __call__(self, x):
        """Return the penalty of ``x`` (a scalar)."""
        return 0.0

    def get_config(self) -> dict:
        """Return the constructor arguments (the base class has none to give)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config().")

    @classmethod
    def from_config(cls, config: dict) -> Regularizer:
        """Recreate the regularizer from `get_config`'s output."""
        return cls(**config)


def _non_negative(value, name: str) -> float:
    if (not isinstance(value, (float, int)) or isinstance(value, bool) or math.isinf(value)
            or math.isnan(value) or value < 0):
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float."
                         f"Received: {name}={value}")
    return float(value)


def _value(x):
    return jnp.asarray(x.value if hasattr(x, "_unrolled_variable") else x)


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)`` (each term only where its factor is not 0)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _non_negative(l1, "l1")
        self.l2 = _non_negative(l2, "l2")

    def __call__(self, x):
        """Return the penalty of ``x`` (a scalar)."""
        x = _value(x)
        out = jnp.asarray(0.0, x.dtype)
        if self.l1 != 0.0:
            out = out + jnp.asarray(self.l1, x.dtype) * jnp.sum(jnp.abs(x))
        if self.l2 != 0.0:
            out = out + jnp.asarray(self.l2, x.dtype) * jnp.sum(jnp.square(x))
        return out

    def get_config(self) -> dict:
        """Return ``{"l1", "l2"}``."""
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)``; Keras keeps ``l1`` as a float32 tensor, so its config does too."""

    def __init__(self, l1=0.01):
        self.l1 = float(np.float32(l1))

    def __call__(self, x):
        """Return the penalty of ``x`` (a scalar)."""
        x = _value(x)
        return jnp.asarray(self.l1, x.dtype) * jnp.sum(jnp.abs(x))

    def get_config(self) -> dict:
        """Return ``{"l1"}`` (its float32 value, as Keras writes it)."""
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x**2)``."""

    def __init__(self, l2=0.01):
        self.l2 = _non_negative(l2, "l2")

    def __call__(self, x):
        """Return the penalty of ``x`` (a scalar)."""
        x = _value(x)
        return jnp.asarray(self.l2, x.dtype) * jnp.sum(jnp.square(x))

    def get_config(self) -> dict:
        """Return ``{"l2"}``."""
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """``factor`` times the mean absolute cosine between distinct rows (or columns)."""

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = float(np.float32(factor))
        if mode not in ("rows", "columns"):
            raise ValueError("Invalid value for argument `mode`. Expected one of "
                             f"{{'rows', 'columns'}}. Received: mode={mode}")
        self.mode = mode

    def __call__(self, inputs):
        """Return the penalty of ``inputs`` (a scalar)."""
        x = _value(inputs)
        if x.ndim != 2:
            raise ValueError("Inputs to OrthogonalRegularizer must have rank 2. Received: "
                             f"inputs.shape={x.shape}")
        axis = 1 if self.mode == "rows" else 0
        # Keras's ops.normalize: x * min(rsqrt(sum(x**2)), 1 / epsilon)
        inv = jnp.minimum(jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True)), 1e7)
        x = x * inv
        product = x @ x.T if self.mode == "rows" else x.T @ x
        size = product.shape[0]
        off = product * (1.0 - jnp.eye(size, dtype=x.dtype))
        pairs = size * (size - 1) / 2.0
        return self.factor * 0.5 * jnp.sum(jnp.abs(off)) / pairs

    def get_config(self) -> dict:
        """Return ``{"factor", "mode"}``."""
        return {"factor": self.factor, "mode": self.mode}


#: the weight options of LSTM, GRU and SimpleRNN (and their cells), in Keras's config order
RECURRENT_OPTIONS = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                     "kernel_constraint", "recurrent_constraint", "bias_constraint")

_CLASSES = (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)
_BY_NAME = {**{c.__name__: c for c in _CLASSES},
            "regularizer": Regularizer, "l1": L1, "l2": L2, "l1l2": L1L2,
            "orthogonal_regularizer": OrthogonalRegularizer}
object_registration.register_all("regularizers", _BY_NAME)


def serialize(regularizer) -> dict | None:
    """Return Keras's ``{"module", "class_name", "config", "registered_name"}`` (None: None)."""
    return serialization_lib.serialize_object("regularizers", "keras.regularizers", regularizer)


def deserialize(config: dict, custom_objects: dict | None = None):
    """Rebuild a regularizer from `serialize`'s output (or a bare class name)."""
    return get(config, custom_objects)


def get(identifier, custom_objects: dict | None = None):
    """Resolve a regularizer from None, a name (``"l2"``), a config dict, a class or a callable.

    Raises:
        ValueError: for an unknown name (naming the valid ones) or an uninterpretable value.

    """
    return serialization_lib.get_object("regularizers", identifier, custom_objects)


def set_options(layer, **options) -> None:
    """Set a layer's ``<weight>_regularizer`` / ``<weight>_constraint`` attributes, resolved."""
    from unrolled.layers import constraints

    for key, value in options.items():
        setattr(layer, key, get(value) if key.endswith("_regularizer")
                else constraints.get(value))


def options_config(layer, *keys: str) -> dict:
    """Return Keras's config entries of the named regularizer and constraint attributes."""
    from unrolled.layers import constraints

    return {k: (serialize if k.endswith("_regularizer") else constraints.serialize)(
        getattr(layer, k, None)) for k in keys}
