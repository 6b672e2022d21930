"""Keras 3 initializers as objects: ``init(shape, dtype) -> array``, by class or string name."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from unrolled.layers.random import make_default_seed
from unrolled.ops import host_random
from unrolled.ops import initializers as maths
from unrolled.ops.compile import to_device
from unrolled.saving import object_registration


class Initializer:
    """Base class: call with a shape (and dtype) to get an array."""

    def __call__(self, shape, dtype="float32") -> jax.Array:
        """Return an array of ``shape`` and ``dtype``; subclasses implement it."""
        raise NotImplementedError

    def get_config(self) -> dict:
        """Return the constructor arguments."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Initializer:
        """Recreate the initializer from `get_config`'s output."""
        return cls(**config)


class Constant(Initializer):
    """Every entry equals ``value``."""

    def __init__(self, value: float = 0.0):
        self.value = value

    def __call__(self, shape, dtype="float32"):
        """Return an array of ``shape`` filled with ``value``."""
        return to_device(np.full(tuple(shape), self.value, dtype=np.dtype(dtype)))

    def get_config(self):
        """Return ``value``."""
        return {"value": self.value}


class Zeros(Constant):
    """All zeros."""

    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        """Return no arguments: ``Zeros`` takes none."""
        return {}


class Ones(Constant):
    """All ones."""

    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        """Return no arguments: ``Ones`` takes none."""
        return {}


class _Random(Initializer):
    def __init__(self, seed: int | None = None):
        self.seed = seed

    def _seed(self) -> int:
        # A fixed seed gives the same values on every call, as in Keras; no seed draws a fresh one.
        return make_default_seed() if self.seed is None else self.seed

    def _key(self, seed: int | None = None) -> jax.Array:
        return host_random.key(self._seed() if seed is None else seed)

    def _uniform(self, shape, dtype, minval: float, maxval: float) -> jax.Array:
        """``jax.random.uniform`` from a fresh key; float32 draws computed on the host."""
        seed, shape = self._seed(), tuple(int(d) for d in shape)
        if np.dtype(dtype) == np.float32 and host_random.available(seed):
            # the same bits as jax.random.uniform without compiling a program per shape
            return to_device(host_random.uniform(host_random.key_data(seed), shape, minval,
                                                 maxval))
        return jax.random.uniform(self._key(seed), shape, dtype, minval, maxval)

    def get_config(self):
        return {"seed": self.seed}


class RandomNormal(_Random):
    """Normal with ``mean`` and ``stddev`` (Keras default 0.0, 0.05)."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype="float32"):
        """Draw ``mean + stddev * N(0, 1)`` samples of ``shape``."""
        return self.mean + self.stddev * jax.random.normal(self._key(), tuple(shape), dtype)

    def get_config(self):
        """Return ``mean``, ``stddev`` and ``seed``."""
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(_Random):
    """Uniform on ``[minval, maxval)`` (Keras default -0.05, 0.05)."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype="float32"):
        """Draw uniform samples of ``shape`` on ``[minval, maxval)``."""
        return self._uniform(shape, dtype, self.minval, self.maxval)

    def get_config(self):
        """Return ``minval``, ``maxval`` and ``seed``."""
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(_Random):
    """Normal truncated to two standard deviations around ``mean``."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype="float32"):
        """Draw normal samples of ``shape`` truncated to two standard deviations."""
        t = jax.random.truncated_normal(self._key(), -2.0, 2.0, tuple(shape), dtype)
        return self.mean + self.stddev * t

    def get_config(self):
        """Return ``mean``, ``stddev`` and ``seed``."""
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(_Random):
    """Scale ``/ fan`` variance, Keras's base for Glorot, He and LeCun."""

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
    ):
        super().__init__(seed)
        if scale <= 0:
            raise ValueError(f"VarianceScaling needs scale > 0; received scale={scale}.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Unknown mode {mode!r}; expected 'fan_in', 'fan_out' or 'fan_avg'.")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError(
                f"Unknown distribution {distribution!r}; expected 'uniform', "
                "'truncated_normal' or 'untruncated_normal'."
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, dtype="float32"):
        """Draw samples of ``shape`` with variance ``scale / fan`` from ``distribution``."""
        if self.distribution == "uniform":
            limit = maths.uniform_limit(tuple(shape), self.scale, self.mode)
            return self._uniform(shape, dtype, -limit, limit)
        return maths.variance_scaling(
            self._key(), tuple(shape), dtype,
            scale=self.scale, mode=self.mode, distribution=self.distribution,
        )

    def get_config(self):
        """Return ``scale``, ``mode``, ``distribution`` and ``seed``."""
        return {
            "scale": self.scale, "mode": self.mode,
            "distribution": self.distribution, "seed": self.seed,
        }


def _preset(name: str, scale: float, mode: str, distribution: str, doc: str):
    def __init__(self, seed: int | None = None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self.seed}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                           "__doc__": doc})


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform",
                        "Uniform within ``sqrt(6 / (fan_in + fan_out))`` (Keras's default kernel).")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                       "Truncated normal, variance ``2 / (fan_in + fan_out)``.")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform", "Uniform, variance ``2 / fan_in``.")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal",
                   "Truncated normal, variance ``2 / fan_in``.")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform",
                       "Uniform, variance ``1 / fan_in``.")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal",
                      "Truncated normal, variance ``1 / fan_in``.")


class Orthogonal(_Random):
    """Orthogonal matrix times ``gain`` (Keras's default recurrent kernel)."""

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype="float32"):
        """Return an orthogonal matrix of ``shape`` times ``gain``."""
        return maths.orthogonal(self._key(), tuple(shape), dtype, gain=self.gain)

    def get_config(self):
        """Return ``gain`` and ``seed``."""
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """Identity matrix times ``gain``."""

    def __init__(self, gain: float = 1.0):
        self.gain = gain

    def __call__(self, shape, dtype="float32"):
        """Return an identity matrix of ``shape`` times ``gain``."""
        return maths.identity(tuple(shape), dtype, gain=self.gain)

    def get_config(self):
        """Return ``gain``."""
        return {"gain": self.gain}


_BY_NAME: dict[str, type[Initializer]] = {
    "constant": Constant, "zeros": Zeros, "ones": Ones,
    "random_normal": RandomNormal, "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal, "identity": Identity,
}
for _cls in list(_BY_NAME.values()):
    _BY_NAME[_cls.__name__] = _cls
_BY_NAME["Zeros"], _BY_NAME["Ones"] = Zeros, Ones
# Keras 3's aliases (keras.src.initializers.ALL_OBJECTS_DICT).
_BY_NAME.update({"uniform": RandomUniform, "normal": RandomNormal, "one": Ones, "zero": Zeros,
                 "IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal})
object_registration.register_all("initializers", _BY_NAME)


def _snake_names() -> list[str]:
    return [k for k in object_registration.names("initializers") if k.islower()]


def serialize(initializer: Initializer) -> dict:
    """Return ``{"class_name": ..., "config": ...}`` as Keras writes it."""
    return {"module": "keras.initializers", "class_name": type(initializer).__name__,
            "config": initializer.get_config(), "registered_name": None}


def get(identifier, custom_objects: dict | None = None) -> Initializer:
    """Resolve an initializer from a name, a config dict, an instance or a callable.

    Raises:
        ValueError: for an unknown name, naming the valid ones and the closest.

    """
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()  # Keras instantiates a class passed as the identifier
    if isinstance(identifier, str):
        cls = object_registration.get_registered_object(
            "initializers", identifier, custom_objects, listed=_snake_names(),
            alternatives=", an Initializer instance or a callable(shape, dtype)")
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = object_registration.get_registered_object(
            "initializers", identifier["class_name"], custom_objects,
            listed=object_registration.names("initializers"))
        return cls.from_config(identifier.get("config", {}))
    if callable(identifier):
        return _Callable(identifier)
    raise ValueError(
        f"Could not interpret initializer {identifier!r}: expected a name, an Initializer or a "
        "callable(shape, dtype)."
    )


class _Callable(Initializer):
    def __init__(self, fn):
        self.fn = fn

    def __call__(self, shape, dtype="float32"):
        return jnp.asarray(self.fn(tuple(shape), dtype=dtype), dtype=dtype)
