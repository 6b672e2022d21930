"""Users' own names, as ``keras.saving`` keeps them: ``"package>Name"`` keys and scopes.

`register_keras_serializable` puts a user's class or function in a global table under
``"package>Name"``; `custom_object_scope` makes ``{name: object}`` visible inside a ``with``
block. `unrolled.saving.object_registration.find` consults both (the scope first), so every
``get`` and the layer serializer resolve a user's names exactly as built-in ones. Stdlib only.

Example:
    >>> from unrolled.saving import custom_objects
    >>> @custom_objects.register_keras_serializable(package="demo")
    ... class Scale:
    ...     def get_config(self):
    ...         return {}
    >>> custom_objects.get_registered_name(Scale)
    'demo>Scale'
    >>> custom_objects.get_registered_object("demo>Scale") is Scale
    True

"""

from __future__ import annotations

import inspect
import threading

#: ``"package>Name" -> object`` for every registered object, as ``keras.saving``'s table.
GLOBAL_CUSTOM_OBJECTS: dict = {}
GLOBAL_CUSTOM_NAMES: dict = {}
_scope = threading.local()


def _scope_dict() -> dict:
    return getattr(_scope, "objects", {})


class CustomObjectScope:
    """Make ``custom_objects`` visible to deserialization inside a ``with`` block.

    Args:
        custom_objects: ``{name: object}``; inside the block it replaces the previous scope.

    Example:
        >>> from unrolled import saving
        >>> with saving.custom_object_scope({"Thing": dict}):
        ...     saving.get_registered_object("Thing") is dict
        True

    """

    def __init__(self, custom_objects: dict | None):
        self.custom_objects = dict(custom_objects or {})
        self.backup: dict | None = None

    def __enter__(self):
        """Install the scope's objects."""
        self.backup = _scope_dict().copy()
        _scope.objects = self.custom_objects.copy()
        return self

    def __exit__(self, *exc_info):
        """Restore the previous scope."""
        _scope.objects = self.backup.copy()


custom_object_scope = CustomObjectScope


def get_custom_objects() -> dict:
    """Return the global ``{registered name: object}`` table (mutable, as in Keras)."""
    return GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """Return a decorator registering a class or function as ``"package>name"``.

    Args:
        package: the prefix of the registered name.
        name: the name after the prefix (default: the object's ``__name__``).

    Raises:
        ValueError: for a class without ``get_config`` (it could not be saved).

    """

    def decorator(arg):
        registered = f"{package}>{name if name is not None else arg.__name__}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(f"register_keras_serializable: cannot register {arg.__name__!r}: "
                             "it has no get_config() method. Define get_config() returning "
                             "the constructor arguments.")
        GLOBAL_CUSTOM_OBJECTS[registered] = arg
        GLOBAL_CUSTOM_NAMES[arg] = registered
        return arg

    return decorator


def get_registered_name(obj) -> str:
    """Return the name ``obj`` was registered under, else its ``__name__``."""
    return GLOBAL_CUSTOM_NAMES.get(obj, getattr(obj, "__name__", None))


def get_registered_object(name: str, custom_objects: dict | None = None,
                          module_objects: dict | None = None):
    """Return the object for ``name``: the scope first, then the global table, then the dicts.

    Returns ``None`` when no source has it, as Keras does.
    """
    for table in (_scope_dict(), GLOBAL_CUSTOM_OBJECTS, custom_objects or {},
                  module_objects or {}):
        if name in table:
            return table[name]
    return None
