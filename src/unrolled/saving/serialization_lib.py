"""The one layer serializer: a layer to Keras's ``{"module", "class_name", "config"}`` and back.

Used by every layer that holds layers (`RNN`'s cell, `StackedRNNCells`, `Bidirectional`,
`TimeDistributed`), by `Sequential` and the functional model, and by `unrolled.io` (which
first translates other files' dialects, dict -> dict). As Keras's ``saving/serialization_lib``
it imports no layer: classes are found by name through `object_registration` (the built-ins
``unrolled.layers`` registers, ``custom_objects``, then the defined subclasses of ``Layer``).

Example:
    >>> from unrolled import layers
    >>> from unrolled.saving import serialization_lib
    >>> spec = serialization_lib.serialize_layer(layers.LSTM(4, name="encoder"))
    >>> spec["class_name"], spec["config"]["units"]
    ('LSTM', 4)
    >>> serialization_lib.deserialize_layer(spec).name
    'encoder'

"""

from __future__ import annotations

import inspect

from unrolled.saving import custom_objects as _user
from unrolled.saving import object_registration

BUILTIN_MODULE = "keras.layers"


class LayerConfigError(ValueError):
    """A layer's config that its class refuses; the message names the layer (innermost)."""


def serialize_layer(layer) -> dict:
    """Return ``{"module", "class_name", "config", "registered_name"}`` of ``layer``.

    A built-in layer is written as Keras writes its own (``module="keras.layers"``,
    ``registered_name=None``); another layer class under its Python module and class name.
    """
    name = type(layer).__name__
    config = layer.get_config()
    if object_registration.find("layers", name, registered_only=True) is type(layer):
        return {"module": BUILTIN_MODULE, "class_name": name, "config": config,
                "registered_name": None}
    return {"module": type(layer).__module__, "class_name": name, "config": config,
            "registered_name": _user.get_registered_name(type(layer))}


def layer_class(name: str, custom_objects: dict | None = None, module: str | None = None):
    """Return the layer class called ``name``.

    Looked up in ``custom_objects``, then the built-ins, then among the defined subclasses of
    ``Layer`` (a user-defined cell such as Keras's ``OneStateRNNCell``), preferring one from
    ``module`` when several share the name. Nothing is imported.

    Raises:
        ValueError: for a name nobody defined, saying how to provide the class.

    """
    cls = object_registration.find("layers", name, custom_objects, module)
    if cls is None:
        raise ValueError(
            f"Unknown layer class {name!r}: it is not a built-in layer and no subclass of "
            "unrolled.layers.Layer with that name is defined. Import or define the class "
            f"before calling from_config, or pass custom_objects={{{name!r}: TheClass}}."
            f"{object_registration.did_you_mean('layers', name)}"
        )
    return cls


def _takes_custom_objects(method) -> bool:
    try:
        return "custom_objects" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def from_config(cls, config: dict, custom_objects: dict | None = None):
    """``cls.from_config(config)``, passing ``custom_objects`` on when it takes them."""
    if custom_objects and _takes_custom_objects(cls.from_config):
        return cls.from_config(config, custom_objects=custom_objects)
    return cls.from_config(config)


def deserialize_layer(spec, custom_objects: dict | None = None):
    """Recreate a layer from `serialize_layer`'s output (a layer object is returned as is).

    Nested layers (an `RNN`'s cell, a `Bidirectional`'s layers) are rebuilt by their owner's
    ``from_config``, which calls this function with the same ``custom_objects``.

    Raises:
        ValueError: for a spec that is not ``{"class_name": ..., "config": ...}`` or an unknown
            class; `LayerConfigError` (a ValueError naming the layer) when the class refuses
            the config.

    """
    if not isinstance(spec, dict) and hasattr(spec, "get_config"):
        return spec
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
        raise ValueError(
            "A serialized layer must be a dict with 'class_name' and 'config' (the output of "
            f"serialize_layer or of get_config of the wrapping layer); received {spec!r:.200}."
        )
    registered = spec.get("registered_name")
    cls = (object_registration.find("layers", registered, custom_objects)
           if isinstance(registered, str) and ">" in registered else None)
    if cls is None:
        cls = layer_class(spec["class_name"], custom_objects, spec.get("module"))
    config = dict(spec.get("config") or {})
    try:
        return from_config(cls, config, custom_objects)
    except LayerConfigError:
        raise
    except (TypeError, ValueError, KeyError, NotImplementedError) as exc:
        raise LayerConfigError(
            f"layer {config.get('name', '?')!r} ({spec['class_name']}) could not be rebuilt "
            f"from its config: {exc}") from exc


def serialize_object(kind: str, keras_module: str, obj) -> dict | None:
    """Return Keras's ``{"module", "class_name", "config", "registered_name"}`` of a small object.

    For regularizers, constraints and the like (``kind`` in the registry): a built-in class is
    written under ``keras_module`` with ``registered_name=None``, as Keras writes its own;
    another class under its Python module and name. None stays None.
    """
    if obj is None:
        return None
    name = type(obj).__name__
    builtin = object_registration.is_registered(kind, name)
    return {"module": keras_module if builtin else type(obj).__module__, "class_name": name,
            "config": obj.get_config(), "registered_name": None if builtin else name}


def get_object(kind: str, identifier, custom_objects: dict | None = None):
    """Resolve a ``kind`` object from None, a name, a config dict, a class or a callable.

    Raises:
        ValueError: for an unknown name (the valid ones and the closest) or an identifier that
            is none of these.

    """
    if identifier is None:
        return None
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = object_registration.get_registered_object(
            kind, identifier.get("registered_name") or identifier["class_name"], custom_objects)
        return cls.from_config(identifier.get("config") or {})
    if isinstance(identifier, str):
        identifier = object_registration.get_registered_object(kind, identifier, custom_objects)
    if inspect.isclass(identifier):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret {object_registration.NOUNS[kind]} identifier: "
                     f"{identifier}")
