"""Utilities with Keras names: padding, one-hot labels, windows, sessions, custom objects.

Also seeding (`set_random_seed`), `PyDataset` and the persistent compilation cache.
"""

from unrolled.compile_cache import enable_compile_cache
from unrolled.data.py_dataset import PyDataset
from unrolled.data.sequences import pad_sequences, to_categorical
from unrolled.data.timeseries import timeseries_dataset_from_array
from unrolled.layers.base import clear_session
from unrolled.layers.random import set_random_seed
from unrolled.saving import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)

__all__ = ["CustomObjectScope", "PyDataset", "clear_session", "custom_object_scope",
           "enable_compile_cache", "get_custom_objects", "get_registered_name",
           "get_registered_object", "pad_sequences", "register_keras_serializable",
           "set_random_seed", "timeseries_dataset_from_array", "to_categorical"]
