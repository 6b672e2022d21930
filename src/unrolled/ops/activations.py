"""Activation functions by Keras 3 name.

Each function maps a JAX array to a JAX array of the same shape. The names are registered in
`unrolled.saving.object_registration` (kind ``"activations"``); `get` resolves a Keras name
(``"tanh"``, ``"hard_sigmoid"``, ...) or passes a callable through, and `name_of` gives the
name a config writes. Keras 2's hard sigmoid is ``"hard_sigmoid_keras2"``, so it survives a
config round trip (Keras 3 has no such name: real Keras refuses such a file rather than silently
change the maths).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from unrolled.saving import object_registration

Activation = Callable[[jax.Array], jax.Array]


def linear(x: jax.Array) -> jax.Array:
    """Identity: ``f(x) = x``."""
    return x


def hard_sigmoid(x: jax.Array) -> jax.Array:
    """Keras 3 hard sigmoid: ``relu6(x + 3) / 6`` (Keras 2 used ``0.2 x + 0.5``)."""
    return jax.nn.hard_sigmoid(x)


def hard_sigmoid_keras2(x: jax.Array) -> jax.Array:
    """Keras 2 hard sigmoid, ``clip(0.2 x + 0.5, 0, 1)``, kept for legacy ``.h5`` files."""
    return jnp.clip(0.2 * x + 0.5, 0.0, 1.0)


def softmax(x: jax.Array, axis: int = -1) -> jax.Array:
    """Softmax over the last axis."""
    return jax.nn.softmax(x, axis=axis)


def log_softmax(x: jax.Array, axis: int = -1) -> jax.Array:
    """Log-softmax over the last axis."""
    return jax.nn.log_softmax(x, axis=axis)


def leaky_relu(x: jax.Array, negative_slope: float = 0.2) -> jax.Array:
    """Leaky ReLU with Keras's default slope 0.2."""
    return jax.nn.leaky_relu(x, negative_slope=negative_slope)


def elu(x: jax.Array, alpha: float = 1.0) -> jax.Array:
    """Exponential linear unit."""
    return jax.nn.elu(x, alpha=alpha)


def gelu(x: jax.Array, approximate: bool = False) -> jax.Array:
    """GELU; Keras 3 defaults to the exact (erf) form."""
    return jax.nn.gelu(x, approximate=approximate)


_ACTIVATIONS: dict[str, Activation] = {
    "linear": linear,
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "relu6": jax.nn.relu6,
    "hard_sigmoid": hard_sigmoid,
    "hard_sigmoid_keras2": hard_sigmoid_keras2,
    "hard_silu": jax.nn.hard_silu,
    "hard_swish": jax.nn.hard_silu,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "softplus": jax.nn.softplus,
    "softsign": jax.nn.soft_sign,
    "silu": jax.nn.silu,
    "swish": jax.nn.silu,
    "elu": elu,
    "selu": jax.nn.selu,
    "gelu": gelu,
    "exponential": jnp.exp,
    "leaky_relu": leaky_relu,
    "mish": lambda x: x * jnp.tanh(jax.nn.softplus(x)),
}


object_registration.register_all("activations", _ACTIVATIONS)


def names() -> list[str]:
    """Return the activation names `get` accepts."""
    return object_registration.names("activations")


def get(identifier: str | Activation | None, custom_objects: dict | None = None) -> Activation:
    """Resolve an activation by Keras name, or pass a callable through.

    Args:
        identifier: a Keras activation name, a callable, or ``None`` (linear).
        custom_objects: optional ``{name: function}`` consulted before the built-in names.

    Returns:
        A function from array to array.

    Raises:
        ValueError: if the name is unknown (listing the valid ones and the closest).

    """
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    return object_registration.get_registered_object(
        "activations", identifier, custom_objects, alternatives=" or a callable")


def name_of(fn: Activation) -> str | None:
    """Return the registered name of an activation function (else its ``__name__``)."""
    name = object_registration.registered_name("activations", fn)
    return name if name is not None else getattr(fn, "__name__", None)
