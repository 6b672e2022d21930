"""unrolled: Keras-exact LSTM sequence models on JAX, fast and transparent.

``from unrolled import layers, models`` reads like ``from keras import layers, models``.

The submodules are imported on first use (PEP 562), so ``import unrolled`` and the
``unrolled --help`` command line stay fast and do not import JAX; ``unrolled.layers`` and
``from unrolled import models`` work as before.
"""

import importlib as _importlib
import importlib.util as _importlib_util
import os as _os
import sys as _sys

__version__ = "0.1.0"

_SUBMODULES = (
    "activations", "callbacks", "convert", "datasets", "initializers", "inspect", "layers",
    "losses", "metrics", "models", "optimizers", "utils",
)
_ATTRIBUTES = {"Input": "unrolled.layers", "Model": "unrolled.models",
               "Sequential": "unrolled.models"}

__all__ = [
    "Input", "Model", "Sequential", "activations", "callbacks", "datasets", "initializers",
    "inspect", "layers", "losses", "metrics", "models", "optimizers", "utils", "__version__",
]


class _LinkRuntime:
    """Import hook: once ``unrolled.training`` is imported, bind its ``runtime`` attribute.

    `_tune_allocator` registers ``unrolled.training.runtime`` before its package exists, so
    the import system would not set the package attribute; this hook does, then removes itself.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "unrolled.training":
            return None
        _sys.meta_path.remove(self)
        spec = _importlib_util.find_spec(fullname)
        run = spec.loader.exec_module

        def exec_module(module):
            module.runtime = _sys.modules["unrolled.training.runtime"]
            run(module)

        spec.loader.exec_module = exec_module
        return spec


def _tune_allocator() -> None:
    """Apply `unrolled.training.runtime.tune_allocator` without importing training/ (JAX).

    The module is loaded from its file under its own name, so a later
    ``from unrolled.training import runtime`` finds this very module (and its state).
    """
    name = "unrolled.training.runtime"
    module = _sys.modules.get(name)
    if module is None:
        path = _os.path.join(_os.path.dirname(__file__), "training", "runtime.py")
        spec = _importlib_util.spec_from_file_location(name, path)
        module = _importlib_util.module_from_spec(spec)
        _sys.modules[name] = module
        spec.loader.exec_module(module)
        if "unrolled.training" not in _sys.modules:
            _sys.meta_path.insert(0, _LinkRuntime())
    module.tune_allocator()


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
