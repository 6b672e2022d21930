"""Keras 3 weight constraints: ``MaxNorm``, ``NonNeg``, ``UnitNorm``, ``MinMaxNorm``.

A constraint maps a weight to its projection; ``fit`` applies it to every trainable weight that
has one right after each optimizer update, as Keras's optimizer does. Formulas, defaults, names
and configs are Keras's (``keras.constraints``; ``epsilon`` is Keras's ``1e-7``).

Example:
    >>> import numpy as np
    >>> from unrolled import constraints
    >>> constraints.NonNeg()(np.array([-1.0, 2.0], "float32")).tolist()
    [0.0, 2.0]

"""

from __future__ import annotations

import jax.numpy as jnp

from unrolled.saving import object_registration, serialization_lib

EPSILON = 1e-7


def _value(w):
    return jnp.asarray(w.value if hasattr(w, "_unrolled_variable") else w)


def _norms(w, axis):
    return jnp.sqrt(jnp.sum(jnp.square(w), axis=axis, keepdims=True))


class Constraint:
    """Base class: ``__call__(w)`` returns the projected weight (the base returns ``w``)."""

    def __call__(self, w):
        """Return the projection of ``w``."""
        return w

    def get_config(self) -> dict:
        """Return the constructor arguments."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Constraint:
        """Recreate the constraint from `get_config`'s output."""
        return cls(**config)


class MaxNorm(Constraint):
    """Scale each slice along ``axis`` whose L2 norm exceeds ``max_value`` back to it."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        """Return the projection of ``w``."""
        w = _value(w)
        norms = _norms(w, self.axis)
        desired = jnp.clip(norms, 0, self.max_value)
        return w * (desired / (EPSILON + norms))

    def get_config(self) -> dict:
        """Return ``{"max_value", "axis"}``."""
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Clip negative values to 0."""

    def __call__(self, w):
        """Return the projection of ``w``."""
        return jnp.maximum(_value(w), 0)


class UnitNorm(Constraint):
    """Scale each slice along ``axis`` to unit L2 norm."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        """Return the projection of ``w``."""
        w = _value(w)
        return w / (EPSILON + _norms(w, self.axis))

    def get_config(self) -> dict:
        """Return ``{"axis"}``."""
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Move each slice's norm ``rate`` of the way into ``[min_value, max_value]``."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        """Return the projection of ``w``."""
        w = _value(w)
        norms = _norms(w, self.axis)
        desired = (self.rate * jnp.clip(norms, self.min_value, self.max_value)
                   + (1 - self.rate) * norms)
        return w * (desired / (EPSILON + norms))

    def get_config(self) -> dict:
        """Return ``{"min_value", "max_value", "rate", "axis"}``."""
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


_CLASSES = (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm)
_BY_NAME = {**{c.__name__: c for c in _CLASSES}, "constraint": Constraint,
            "max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm,
            "min_max_norm": MinMaxNorm}
object_registration.register_all("constraints", _BY_NAME)


def serialize(constraint) -> dict | None:
    """Return Keras's ``{"module", "class_name", "config", "registered_name"}`` (None: None)."""
    return serialization_lib.serialize_object("constraints", "keras.constraints", constraint)


def deserialize(config: dict, custom_objects: dict | None = None):
    """Rebuild a constraint from `serialize`'s output."""
    return get(config, custom_objects)


def get(identifier, custom_objects: dict | None = None):
    """Resolve a constraint from None, a name (``"max_norm"``), a config dict, a class or callable.

    Raises:
        ValueError: for an unknown name (naming the valid ones) or an uninterpretable value.

    """
    return serialization_lib.get_object("constraints", identifier, custom_objects)
