"""Names, configs and model files, as Keras's ``keras.saving``.

The room below every other (stdlib only):

- `object_registration`: one registry of names by kind (layers, activations, initializers,
  losses, metrics, optimizers, schedules); every ``get`` resolves names through it.
- `custom_objects`: users' own names, Keras's way (`register_keras_serializable`'s
  ``"package>Name"`` table and `custom_object_scope`), consulted by the registry.
- `serialization_lib`: the one layer serializer (``serialize_layer``/``deserialize_layer``).

None of them imports anything else from unrolled: ops, layers, training, models and io all use
them. ``load_model``/``save_model`` are Keras's names for the files that `unrolled.io` reads
and writes; ``load_model`` reaches up to `unrolled.models` only when called.

Example:
    >>> from unrolled import saving
    >>> @saving.register_keras_serializable(package="demo")
    ... class Scale:
    ...     def get_config(self):
    ...         return {}
    >>> saving.get_registered_name(Scale)
    'demo>Scale'
    >>> saving.get_registered_object("demo>Scale") is Scale
    True

"""

from __future__ import annotations

import os

from unrolled.saving import custom_objects, object_registration, serialization_lib
from unrolled.saving.custom_objects import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from unrolled.saving.serialization_lib import deserialize_layer, serialize_layer


def load_model(filepath, custom_objects: dict | None = None, compile: bool = True, **kwargs):
    """Load a model from a ``.keras`` or Keras 2 ``.h5`` file (`unrolled.models.load_model`)."""
    from unrolled.models.saving import load_model as load  # lazy: models sit above saving/

    return load(filepath, custom_objects=custom_objects, compile=compile, **kwargs)


def save_model(model, filepath: str | os.PathLike, overwrite: bool = True, **kwargs) -> None:
    """Save ``model`` as a Keras 3 ``.keras`` file (same as ``model.save(filepath)``).

    Args:
        model: the model.
        filepath: a path ending in ``.keras``.
        overwrite: replace an existing file.
        **kwargs: ``include_optimizer`` (default True).

    Raises:
        TypeError: for an argument Keras's ``save_model`` does not take here.

    """
    unknown = set(kwargs) - {"include_optimizer", "zipped"}
    if unknown:
        raise TypeError(f"save_model got unexpected arguments {sorted(unknown)}; it takes "
                        "model, filepath, overwrite and include_optimizer.")
    if kwargs.pop("zipped", None) is False:
        raise ValueError("save_model: zipped=False (an unzipped folder) is not supported; "
                         "leave zipped at its default to write a .keras file.")
    model.save(filepath, overwrite=overwrite, **kwargs)


__all__ = ["CustomObjectScope", "custom_object_scope", "custom_objects", "deserialize_layer",
           "get_custom_objects", "get_registered_name", "get_registered_object", "load_model",
           "object_registration", "register_keras_serializable", "save_model",
           "serialization_lib", "serialize_layer"]
