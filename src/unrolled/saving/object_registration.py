"""One registry of names by kind: layers, activations, initializers, losses, metrics, ...

Every room registers its own objects here at import (``ops.activations`` its functions,
``layers`` its classes, ``training`` its losses, metrics, optimizers and schedules), and every
``get`` resolves a name through `get_registered_object`, so names, ``custom_objects`` and the
"unknown name" error (the valid names and the closest one, as Keras's ``did you mean``) work
the same way everywhere. This module imports nothing from unrolled, so any room may use it.

Example:
    >>> from unrolled.saving import object_registration as registry
    >>> registry.get_registered_object("activations", "tanh").__name__
    'tanh'
    >>> registry.closest_name("losses", "binary_crossentropi")
    'binary_crossentropy'

"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from unrolled.saving import custom_objects as _user

#: the kinds of names, as Keras's module names
KINDS = ("layers", "activations", "initializers", "losses", "metrics", "optimizers", "schedules",
         "regularizers", "constraints")
#: how an error message names one object of a kind
NOUNS = {"layers": "layer", "activations": "activation", "initializers": "initializer",
         "losses": "loss", "metrics": "metric", "optimizers": "optimizer",
         "schedules": "learning-rate schedule", "regularizers": "regularizer",
         "constraints": "constraint"}

_OBJECTS: dict[str, dict[str, object]] = {kind: {} for kind in KINDS}
_BASES: dict[str, type] = {}


def _check_kind(kind: str) -> dict[str, object]:
    if kind not in _OBJECTS:
        raise ValueError(f"Unknown registry kind {kind!r}; expected one of {list(KINDS)}.")
    return _OBJECTS[kind]


def register(kind: str, name: str, obj: object) -> object:
    """Register ``obj`` under ``name`` in ``kind`` and return it.

    Registering the same object again under a name is a no-op; another object under a taken
    name is refused, so a typo cannot silently replace a built-in.

    Raises:
        ValueError: for an unknown kind or a name already taken by another object.

    """
    table = _check_kind(kind)
    if name in table and table[name] is not obj:
        raise ValueError(f"The {NOUNS[kind]} name {name!r} is already registered for "
                         f"{table[name]!r}; choose another name for {obj!r}.")
    table[name] = obj
    return obj


def register_all(kind: str, objects: dict[str, object] | Iterable[type]) -> None:
    """Register a ``{name: object}`` dict, or classes under their ``__name__``."""
    items = objects.items() if isinstance(objects, dict) else ((c.__name__, c) for c in objects)
    for name, obj in items:
        register(kind, name, obj)


def register_base(kind: str, base: type) -> None:
    """Also find ``kind`` objects among the defined subclasses of ``base`` (user layers).

    Keras needs ``register_keras_serializable`` for a user's layer; unrolled also finds a
    defined subclass by its class name, so a user's cell in an `RNN` config comes back with
    no registration.
    """
    _check_kind(kind)
    _BASES[kind] = base


def names(kind: str) -> list[str]:
    """Return every registered name of ``kind``, sorted."""
    return sorted(_check_kind(kind))


def is_registered(kind: str, name: str) -> bool:
    """Return whether ``name`` is a registered (built-in) name of ``kind``."""
    return isinstance(name, str) and name in _check_kind(kind)


def registered_name(kind: str, obj: object) -> str | None:
    """Return the first name ``obj`` was registered under in ``kind``, or ``None``."""
    for name, candidate in _check_kind(kind).items():
        if candidate is obj:
            return name
    return None


def _subclasses(base: type) -> list[type]:
    found = []
    for sub in base.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def find(kind: str, name: str, custom_objects: dict | None = None,
         module: str | None = None, registered_only: bool = False):
    """Return the object called ``name``, or ``None``.

    Looked up in ``custom_objects``, then a user's names (`custom_object_scope`, then
    `register_keras_serializable`'s table), then the registered names of ``kind``, then (unless
    ``registered_only``) among the defined subclasses of the kind's base class, preferring one
    from ``module`` when several share the name.

    Raises:
        ValueError: when several defined classes share the name and ``module`` does not
            choose one.

    """
    table = _check_kind(kind)
    if not isinstance(name, str):
        return None
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    user = _user.get_registered_object(name)
    if user is not None:
        return user
    if name in table:
        return table[name]
    base = _BASES.get(kind)
    if registered_only or base is None:
        return None
    matches = {c for c in _subclasses(base) if c.__name__ == name}
    if len(matches) > 1 and module is not None:
        matches = {c for c in matches if c.__module__ == module} or matches
    if len(matches) > 1:
        raise ValueError(
            f"Several {NOUNS[kind]} classes are named {name!r} "
            f"({sorted(c.__module__ + '.' + c.__qualname__ for c in matches)}); pass "
            f"custom_objects={{{name!r}: TheClass}} to choose one."
        )
    return matches.pop() if matches else None


def closest_name(kind: str, name: str, candidates: Iterable[str] | None = None) -> str | None:
    """Return the registered name of ``kind`` closest to ``name`` (difflib), or ``None``."""
    if not isinstance(name, str):
        return None
    pool = list(_check_kind(kind) if candidates is None else candidates)
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not close:  # a case slip ("Adam" for "adam") is close too
        lowered = {c.lower(): c for c in pool}
        close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
        close = [lowered[c] for c in close]
    return close[0] if close else None


def did_you_mean(kind: str, name: str, candidates: Iterable[str] | None = None) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest name, or ``""``."""
    close = closest_name(kind, name, candidates)
    return f" Did you mean {close!r}?" if close is not None and close != name else ""


def unknown_name_error(kind: str, name, listed: Iterable[str] | None = None,
                       alternatives: str = "") -> ValueError:
    """Return the error for an unknown name: the name, the valid ones, and the closest one.

    Args:
        kind: one of `KINDS`.
        name: the name that was not found.
        listed: the names to show (default: every registered name of ``kind``).
        alternatives: what else is accepted, e.g. ``", a Loss instance or a function"``.

    """
    listed = names(kind) if listed is None else sorted(listed)
    return ValueError(f"Unknown {NOUNS[kind]} {name!r}. Expected one of {listed}"
                      f"{alternatives}.{did_you_mean(kind, name, listed)}")


def get_registered_object(kind: str, name: str, custom_objects: dict | None = None,
                          listed: Iterable[str] | None = None, alternatives: str = "",
                          registered_only: bool = True):
    """Return the object registered as ``name`` (``custom_objects`` first).

    With ``registered_only=False`` a defined subclass of the kind's base is found too (`find`).

    Raises:
        ValueError: for an unknown name, listing ``listed`` (default: all names of ``kind``)
            and suggesting the closest one.

    """
    obj = find(kind, name, custom_objects, registered_only=registered_only)
    if obj is None:
        raise unknown_name_error(kind, name, listed, alternatives)
    return obj
