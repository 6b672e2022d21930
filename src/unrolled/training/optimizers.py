"""Optimizers with Keras 3's exact update formulas, expressed as optax transformations.

Every optimizer keeps its state as `OptState(iterations, learning_rate, slots)`. The learning
rate lives in that state (not in the compiled function), so callbacks such as
ReduceLROnPlateau change it between epochs without recompiling; a `LearningRateSchedule` is
evaluated at ``iterations`` inside the jitted update, as Keras does. One update is, in Keras's
order: clip the gradients (``clipnorm`` per variable, ``global_clipnorm`` jointly,
``clipvalue`` per entry), decay the weights (``w -= w * weight_decay * lr``), then apply the
subclass's step. Keras's Adam, for example, puts epsilon outside the bias correction::

    alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
    m += (g - m) * (1 - beta_1);  v += (g**2 - v) * (1 - beta_2)
    w -= alpha * m / (sqrt(v) + epsilon)          # epsilon = 1e-7
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from unrolled.ops.compile import to_device
from unrolled.saving import object_registration
from unrolled.training import schedules as schedules_module
from unrolled.training.optimizer_face import StatelessOptimizerMixin
from unrolled.training.schedules import LearningRateSchedule

_UNSUPPORTED = {"use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                "loss_scale_factor": None, "gradient_accumulation_steps": None}


class OptState(NamedTuple):
    """Optimizer state: updates applied so far, the current learning rate, per-weight slots."""

    iterations: jax.Array
    learning_rate: jax.Array
    slots: Any


def _tree(fn, *trees):
    return jax.tree.map(fn, *trees)


def _zeros_like(p) -> jax.Array:
    # From NumPy: an eager jnp.zeros_like compiles one XLA program per shape (~20 ms each on
    # the first fit); a host array transferred compiles nothing.
    return to_device(np.zeros(np.shape(p), p.dtype))


class Optimizer(StatelessOptimizerMixin):
    """Base optimizer: learning rate (float or schedule), clipping and weight decay as Keras.

    Args:
        learning_rate: a non-negative float, a `LearningRateSchedule` or any callable
            ``step -> lr`` (e.g. an optax schedule), evaluated at the iteration count.
        weight_decay: decoupled weight decay, ``w -= w * weight_decay * lr`` before each step.
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient entry to ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients together to this global norm.
        name: optimizer name.

    """

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name: str | None = None, **kwargs):
        for key, default in _UNSUPPORTED.items():
            if kwargs.pop(key, default) != default:
                raise ValueError(f"{type(self).__name__}: `{key}` is not supported by unrolled; "
                                 f"leave it at its default ({default!r}).")
        if kwargs:
            raise TypeError(f"Unrecognized arguments for {type(self).__name__}: {sorted(kwargs)}.")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Pass at most one of `clipnorm`, `clipvalue` and `global_clipnorm`.")
        for key, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                           ("global_clipnorm", global_clipnorm),
                           ("weight_decay", weight_decay)):
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"{type(self).__name__}: `{key}` must be a non-negative float "
                                 f"or None; received {value!r}.")
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.weight_decay = weight_decay
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self._schedule: LearningRateSchedule | None = None
        if isinstance(learning_rate, dict):
            learning_rate = schedules_module.get(learning_rate)
        if isinstance(learning_rate, LearningRateSchedule) or _is_schedule(learning_rate):
            self._schedule = learning_rate
            self._lr = None
        else:
            self._lr = self._valid_lr(learning_rate)

    def _valid_lr(self, value) -> float:
        if isinstance(value, (jax.Array, np.ndarray, np.floating)) and np.ndim(value) == 0:
            value = float(value)
        if (not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0
                or not np.isfinite(value)):
            raise ValueError(f"{type(self).__name__}: `learning_rate` must be a non-negative "
                             f"float or a LearningRateSchedule; received {value!r}.")
        return float(np.float32(value))  # Keras holds it in a float32 variable

    @property
    def learning_rate(self) -> float:
        """The current learning rate (a schedule's value at `iterations`)."""
        if self._schedule is not None:
            return float(self._schedule(self.iterations))
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if self._schedule is not None:
            raise TypeError(f"{type(self).__name__} was created with a LearningRateSchedule, so "
                            "its learning rate is not settable; create the optimizer with a "
                            "float learning_rate to change it during training.")
        self._lr = self._valid_lr(value)

    # ------------------------------------------------------------ the update
    def _clip(self, grads):
        if self.clipnorm:
            c = float(self.clipnorm)

            def clip(g):
                l2sum = jnp.sum(jnp.square(g))
                pos = l2sum > 0
                norm = jnp.where(pos, jnp.sqrt(jnp.where(pos, l2sum, 1.0)), l2sum)
                return g * c / jnp.maximum(norm, c)

            return _tree(clip, grads)
        if self.global_clipnorm:
            c = float(self.global_clipnorm)
            norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(grads)))
            scale = c * jnp.minimum(1.0 / norm, 1.0 / c) + (norm - norm)
            return _tree(lambda g: g * scale, grads)
        if self.clipvalue:
            v = float(self.clipvalue)
            return _tree(lambda g: jnp.clip(g, -v, v), grads)
        return grads

    def _init_slots(self, params):
        """Per-weight state (subclasses)."""
        return ()

    def _step(self, grads, slots, params, lr, iterations):
        """Return ``(updates, new_slots)``; updates are added to the weights (subclasses)."""
        raise NotImplementedError

    def transformation(self) -> optax.GradientTransformation:
        """Return the optax transformation carrying `OptState`."""
        schedule, wd = self._schedule, self.weight_decay

        def init(params):
            lr = 0.0 if self._lr is None else self._lr
            return OptState(to_device(np.zeros((), np.int32)), to_device(lr, np.float32),
                            self._init_slots(params))

        def update(grads, state, params=None):
            grads = self._clip(grads)
            if schedule is not None:
                lr = jnp.asarray(schedule(state.iterations), jnp.float32)  # ()
            else:
                lr = state.learning_rate
            updates, slots = self._step(grads, state.slots, params, lr, state.iterations)
            if wd:
                updates = _tree(lambda u, w: u - w * jnp.float32(wd) * lr, updates, params)
            return updates, OptState(state.iterations + 1, state.learning_rate, slots)

        return optax.GradientTransformation(init, update)

    def get_config(self) -> dict:
        """Return the constructor arguments."""
        lr = self._lr
        if self._schedule is not None and not isinstance(self._schedule, LearningRateSchedule):
            raise ValueError(
                f"{type(self).__name__}'s learning rate is a plain callable "
                f"({getattr(self._schedule, '__name__', type(self._schedule).__name__)}), "
                "which has no config to store; use a LearningRateSchedule subclass with "
                "get_config to save it.")
        if self._schedule is not None:
            lr = {"class_name": type(self._schedule).__name__,
                  "config": self._schedule.get_config()}
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm}

    @classmethod
    def from_config(cls, config: dict) -> Optimizer:
        """Recreate the optimizer from `get_config`'s output."""
        return cls(**config)


def _in_unit_interval(owner: str, name: str, value) -> None:
    if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{owner}: `{name}` must be a float in [0, 1]; received {value!r}.")


def _positive(owner: str, name: str, value) -> None:
    if not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{owner}: `{name}` must be a positive float; received {value!r}.")


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as Keras 3.

    ``m = momentum * m - lr * g``; ``w += m`` (or ``w += momentum * m - lr * g`` with
    ``nesterov=True``); without momentum ``w -= lr * g``.

    Args:
        learning_rate: step size (default 0.01).
        momentum: in [0, 1].
        nesterov: use Nesterov momentum.

    Example:
        >>> from unrolled import optimizers
        >>> opt = optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True)

    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        _in_unit_interval("SGD", "momentum", momentum)
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _init_slots(self, params):
        return _tree(_zeros_like, params) if self.momentum else ()

    def _step(self, grads, slots, params, lr, iterations):
        mom = jnp.float32(self.momentum)
        if not self.momentum:
            return _tree(lambda g: -(g * lr), grads), slots
        m = _tree(lambda m, g: m * mom - g * lr, slots, grads)
        if self.nesterov:
            return _tree(lambda m, g: m * mom - g * lr, m, grads), m
        return m, m

    def get_config(self):
        """Return the constructor arguments."""
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """RMSprop as Keras 3 (epsilon inside the square root).

    ``v = rho * v + (1 - rho) * g**2``; centered also tracks ``a = rho * a + (1 - rho) * g``
    and uses ``v - a**2``; ``inc = lr * g / sqrt(v + epsilon)``; with momentum
    ``m = momentum * m + inc; w -= m``, else ``w -= inc``.

    Args:
        learning_rate: step size (default 0.001).
        rho: discounting factor for the squared-gradient average, in [0, 1].
        momentum: in [0, 1].
        epsilon: added under the square root (1e-7).
        centered: normalise by the estimated gradient variance.

    Example:
        >>> from unrolled import optimizers
        >>> opt = optimizers.RMSprop(learning_rate=0.01, centered=True)

    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, name="rmsprop", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        _in_unit_interval("RMSprop", "rho", rho)
        _in_unit_interval("RMSprop", "momentum", momentum)
        _positive("RMSprop", "epsilon", epsilon)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def _init_slots(self, params):
        zeros = lambda: _tree(_zeros_like, params)  # noqa: E731
        return {"velocity": zeros(), "momentum": zeros() if self.momentum > 0 else None,
                "average_gradient": zeros() if self.centered else None}

    def _step(self, grads, slots, params, lr, iterations):
        rho, eps = self.rho, self.epsilon
        v = _tree(lambda v, g: rho * v + (1 - rho) * jnp.square(g), slots["velocity"], grads)
        if self.centered:
            a = _tree(lambda a, g: rho * a + (1 - rho) * g, slots["average_gradient"], grads)
            denom = _tree(lambda v, a: v - jnp.square(a) + eps, v, a)
        else:
            a, denom = None, _tree(lambda v: v + eps, v)
        inc = _tree(lambda g, d: (lr * g) / jnp.sqrt(d), grads, denom)
        mom = None
        if self.momentum > 0:
            mom = _tree(lambda m, i: self.momentum * m + i, slots["momentum"], inc)
            inc = mom
        updates = _tree(lambda i: -i, inc)
        return updates, {"velocity": v, "momentum": mom, "average_gradient": a}

    def get_config(self):
        """Return the constructor arguments."""
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adagrad(Optimizer):
    """Adagrad as Keras 3: ``acc += g**2``; ``w -= lr * g / sqrt(acc + epsilon)``.

    Args:
        learning_rate: step size (default 0.001).
        initial_accumulator_value: starting value of ``acc`` (non-negative, 0.1).
        epsilon: added under the square root (1e-7).

    Example:
        >>> from unrolled import optimizers
        >>> opt = optimizers.Adagrad(learning_rate=0.1)

    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 name="adagrad", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not isinstance(initial_accumulator_value, (int, float)) or initial_accumulator_value < 0:
            raise ValueError("Adagrad: `initial_accumulator_value` must be a non-negative float; "
                             f"received {initial_accumulator_value!r}.")
        _positive("Adagrad", "epsilon", epsilon)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def _init_slots(self, params):
        value = self.initial_accumulator_value
        return _tree(lambda p: to_device(np.full(np.shape(p), value, p.dtype)), params)

    def _step(self, grads, slots, params, lr, iterations):
        acc = _tree(lambda a, g: a + jnp.square(g), slots, grads)
        updates = _tree(lambda g, a: -((lr * g) / jnp.sqrt(a + self.epsilon)), grads, acc)
        return updates, acc

    def get_config(self):
        """Return the constructor arguments."""
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Adam(Optimizer):
    """Adam with Keras 3's formulas (epsilon outside the bias correction).

    Args:
        learning_rate: step size (default 0.001).
        beta_1: first-moment decay (0.9), in [0, 1].
        beta_2: second-moment decay (0.999), in [0, 1].
        epsilon: added to ``sqrt(v)`` (1e-7, Keras's default).
        amsgrad: use the running maximum of ``v``.

    Example:
        >>> from unrolled import optimizers
        >>> opt = optimizers.Adam(learning_rate=0.01)

    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name="adam", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        owner = type(self).__name__
        _in_unit_interval(owner, "beta_1", beta_1)
        _in_unit_interval(owner, "beta_2", beta_2)
        _positive(owner, "epsilon", epsilon)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def _init_slots(self, params):
        zeros = lambda: _tree(_zeros_like, params)  # noqa: E731
        return {"m": zeros(), "v": zeros(), "v_hat": zeros() if self.amsgrad else None}

    def _step(self, grads, slots, params, lr, iterations):
        b1, b2, eps = self.beta_1, self.beta_2, self.epsilon
        t = (iterations + 1).astype(jnp.float32)
        alpha = lr * jnp.sqrt(1 - jnp.power(jnp.float32(b2), t)) / (
            1 - jnp.power(jnp.float32(b1), t))
        m = _tree(lambda m, g: m + (g - m) * (1 - b1), slots["m"], grads)
        v = _tree(lambda v, g: v + (jnp.square(g) - v) * (1 - b2), slots["v"], grads)
        v_hat = _tree(jnp.maximum, slots["v_hat"], v) if self.amsgrad else None
        v_use = v_hat if self.amsgrad else v
        updates = _tree(lambda m, v: -(m * alpha) / (jnp.sqrt(v) + eps), m, v_use)
        return updates, {"m": m, "v": v, "v_hat": v_hat}

    def get_config(self):
        """Return the constructor arguments."""
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay, as Keras 3 (``w -= w * weight_decay * lr`` first).

    Args:
        learning_rate: step size (default 0.001).
        weight_decay: decay factor (0.004), applied to every weight.
        beta_1, beta_2, epsilon, amsgrad: as `Adam`.

    Example:
        >>> from unrolled import optimizers
        >>> opt = optimizers.AdamW(learning_rate=0.01, weight_decay=0.01)

    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, name="adamw", **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW: `weight_decay` must be a float; received None. Use Adam "
                             "for no weight decay.")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, name=name,
                         weight_decay=weight_decay, **kwargs)


def _is_schedule(value) -> bool:
    """Tell a callable learning rate from a number (optax schedules are plain functions)."""
    return callable(value) and not isinstance(value, (jax.Array, np.ndarray, np.generic))


class OptaxOptimizer(Optimizer):
    """An ``optax.GradientTransformation`` as an unrolled optimizer (``compile(optimizer=tx)``).

    The transformation owns its learning rate, clipping and schedule; the state is
    ``OptState(iterations, 0.0, tx's state)``. Its state saves into ``.weights.h5`` files as
    its leaves (`io.weights_h5`) and restores into a model compiled with the same
    transformation; a ``.keras`` file cannot name the transformation, so such a model is
    saved uncompiled, with a warning.
    """

    def __init__(self, tx: optax.GradientTransformation, name: str = "optax"):
        super().__init__(learning_rate=0.0, name=name)
        self.tx, self._lr = tx, None

    @property
    def learning_rate(self):
        """Not readable: the rate lives inside the optax transformation."""
        raise TypeError("This optimizer wraps an optax transformation, whose learning rate lives "
                        "inside it; build it with optax.inject_hyperparams to change the rate, "
                        "or use an unrolled optimizer with callbacks that read or set it.")

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        type(self).learning_rate.fget(self)

    def transformation(self) -> optax.GradientTransformation:
        """Return ``tx`` carrying the iteration count in `OptState`."""
        tx = self.tx

        def init(params):
            return OptState(to_device(np.zeros((), np.int32)), to_device(0.0, np.float32),
                            tx.init(params))

        def update(grads, state, params=None):
            updates, inner = tx.update(grads, state.slots, params)
            return updates, OptState(state.iterations + 1, state.learning_rate, inner)

        return optax.GradientTransformation(init, update)

    def get_config(self) -> dict:
        """Refuse: an optax transformation has no config to store (raises ValueError)."""
        raise ValueError("An optax transformation cannot be written to a config; compile with "
                         "an unrolled optimizer (e.g. 'adam') to save the optimizer.")


_BY_NAME = {"adam": Adam, "adamw": AdamW, "sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad}
object_registration.register_all("optimizers", _BY_NAME)


def _lookup(name, custom_objects: dict | None) -> type[Optimizer]:
    """Names are case-insensitive, as Keras (``"Adam"``, ``"RMSprop"``, ``"adam"``)."""
    if isinstance(name, str) and object_registration.is_registered("optimizers", name.lower()):
        name = name.lower()
    return object_registration.get_registered_object(
        "optimizers", name, custom_objects,
        alternatives=" or an unrolled.optimizers.Optimizer instance")


def get(identifier, custom_objects: dict | None = None) -> Optimizer:
    """Resolve an optimizer from a name (``"adam"``), a config dict or an instance.

    An optax ``GradientTransformation`` is wrapped in `OptaxOptimizer`.

    Raises:
        ValueError: for an unknown name, listing the valid ones and the closest.

    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, optax.GradientTransformation):
        return OptaxOptimizer(identifier)
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _lookup(identifier["class_name"], custom_objects)
        return cls.from_config(identifier.get("config", {}))
    return _lookup(identifier, custom_objects)()
