"""Utilities with Keras names: seeding, padding, one-hot labels, sessions."""

from unrolled.compile_cache import enable_compile_cache
from unrolled.data.sequences import pad_sequences, to_categorical
from unrolled.layers.base import clear_session
from unrolled.layers.random import set_random_seed

__all__ = [
    "clear_session", "enable_compile_cache", "pad_sequences", "set_random_seed", "to_categorical",
]
