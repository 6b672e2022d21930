"""unrolled: Keras-exact LSTM sequence models on JAX, fast and transparent.

``from unrolled import layers, models`` reads like ``from keras import layers, models``.

The submodules are imported on first use (PEP 562), so ``import unrolled`` and the
``unrolled --help`` command line stay fast and do not import JAX; ``unrolled.layers`` and
``from unrolled import models`` work as before.
"""

import importlib as _importlib

from unrolled._runtime import tune_allocator as _tune_allocator
from unrolled._version import __version__

_SUBMODULES = (
    "activations", "callbacks", "constraints", "convert", "datasets", "distribution",
    "initializers", "inspect", "layers", "losses", "metrics", "models", "ops", "optimizers",
    "preprocessing", "regularizers", "saving", "utils",
)
_ATTRIBUTES = {"Input": "unrolled.layers", "Layer": "unrolled.layers",
               "Model": "unrolled.models", "Sequential": "unrolled.models"}

__all__ = [
    "Input", "Layer", "Model", "Sequential", "activations", "callbacks", "constraints",
    "datasets", "distribution", "initializers", "inspect", "layers", "losses", "metrics",
    "models", "ops", "optimizers", "preprocessing", "regularizers", "saving", "utils",
    "__version__",
]


_tune_allocator()  # glibc malloc thresholds for XLA's temporaries; UNROLLED_TUNE_MALLOC=0: off


def __getattr__(name: str):
    """Import a submodule (or a re-exported class) on first access."""
    if name in _SUBMODULES:
        return _importlib.import_module(f"unrolled.{name}")
    if name in _ATTRIBUTES:
        return getattr(_importlib.import_module(_ATTRIBUTES[name]), name)
    raise AttributeError(f"module 'unrolled' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | {"convert"})
