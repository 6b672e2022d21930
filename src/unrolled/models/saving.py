"""`load_model`: the models-level entry point; the file formats live in `unrolled.io`."""

from __future__ import annotations

import os


def load_model(filepath: str | os.PathLike, custom_objects=None, compile: bool = True,
               safe_mode: bool = True):
    """Load a model from a Keras 3 ``.keras`` file or a Keras 2 full-model ``.h5`` file.

    Args:
        filepath: path of the file.
        custom_objects: not supported (must be empty); unrolled runs no code from files.
        compile: restore optimizer, loss, metrics and the optimizer's state.
        safe_mode: accepted for Keras compatibility.

    Returns:
        The model, with its weights (compiled when the file holds a compile config).

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: for a damaged file, one of another format, or an unsupported layer.

    Example:
        >>> import os, tempfile
        >>> from unrolled import layers, models
        >>> model = models.Sequential([layers.Input((5, 2)), layers.Dense(3)])
        >>> path = os.path.join(tempfile.mkdtemp(), "m.keras")
        >>> model.save(path)
        >>> models.load_model(path).count_params()
        9

    """
    from unrolled.io import keras_format  # lazy: io sits above models

    return keras_format.load_model(filepath, custom_objects=custom_objects, compile=compile,
                                   safe_mode=safe_mode)
