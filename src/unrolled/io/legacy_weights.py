"""Weights in the legacy (Keras 2) HDF5 layout: a ``model_weights`` group, one group per layer.

Each layer group's ``weight_names`` attribute names its arrays in order
(``lstm/lstm_cell/kernel:0``, ...); layers with weights are matched to the file's layers with
weights in order, as Keras does. Read by `unrolled.io.weights_h5` (``load_weights`` of a
Keras 2 file) and `unrolled.io.legacy_h5` (full-model files); imports neither.
"""

from __future__ import annotations

import numpy as np

from unrolled.io.serialization import UnreadableFileError


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value[()])
    return str(value)


def load_weights_group(group, model, source: str) -> None:
    """Assign weights from a legacy ``model_weights`` group (checked before any assignment)."""
    names = [_text(n) for n in np.atleast_1d(group.attrs.get("layer_names", []))]
    stored = []
    for name in names:
        sub = group.get(name)
        if sub is None or not hasattr(sub, "keys"):  # an h5py Group (a Dataset has no keys)
            raise UnreadableFileError(f"{source}: layer group {name!r} listed in layer_names "
                                      "is missing.")
        wnames = [_text(w) for w in np.atleast_1d(sub.attrs.get("weight_names", []))]
        if wnames:
            stored.append((name, [np.asarray(sub[w][()]) for w in wnames]))
    layers = [layer for layer in model.layers if layer.weights]
    if len(layers) != len(stored):
        raise UnreadableFileError(
            f"{source}: the file holds weights for {len(stored)} layers "
            f"({[n for n, _ in stored]}) but the model has {len(layers)} layers with weights "
            f"({[layer.name for layer in layers]}).")
    pending = []
    for layer, (name, arrays) in zip(layers, stored, strict=True):
        if len(arrays) != len(layer.weights):
            raise UnreadableFileError(
                f"{source}: layer {name!r} has {len(arrays)} arrays in the file but "
                f"{layer.name!r} has {len(layer.weights)} weights.")
        for var, arr in zip(layer.weights, arrays, strict=True):
            if tuple(arr.shape) != var.shape or not np.all(np.isfinite(arr)):
                raise UnreadableFileError(
                    f"{source}: weight {var.path!r} expects shape {var.shape} of finite "
                    f"values; layer {name!r} in the file has shape {tuple(arr.shape)}.")
            pending.append((var, arr))
    for var, arr in pending:
        var.assign(np.asarray(arr, np.float32))
