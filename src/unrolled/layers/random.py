"""Explicit PRNG keys derived from one global seed (`unrolled.utils.set_random_seed`)."""

from __future__ import annotations

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


class SeedGenerator:
    """A stream of PRNG keys for one layer; inside a jitted step it draws from the step's key."""

    def __init__(self, seed: int | None = None):
        self.seed = make_default_seed() if seed is None else int(seed)
        self._count = 0

    def next(self) -> jax.Array:
        """Return a new key."""
        scope = current_scope()
        if scope is not None and scope.rng is not None:
            return jax.random.fold_in(scope.next_key(), self.seed)
        self._count += 1
        return host_random.folded_key(self.seed, self._count)
