"""Explicit PRNG keys derived from one global seed (`unrolled.utils.set_random_seed`)."""

from __future__ import annotations

import copy
import random as _pyrandom

import jax
import numpy as np

from unrolled.layers.variables import current_scope
from unrolled.ops import host_random

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
    """A stream of PRNG keys for one layer; inside a jitted step it draws from the step's key."""

    def __init__(self, seed: int | None = None):
        self.seed = make_default_seed() if seed is None else int(seed)
        self._count = 0

    def get_state(self) -> list[int]:
        """Return ``[seed, count]``: where the stream of keys stands (`set_state` restores it)."""
        return [self.seed, self._count]

    def set_state(self, state) -> None:
        """Continue the stream of keys from a `get_state` value."""
        self.seed, self._count = (int(v) for v in state)

    def next(self) -> jax.Array:
        """Return a new key."""
        scope = current_scope()
        if scope is not None and scope.rng is not None:
            return jax.random.fold_in(scope.next_key(), self.seed)
        self._count += 1
        return host_random.folded_key(self.seed, self._count)
