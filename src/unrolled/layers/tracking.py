"""Attribute tracking: sub-layers and variables a layer holds, found as Keras finds them.

Keras tracks what a layer assigns to its attributes: a `Layer` becomes a sub-layer (its weights
follow the layer's own, in assignment order), a `Variable` one of the layer's own weights, and
so do the layers and variables inside lists, tuples and dicts. `Layer.__setattr__` calls
`track`; `sublayers` also looks into list and dict attributes again at query time, so a layer
appended to ``self.blocks`` after assignment counts too (Keras wraps such lists to see that).
Sub-layers appended to ``self._sublayers`` by hand keep working.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from unrolled.layers.variables import Variable

_local = threading.local()
#: attributes that never hold owned sub-layers or weights (RNN states are not weights)
_SKIP = frozenset({"_inbound_nodes", "_sublayers", "_own_weights", "_losses", "_trainer",
                   "_predictor", "history", "_state_vars"})


def _is_layer(value) -> bool:
    return hasattr(value, "_own_weights") and hasattr(value, "_sublayers")


def _members(value):
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def track(layer, name: str, value) -> None:
    """Record ``value`` (a layer, a variable, or a list/tuple/dict of them) as ``layer``'s."""
    if isinstance(value, (str, int, float, bool)) or value is None or name in _SKIP:
        return
    for item in _members(value):
        if item is layer:
            continue
        if isinstance(item, Variable):
            if getattr(item, "is_state", False):
                continue
            own = layer.__dict__.setdefault("_own_weights", [])
            if not any(w is item for w in own):
                own.append(item)
        elif _is_layer(item):
            subs = layer.__dict__.setdefault("_sublayers", [])
            if not any(s is item for s in subs):
                subs.append(item)


def own_variables(layer) -> list:
    """Return the layer's own variables (``add_weight`` and attributes), in creation order."""
    return list(layer.__dict__.get("_own_weights", ()))


def sublayers(layer) -> list:
    """Return the direct sub-layers: tracked ones, then any added to list/dict attributes."""
    out = list(layer.__dict__.get("_sublayers", ()))
    seen = {id(s) for s in out} | {id(layer)}
    for key, value in layer.__dict__.items():
        if key in _SKIP or not isinstance(value, (list, tuple, dict)):
            continue
        for item in _members(value):
            if _is_layer(item) and id(item) not in seen:
                seen.add(id(item))
                out.append(item)
    return out


def all_sublayers(layer) -> list:
    """Return every layer nested in ``layer`` (depth first, each once), ``layer`` excluded."""
    out, seen = [], {id(layer)}

    def walk(parent):
        for sub in sublayers(parent):
            if id(sub) not in seen:
                seen.add(id(sub))
                out.append(sub)
                walk(sub)

    walk(layer)
    return out


@contextmanager
def outer_call(layer):
    """Mark a call; the outermost one (``layer`` not None) first clears the last call's losses.

    As Keras, ``layer.losses`` after ``layer(x)`` holds the losses of that call only, while the
    calls of sub-layers inside it add to it.
    """
    depth = getattr(_local, "depth", 0)
    if depth == 0 and layer is not None:
        layer._clear_losses()
    _local.depth = depth + 1
    try:
        yield
    finally:
        _local.depth = depth
