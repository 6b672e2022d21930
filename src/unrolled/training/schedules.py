"""Learning-rate schedules with Keras 3's formulas, evaluated inside the jitted update.

A schedule maps the optimizer's iteration count (the number of updates already applied, 0 for
the first step) to a learning rate, exactly as ``keras.optimizers.schedules``; pass one as
``learning_rate=`` to any optimizer.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from unrolled.saving import object_registration


class LearningRateSchedule:
    """Base class: ``schedule(step) -> learning rate`` (a float32 JAX scalar)."""

    def __call__(self, step) -> jax.Array:
        """Return the learning rate at ``step``."""
        raise NotImplementedError

    def get_config(self) -> dict:
        """Return the constructor arguments."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict) -> LearningRateSchedule:
        """Recreate the schedule from `get_config`'s output."""
        return cls(**config)


def _positive(name: str, value, owner: str) -> None:
    if not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{owner}: `{name}` must be a positive number; received {value!r}.")


class ExponentialDecay(LearningRateSchedule):
    """``lr = initial_learning_rate * decay_rate ** (step / decay_steps)``.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: steps per factor of ``decay_rate``.
        decay_rate: the decay factor.
        staircase: decay in whole steps (``floor(step / decay_steps)``).
        name: schedule name.

    Example:
        >>> from unrolled import optimizers
        >>> lr = optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
        >>> round(float(lr(10)), 6)
        0.05

    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay"):
        _positive("decay_steps", decay_steps, "ExponentialDecay")
        if initial_learning_rate < 0 or decay_rate < 0:
            raise ValueError("ExponentialDecay: `initial_learning_rate` and `decay_rate` must be "
                             f"non-negative; received {initial_learning_rate!r}, "
                             f"{decay_rate!r}.")
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    def __call__(self, step) -> jax.Array:
        """Learning rate at ``step``."""
        step = jnp.asarray(step).astype(jnp.float32)  # ()
        p = step / jnp.float32(self.decay_steps)
        if self.staircase:
            p = jnp.floor(p)
        return jnp.float32(self.initial_learning_rate) * jnp.power(
            jnp.float32(self.decay_rate), p)

    def get_config(self) -> dict:
        """Return the constructor arguments."""
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` to ``alpha * initial`` over ``decay_steps``.

    With ``warmup_target`` the rate first rises linearly from ``initial_learning_rate`` to
    ``warmup_target`` over ``warmup_steps``, then decays from ``warmup_target``. After the
    decay the rate stays at its final value (Keras's behaviour).

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: length of the cosine decay.
        alpha: the final rate as a fraction of the rate decayed from.
        name: schedule name.
        warmup_target: the rate reached at the end of warmup (None: no warmup).
        warmup_steps: length of the warmup.

    Example:
        >>> from unrolled import optimizers
        >>> lr = optimizers.schedules.CosineDecay(0.1, decay_steps=10)
        >>> round(float(lr(5)), 6)
        0.05

    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: float | None = None,
                 warmup_steps: int = 0):
        _positive("decay_steps", decay_steps, "CosineDecay")
        if initial_learning_rate < 0 or warmup_steps < 0:
            raise ValueError("CosineDecay: `initial_learning_rate` and `warmup_steps` must be "
                             f"non-negative; received {initial_learning_rate!r}, "
                             f"{warmup_steps!r}.")
        self.initial_learning_rate, self.decay_steps, self.alpha = (
            initial_learning_rate, decay_steps, alpha)
        self.name, self.warmup_target, self.warmup_steps = name, warmup_target, warmup_steps

    def _decay(self, step, decay_from):
        fraction = step / jnp.float32(self.decay_steps)
        cosine = 0.5 * (1.0 + jnp.cos(jnp.float32(math.pi) * fraction))
        return decay_from * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step) -> jax.Array:
        """Learning rate at ``step``."""
        step = jnp.asarray(step).astype(jnp.float32)  # ()
        initial = jnp.float32(self.initial_learning_rate)
        if self.warmup_target is None:
            return self._decay(jnp.minimum(step, jnp.float32(self.decay_steps)), initial)
        target = jnp.float32(self.warmup_target)
        warmup = jnp.float32(self.warmup_steps)
        step = jnp.minimum(step, jnp.float32(self.decay_steps) + warmup)
        rising = (target - initial) * (step / jnp.maximum(warmup, 1.0)) + initial
        return jnp.where(step < warmup, rising, self._decay(step - warmup, target))

    def get_config(self) -> dict:
        """Return the constructor arguments."""
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


_BY_NAME = {"ExponentialDecay": ExponentialDecay, "CosineDecay": CosineDecay}
object_registration.register_all("schedules", _BY_NAME)


def get(identifier, custom_objects: dict | None = None) -> LearningRateSchedule:
    """Resolve a schedule from an instance or a ``{"class_name", "config"}`` dict.

    Raises:
        ValueError: for an unknown class name, listing the valid ones.

    """
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    name = identifier.get("class_name") if isinstance(identifier, dict) else identifier
    cls = object_registration.get_registered_object(
        "schedules", name, custom_objects,
        alternatives=" (as {'class_name': ..., 'config': ...}) or a LearningRateSchedule instance")
    if not isinstance(identifier, dict):
        raise ValueError(f"A learning-rate schedule is given as {{'class_name': {name!r}, "
                         f"'config': {{...}}}} or as an instance; received {identifier!r}.")
    return cls.from_config(identifier.get("config", {}))
