"""Utilities with Keras names: seeding, padding, one-hot labels, sessions, `PyDataset`."""

from unrolled.data.py_dataset import PyDataset
from unrolled.data.sequences import pad_sequences, to_categorical
from unrolled.layers.base import clear_session
from unrolled.layers.random import set_random_seed

__all__ = ["PyDataset", "clear_session", "pad_sequences", "set_random_seed", "to_categorical"]
