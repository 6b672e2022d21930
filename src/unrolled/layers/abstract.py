"""`abstract_build`: build layers and models for their weight shapes only, allocating nothing.

Inside, `Layer.add_weight` skips the initializer and the whole construction runs under
``jax.eval_shape``, so every weight is an abstract array: a config asking for ``LSTM(20000)``
(1.6 billion parameters) is measured in milliseconds without a byte of weights. Used to check a
file's config against its weights before the real model is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import jax

from unrolled.layers import base, random

T = TypeVar("T")


def abstract_build(fn: Callable[[], T]) -> T:
    """Return ``fn()`` run with abstract weights; its result must not hold arrays.

    Automatic layer names and the global random generator are left as they were, so building
    abstractly first changes nothing about the real build that follows.

    Example:
        >>> from unrolled import layers, models
        >>> def shapes():
        ...     model = models.Sequential([layers.Input((5, 2)), layers.LSTM(20000)])
        ...     return [w.shape for w in model.weights]
        >>> abstract_build(shapes)
        [(2, 80000), (20000, 80000), (80000,)]

    """
    names = dict(base._name_counts)
    rng_state = random._state["rng"].bit_generator.state
    out = []
    base._abstract.on = True
    try:
        jax.eval_shape(lambda: out.append(fn()))
    finally:
        base._abstract.on = False
        base._name_counts.clear()
        base._name_counts.update(names)
        random._state["rng"].bit_generator.state = rng_state
    return out[0]
