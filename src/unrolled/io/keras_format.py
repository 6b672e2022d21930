"""The Keras 3 ``.keras`` file: a zip of ``metadata.json``, ``config.json``, ``model.weights.h5``.

``config.json`` is the model's config in Keras's ``{"module", "class_name", "config"}`` form plus
its ``compile_config`` (optimizer, loss, metrics), so a loaded model can keep training;
``model.weights.h5`` holds the weights and the optimizer's state in Keras's layout (see
`unrolled.io.weights_h5`). Files written here load in real Keras 3 and files Keras writes load
here. The zip is built in memory and written atomically; a damaged file, or a zip from another
program, is refused with a `ValueError` that names the file and the problem.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import zipfile

from unrolled.distribution.placement import on_process_zero
from unrolled.io import atomic, checks, legacy_h5, preflight, serialization, weights_h5
from unrolled.io.serialization import UnreadableFileError
from unrolled.saving.custom_objects import custom_object_scope

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
#: the Keras version whose format these files follow (Keras reads it for information only)
KERAS_FORMAT_VERSION = "3.6.0"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_MAX_MEMBER_BYTES = 1 << 34  # 16 GiB: larger members are treated as zip bombs


def to_bytes(model, include_optimizer: bool = True) -> bytes:
    """Return the bytes of ``model`` as a ``.keras`` file."""
    from unrolled._version import __version__

    model._require_built("save")
    config = serialization.serialize_model(model)
    compile_config = serialization.serialize_compile(model)
    if compile_config is not None:
        config["compile_config"] = compile_config
    metadata = {"keras_version": KERAS_FORMAT_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "saved_by": f"unrolled {__version__}"}
    weights = io.BytesIO()
    with weights_h5.h5py().File(weights, "w") as f:
        weights_h5.write_weights(f, model, include_optimizer=include_optimizer)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(METADATA, json.dumps(metadata))
        zf.writestr(CONFIG, json.dumps(config))
        zf.writestr(WEIGHTS, weights.getvalue())
    return out.getvalue()


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """Save ``model`` as a Keras 3 ``.keras`` file, atomically.

    Args:
        model: a built `Sequential` or functional model.
        filepath: a name ending in ``.keras``.
        overwrite: replace an existing file (default) or refuse.
        include_optimizer: also store the optimizer's state, so training resumes exactly.

    Raises:
        ValueError: for another extension, an unbuilt model, or a NaN or infinite weight
            (named; `load_model` would refuse the file).
        OSError: naming the file when the disk is full (the old file stays as it was).

    Example:
        >>> import os, tempfile
        >>> from unrolled import layers, models
        >>> model = models.Sequential([layers.Input((5, 2)), layers.LSTM(3)])
        >>> path = os.path.join(tempfile.mkdtemp(), "m.keras")
        >>> model.save(path)
        >>> models.load_model(path).count_params()
        72

    """
    path = os.fspath(filepath)
    if not str(path).endswith(".keras"):
        raise ValueError(
            f"model.save writes the Keras 3 format, whose file name ends in '.keras'; received "
            f"{path!r}. Use e.g. 'model.keras' (or model.save_weights('m.weights.h5') for the "
            "weights alone).")
    checks.require_finite_weights(model, path)
    data = to_bytes(model, include_optimizer)  # on every process: gathering is collective
    on_process_zero(lambda: atomic.atomic_write(path, data, overwrite=overwrite))


def _check_members(zf: zipfile.ZipFile, source: str) -> None:
    names = zf.namelist()
    missing = [n for n in (CONFIG, WEIGHTS) if n not in names]
    if missing:
        raise UnreadableFileError(
            f"{source} is a zip archive but not a Keras model: it lacks {missing} (it holds "
            f"{names[:10]}). Save the model with model.save('name.keras').")
    for info in zf.infolist():
        if info.file_size > _MAX_MEMBER_BYTES:
            raise UnreadableFileError(
                f"{source}: member {info.filename!r} claims {info.file_size} bytes, more than "
                "any model this library writes; refusing to unpack it.")


def _read_zip(path: str, source: str):
    with zipfile.ZipFile(path) as zf:
        _check_members(zf, source)
        raw = checks.read_member(zf, CONFIG, checks.MAX_CONFIG_BYTES, source)
        try:
            config = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UnreadableFileError(f"{source}: config.json is not valid JSON ({exc}).") from None
        return config, checks.read_member(zf, WEIGHTS, checks.MAX_MEMBER_BYTES, source)


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Load a model saved by `save_model`, by Keras 3 (``.keras``), or a Keras 2 ``.h5`` file.

    Args:
        filepath: a ``.keras`` zip or a legacy full-model ``.h5`` file.
        custom_objects: ``{name: class}`` of the user's layers and models the file names
            (also found when registered with `register_keras_serializable`); unrolled never
            imports code a file names.
        compile: restore the optimizer, loss and metrics (and the optimizer's state).
        safe_mode: accepted for Keras compatibility; unrolled never runs code from a file.

    Returns:
        The `Sequential` or functional model, with its weights.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: for a damaged file, one of another format, or a layer unrolled does not
            support, naming the file and what is wrong.

    """
    path = os.fspath(filepath)
    source = f"Model file {path!r}"
    if custom_objects:  # the user's classes, as Keras: nothing is imported from the file
        with custom_object_scope(custom_objects):
            return load_model(filepath, None, compile, safe_mode)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{source} does not exist.")
    if not os.path.isfile(path):
        raise UnreadableFileError(f"{source} is a directory, not a .keras file.")
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        raise UnreadableFileError(f"{source} is empty (0 bytes); it was never written "
                                  "completely. Save the model again.")
    if head == HDF5_SIGNATURE:
        return legacy_h5.load_model(path, compile=compile)
    if not zipfile.is_zipfile(path):
        raise UnreadableFileError(
            f"{source} is neither a Keras '.keras' zip nor an HDF5 '.h5' file (it starts with "
            f"{head!r}). It may be truncated or of another format.")
    config, weights = weights_h5.guarded(lambda: _read_zip(path, source), source)
    weights_h5.guarded(lambda: preflight.check_file(config, weights, source), source)
    try:
        if not compile and isinstance(config, dict):
            config = {k: v for k, v in config.items() if k != "compile_config"}
        model = serialization.deserialize_model(config)
        if config.get("compile_config"):
            serialization.compile_from_config(model, config["compile_config"])
    except UnreadableFileError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UnreadableFileError(f"{source}: {exc}") from None
    if not model.built:
        raise UnreadableFileError(f"{source}: the model config has no input shape, so its "
                                  "weights cannot be placed.")
    with weights_h5.open_h5(io.BytesIO(weights), f"{source} (its {WEIGHTS})") as f:
        weights_h5.guarded(lambda: weights_h5.read_weights(f, model, source, compile), source)
    return model
