"""Explicit PRNG keys derived from one global seed (`unrolled.utils.set_random_seed`)."""

from __future__ import annotations

import copy
import random as _pyrandom

import jax
import jax.numpy as jnp
import numpy as np

from unrolled.layers.variables import Variable, current_scope, unique_name
from unrolled.ops import host_random
from unrolled.ops.compile import to_device

_state = {"rng": np.random.default_rng()}


def set_random_seed(seed: int) -> None:
    """Seed unrolled (initializers, dropout, shuffling), Python's and NumPy's global RNGs.

    Args:
        seed: a non-negative integer.

    Example:
        >>> from unrolled import utils
        >>> utils.set_random_seed(42)

    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_random_seed expects a non-negative integer; received {seed!r}.")
    _state["rng"] = np.random.default_rng(int(seed))
    _pyrandom.seed(int(seed))
    np.random.seed(int(seed) % (2**32))


def make_default_seed() -> int:
    """Draw a fresh integer seed from the global generator."""
    return int(_state["rng"].integers(0, 2**31 - 1))


def numpy_rng() -> np.random.Generator:
    """Return the global NumPy generator (used for shuffling)."""
    return _state["rng"]


def rng_state() -> dict:
    """Return the global generator's state as plain JSON-able data (`set_rng_state` restores it).

    `fit` draws each epoch's shuffling order from this generator; `BackupAndRestore` saves the
    state with its backup so that a resumed run shuffles as an uninterrupted one.
    """
    return copy.deepcopy(_state["rng"].bit_generator.state)


def set_rng_state(state: dict) -> None:
    """Restore the global generator to a state `rng_state` returned."""
    kind = state.get("bit_generator") if isinstance(state, dict) else None
    generator = getattr(np.random, str(kind), None)
    if generator is None or not isinstance(generator, type) or not issubclass(
            generator, np.random.BitGenerator):
        raise ValueError(f"set_rng_state: not a NumPy bit generator state (bit_generator="
                         f"{kind!r}); pass what rng_state() returned.")
    bit_generator = generator()
    bit_generator.state = state
    _state["rng"] = np.random.Generator(bit_generator)


class SeedGenerator:
    """A stream of PRNG keys for one layer; inside a jitted step it draws from the step's key.

    Its ``state`` is a non-trainable `Variable` ``[seed, count]`` (uint32), listed in its
    layer's ``non_trainable_variables`` as Keras's ``seed_generator_state``: under
    `Layer.stateless_call` (a `StatelessScope` without a step key) the key is drawn from the
    state's value and the advanced state comes back with the new non-trainable values, so a
    jitted custom step draws fresh dropout masks at every call. `fit`'s steps use their own
    keys (the scope's) and leave the state alone.
    """

    _unrolled_seed_generator = True

    def __init__(self, seed: int | None = None):
        self.seed = make_default_seed() if seed is None else int(seed)
        self.state = Variable(np.array([self.seed % 2**32, 0], np.uint32),
                              name="seed_generator_state", trainable=False,
                              path=f"{unique_name('seed_generator')}/seed_generator_state")

    @property
    def _count(self) -> int:
        return int(np.asarray(self.state._value)[1])

    @_count.setter
    def _count(self, count: int) -> None:
        self.state._value = to_device(np.array([self.seed % 2**32, count], np.uint32))

    def get_state(self) -> list[int]:
        """Return ``[seed, count]``: where the stream of keys stands (`set_state` restores it)."""
        return [self.seed, self._count]

    def set_state(self, state) -> None:
        """Continue the stream of keys from a `get_state` value."""
        seed, count = (int(v) for v in state)
        self.seed, self._count = seed, count

    def next(self) -> jax.Array:
        """Return a new key."""
        scope = current_scope()
        if scope is not None and scope.rng is not None:
            return jax.random.fold_in(scope.next_key(), self.seed)
        if scope is not None:  # stateless_call: the key follows the state's value
            state = jnp.asarray(scope.get(self.state), jnp.uint32)
            count = state[1] + jnp.uint32(1)
            self.state.assign(jnp.stack([state[0], count]))
            return jax.random.fold_in(jax.random.key(self.seed), count)
        count = self._count + 1
        self._count = count
        return host_random.folded_key(self.seed, count)
