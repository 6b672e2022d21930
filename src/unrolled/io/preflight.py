"""Check a ``.keras`` file's config against its weights BEFORE the model is built.

Building first would allocate (and initialize) every weight the config asks for: a config that
says ``LSTM(20000)`` beside ``LSTM(3)``'s weights would claim 6 GB before the mismatch is seen,
and under a memory limit the process dies in XLA instead of raising. So `check_file` builds the
model abstractly (`unrolled.layers.abstract.abstract_build`: shapes only, nothing allocated),
reads only the shapes of the HDF5 datasets, and refuses

- a weight whose shape in the file differs from the one the config implies, or a layer whose
  weights are missing, naming the file, the layer and the weight; and
- a model of more than `MAX_LOAD_PARAMS` parameters (overridable: set
  ``unrolled.io.preflight.MAX_LOAD_PARAMS`` or the environment variable
  ``UNROLLED_MAX_LOAD_PARAMS``), naming the file and its largest layer.

A config that cannot even be rebuilt abstractly is left to the real rebuild, which reports it.
"""

from __future__ import annotations

import io
import os

import numpy as np

from unrolled.io import serialization, weights_h5
from unrolled.io.serialization import UnreadableFileError
from unrolled.layers.abstract import abstract_build

#: largest model `load_model` builds: 1e9 parameters (4 GB of float32 weights)
MAX_LOAD_PARAMS = 1_000_000_000


def max_load_params() -> int:
    """`MAX_LOAD_PARAMS`, or ``UNROLLED_MAX_LOAD_PARAMS`` from the environment when set."""
    value = os.environ.get("UNROLLED_MAX_LOAD_PARAMS")
    return MAX_LOAD_PARAMS if not value else int(value)


def _expected_shapes(config) -> list[tuple[str, str, list[tuple[str, tuple]]]]:
    """``(h5 group path, layer name, [(weight path, shape)])`` the config implies."""

    def build():
        model = serialization.deserialize_model(config)
        if not model.built:
            return []
        return [(path, name, [(v.path, tuple(v.shape)) for v in variables])
                for path, name, variables in weights_h5.weight_groups(model)]

    return abstract_build(build)


def check_file(config, weights: bytes, source: str) -> None:
    """Compare the weight shapes ``config`` implies with those stored in ``weights`` (HDF5).

    Raises:
        UnreadableFileError: (a ValueError) for a missing or mis-shaped weight, or a model
            larger than `max_load_params`, naming ``source``, the layer and the weight.

    """
    try:
        expected = _expected_shapes(config)
    except Exception:  # noqa: BLE001 - the real rebuild reports what is wrong with the config
        return
    h5 = weights_h5.h5py()
    with weights_h5.open_h5(io.BytesIO(weights), f"{source} (its model.weights.h5)") as f:
        for path, name, variables in expected:
            group = f.get(f"{path}/vars") if variables else None
            if variables and not isinstance(group, h5.Group):
                raise UnreadableFileError(
                    f"{source}: no weights for layer {name!r} (expected the group "
                    f"'{path}/vars' with {len(variables)} arrays). The config and the weights "
                    "come from different models; the model was not built.")
            for i, (weight, shape) in enumerate(variables):
                ds = group.get(str(i))
                stored = tuple(ds.shape) if isinstance(ds, h5.Dataset) else None
                if stored != shape:
                    raise UnreadableFileError(
                        f"{source}: weight {weight!r} of layer {name!r} has shape {shape} by "
                        f"the file's config but {stored} in its weights ('{path}/vars/{i}'). "
                        "The config and the weights come from different models, so the model "
                        "was not built; save the model again from one session.")
    sizes = {name: sum(int(np.prod(s)) for _, s in variables) for _, name, variables in expected}
    total, limit = sum(sizes.values()), max_load_params()
    if total > limit:
        largest = max(sizes, key=sizes.get)
        raise UnreadableFileError(
            f"{source}: the model has {total:,} parameters (layer {largest!r}: "
            f"{sizes[largest]:,}), more than the {limit:,} unrolled loads by default; the model "
            "was not built. If the file is genuine and the memory is there, raise the limit: "
            "unrolled.io.preflight.MAX_LOAD_PARAMS or the environment variable "
            "UNROLLED_MAX_LOAD_PARAMS.")
