"""Keras 2 (and Keras 3 legacy) full-model ``.h5`` files.

Layout: the root attribute ``model_config`` holds the model's JSON config, ``keras_version`` the
Keras that wrote it and ``training_config`` the compile settings; the group ``model_weights``
lists ``layer_names`` and holds, per layer, a group whose ``weight_names`` attribute names its
arrays in order (``lstm/lstm_cell/kernel:0``, ...). Layers with weights are matched to the
file's layers with weights in order, as Keras does.

In files from Keras 1.x/2.x, ``hard_sigmoid`` means ``clip(0.2 x + 0.5, 0, 1)`` (Keras 2.0-2.2
made it the LSTM's default ``recurrent_activation``); it keeps that meaning here
(`unrolled.ops.activations.hard_sigmoid_keras2`), while Keras 3 redefined it as
``relu6(x + 3) / 6``. The optimizer's state is not restored from these files (their slot layout
varied between Keras 2 versions): training resumes with a fresh optimizer.
"""

from __future__ import annotations

import json
import os

from unrolled.io import serialization, weights_h5
from unrolled.io.legacy_weights import _text, load_weights_group  # noqa: F401 (re-exported)
from unrolled.io.serialization import UnreadableFileError


def is_keras2(version: str) -> bool:
    """Whether a ``keras_version`` string names Keras 1.x or 2.x (old ``hard_sigmoid``)."""
    return version.split(".")[0] in ("1", "2")


def _load(f, source: str, compile: bool):
    if "model_config" not in f.attrs:
        raise UnreadableFileError(
            f"{source} is an HDF5 file without a 'model_config' attribute, so it is not a "
            "full Keras model (it may hold weights only: build the model and call "
            "model.load_weights).")
    config = json.loads(_text(f.attrs["model_config"]))
    keras2 = is_keras2(_text(f.attrs.get("keras_version", "2")))
    try:
        model = serialization.deserialize_model(config, keras2=keras2)
        training = f.attrs.get("training_config")
        if compile and training is not None:
            serialization.compile_from_config(model, json.loads(_text(training)))
    except UnreadableFileError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise UnreadableFileError(f"{source}: {exc}") from None
    group = f.get("model_weights")
    if group is None:
        raise UnreadableFileError(f"{source} has no 'model_weights' group.")
    if not model.built:
        raise UnreadableFileError(f"{source}: the model config has no input shape.")
    load_weights_group(group, model, source)
    return model


def load_model(filepath, compile: bool = True):
    """Load a legacy full-model ``.h5`` file (Keras 2, or Keras 3's ``model.save('x.h5')``).

    Raises:
        ValueError: for a damaged file, a weights-only file, or a layer unrolled does not
            support (naming it).

    """
    path = os.fspath(filepath)
    source = f"Model file {path!r}"
    with weights_h5.open_h5(path, source) as f:
        return weights_h5.guarded(lambda: _load(f, source, compile), source)
