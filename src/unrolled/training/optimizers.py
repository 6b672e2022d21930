"""Optimizers with Keras 3's exact update formulas, expressed as optax transformations.

Keras's Adam differs from the textbook form in where epsilon goes::

    alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
    m += (g - m) * (1 - beta_1);  v += (g**2 - v) * (1 - beta_2)
    w -= alpha * m / (sqrt(v) + epsilon)          # epsilon = 1e-7

Each optimizer builds an ``optax.GradientTransformation`` (`Optimizer.transformation`); the model
keeps the optax state and the jitted train step applies it.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class Optimizer:
    """Base optimizer: gradient clipping as Keras, then the subclass's update.

    Args:
        learning_rate: a float.
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient entry to ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients together to this global norm.
        name: optimizer name.
    """

    def __init__(self, learning_rate=0.001, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name: str | None = None, **kwargs):
        for key in ("weight_decay", "use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                    "gradient_accumulation_steps"):
            if kwargs.get(key) not in (None, False, 0.99, 0):
                raise ValueError(f"{type(self).__name__}: `{key}` is not supported by unrolled.")
            kwargs.pop(key, None)
        if kwargs:
            raise TypeError(f"Unrecognized arguments for {type(self).__name__}: {sorted(kwargs)}.")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Pass at most one of `clipnorm`, `clipvalue` and `global_clipnorm`.")
        if not isinstance(learning_rate, (int, float)) or learning_rate < 0:
            raise ValueError(f"`learning_rate` must be a non-negative float; got {learning_rate!r}.")
        self.learning_rate = float(learning_rate)
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.name = name or type(self).__name__.lower()
        self.iterations = 0

    def _clip(self) -> optax.GradientTransformation:
        if self.clipnorm:
            c = float(self.clipnorm)

            def clip(g):
                l2sum = jnp.sum(jnp.square(g))
                pos = l2sum > 0
                norm = jnp.where(pos, jnp.sqrt(jnp.where(pos, l2sum, 1.0)), l2sum)
                return g * c / jnp.maximum(norm, c)

            return optax.stateless(lambda grads, params: jax.tree.map(clip, grads))
        if self.global_clipnorm:
            c = float(self.global_clipnorm)

            def clip_all(grads, params):
                norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(grads)))
                scale = c * jnp.minimum(1.0 / norm, 1.0 / c) + (norm - norm)
                return jax.tree.map(lambda g: g * scale, grads)

            return optax.stateless(clip_all)
        if self.clipvalue:
            v = float(self.clipvalue)
            return optax.stateless(lambda grads, params: jax.tree.map(
                lambda g: jnp.clip(g, -v, v), grads))
        return optax.identity()

    def _update(self) -> optax.GradientTransformation:
        raise NotImplementedError

    def transformation(self) -> optax.GradientTransformation:
        """The optax transformation: clipping, then this optimizer's update."""
        return optax.chain(self._clip(), self._update())

    def get_config(self) -> dict:
        """Return the constructor arguments."""
        return {"name": self.name, "learning_rate": self.learning_rate,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm}

    @classmethod
    def from_config(cls, config: dict) -> Optimizer:
        """Recreate the optimizer from `get_config`'s output."""
        return cls(**config)


class AdamState(NamedTuple):
    """Keras Adam slots: step count, first and second moments (and their max for amsgrad)."""

    count: jax.Array
    m: optax.Params
    v: optax.Params
    v_hat: optax.Params


class Adam(Optimizer):
    """Adam with Keras 3's formulas (epsilon outside the bias correction).

    Args:
        learning_rate: step size (default 0.001).
        beta_1: first-moment decay (0.9).
        beta_2: second-moment decay (0.999).
        epsilon: added to ``sqrt(v)`` (1e-7, Keras's default).
        amsgrad: use the running maximum of ``v``.

    Example:
        >>> from unrolled import optimizers
        >>> opt = optimizers.Adam(learning_rate=0.01)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name="adam", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def _update(self) -> optax.GradientTransformation:
        lr, b1, b2, eps, amsgrad = (self.learning_rate, self.beta_1, self.beta_2, self.epsilon,
                                    self.amsgrad)

        def init(params):
            zeros = jax.tree.map(jnp.zeros_like, params)
            return AdamState(jnp.zeros((), jnp.int32), zeros, zeros,
                             zeros if amsgrad else None)

        def update(grads, state, params=None):
            t = (state.count + 1).astype(jnp.float32)
            alpha = jnp.float32(lr) * jnp.sqrt(1 - jnp.power(jnp.float32(b2), t)) / (
                1 - jnp.power(jnp.float32(b1), t))
            m = jax.tree.map(lambda m, g: m + (g - m) * (1 - b1), state.m, grads)
            v = jax.tree.map(lambda v, g: v + (jnp.square(g) - v) * (1 - b2), state.v, grads)
            v_hat = jax.tree.map(jnp.maximum, state.v_hat, v) if amsgrad else None
            v_use = v_hat if amsgrad else v
            updates = jax.tree.map(lambda m, v: -(m * alpha) / (jnp.sqrt(v) + eps), m, v_use)
            return updates, AdamState(state.count + 1, m, v, v_hat)

        return optax.GradientTransformation(init, update)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


_BY_NAME = {"adam": Adam}


def get(identifier) -> Optimizer:
    """Resolve an optimizer from a name (``"adam"``), a config dict or an instance.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    if isinstance(identifier, dict) and identifier.get("class_name", "").lower() in _BY_NAME:
        return _BY_NAME[identifier["class_name"].lower()].from_config(identifier.get("config", {}))
    raise ValueError(
        f"Unknown optimizer {identifier!r}. Expected one of {sorted(_BY_NAME)} or an "
        "unrolled.optimizers.Optimizer instance."
    )
