"""Other files' dialects of a model config, translated dict -> dict before deserializing.

A Keras file's model config is what `unrolled.saving.serialization_lib` reads, up to its
dialect, which is translated here and nowhere else:

- cleaning: keys a Keras file carries that unrolled does not take (``quantization_config``,
  ``optional``, Keras 2's ``time_major``, ...) are dropped when they hold an empty or default
  value and refused, with the layer and key named, when they would change the model; a dtype
  policy becomes its name (float32 only); an unsupported layer class is refused, listing the
  supported ones.
- Keras 2 renames (``keras2=True``): ``hard_sigmoid`` becomes ``hard_sigmoid_keras2``
  (``clip(0.2 x + 0.5, 0, 1)``; Keras 3 redefined ``hard_sigmoid``), an `InputLayer`'s
  ``batch_input_shape`` becomes ``batch_shape``, a Sequential's bare layer list (Keras <= 2.2.4)
  becomes ``{"layers": [...]}``.

Nested layer specs (a `Bidirectional`'s layers, an `RNN`'s cell) are translated too.
"""

from __future__ import annotations

import inspect

from unrolled.layers import initializers
from unrolled.saving import custom_objects as _user
from unrolled.saving import object_registration

KERAS2_HARD_SIGMOID = "hard_sigmoid_keras2"
_ACTIVATION_KEYS = ("activation", "recurrent_activation")
#: dtypes an `Input` may declare (token ids for Embedding); layers themselves compute in float32
_INPUT_DTYPES = ("int32", "int64", "uint8", "int16", "int8")


def accepted_keywords(cls) -> set[str]:
    """Named keyword arguments of ``cls.__init__`` and of the parents it forwards to."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    names.discard("self")
    return names


def is_empty(value) -> bool:
    """Whether a config value is empty or a default that changes nothing."""
    if isinstance(value, (dict, list, tuple)):
        return len(value) == 0
    return value is None or value is False or value == 0 or value == ""


def clean_config(cls, config: dict, what: str) -> dict:
    """Drop the keys ``cls`` does not take when they are empty; refuse meaningful ones.

    Raises:
        ValueError: naming ``what`` and the key, when a key unrolled cannot honour has a value.

    """
    accepted = accepted_keywords(cls)
    out = {}
    for key, value in config.items():
        if key in accepted:
            out[key] = value
        elif not is_empty(value):
            raise ValueError(
                f"{what}: the setting {key}={value!r} is not supported by unrolled's "
                f"{cls.__name__}. Remove it from the model (or set it to None) and save again."
            )
    return out


def _resolve_dtype(value, what: str):
    if isinstance(value, dict):
        value = (value.get("config") or {}).get("name", "float32")
    if value not in (None, "float32"):
        raise ValueError(f"{what}: dtype {value!r} is not supported; unrolled computes in "
                         "float32. Cast the model to float32 in Keras before saving.")
    return value


def _clean_initializers(config: dict) -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict) and "class_name" in value and key.endswith("initializer"):
            name = value["class_name"]
            try:
                init_cls = type(initializers.get(name))
            except ValueError as exc:
                raise ValueError(f"initializer {key}: {exc}") from None
            value = {"class_name": name,
                     "config": clean_config(init_cls, dict(value.get("config") or {}),
                                            f"initializer {key} ({name})")}
        out[key] = value
    return out


def user_class(spec: dict):
    """Return the user's class a spec names, or None for a built-in (or unknown) one.

    Only classes the user made known run: registered with `register_keras_serializable`
    (Keras's ``registered_name`` ``"package>Name"``), or passed as ``custom_objects`` /
    in a `custom_object_scope`, as Keras requires. A file never names code to import.
    """
    if object_registration.is_registered("layers", spec.get("class_name")):
        return None
    for name in (spec.get("registered_name"), spec.get("class_name")):
        if isinstance(name, str):
            found = _user.get_registered_object(name)
            if found is not None:
                return found
    return None


def _layer_class(class_name: str, what: str):
    cls = object_registration.find("layers", class_name, registered_only=True)
    if cls is None:
        supported = [k for k in object_registration.names("layers") if not k.endswith("Cell")]
        raise ValueError(
            f"{what}: unrolled does not support the layer class {class_name!r}. Supported "
            f"layers: {supported}.{object_registration.did_you_mean('layers', class_name)} "
            "Replace or remove that layer in the original framework and save again."
        )
    return cls


def _is_layer_spec(value) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("class_name"), str)
            and isinstance(value.get("config"), dict)
            and value.get("module", "keras.layers").startswith("keras.layers")
            and object_registration.is_registered("layers", value["class_name"]))


def translate_layer(spec, keras2: bool = False) -> dict:
    """Return a file's layer spec cleaned (and Keras 2 renamed) for `deserialize_layer`.

    Raises:
        ValueError: for an entry that is not a layer spec, a layer class unrolled does not
            support, or a setting it cannot honour, naming the layer.

    """
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
        raise ValueError(f"a layer entry must be a dict with a 'class_name'; found {spec!r:.200}")
    class_name = spec["class_name"]
    config = dict(spec.get("config") or {})
    what = f"layer {config.get('name', '?')!r} ({class_name})"
    user = user_class(spec)
    if user is not None:  # the user's registered class reads its own config
        if "dtype" in config:
            config["dtype"] = _resolve_dtype(config["dtype"], what)
        return {**spec, "config": config}
    cls = _layer_class(class_name, what)
    if class_name == "InputLayer" and config.get("dtype") in _INPUT_DTYPES:
        pass  # integer inputs (token ids) stay as they are
    elif "dtype" in config:
        config["dtype"] = _resolve_dtype(config["dtype"], what)
    if class_name == "InputLayer" and "batch_input_shape" in config:
        config["batch_shape"] = config.pop("batch_input_shape")
    for key in _ACTIVATION_KEYS:
        if keras2 and config.get(key) == "hard_sigmoid":
            config[key] = KERAS2_HARD_SIGMOID
    for key, value in list(config.items()):
        if _is_layer_spec(value):
            config[key] = translate_layer(value, keras2)
        elif isinstance(value, list) and value and all(_is_layer_spec(v) for v in value):
            config[key] = [translate_layer(v, keras2) for v in value]
    return {**spec, "config": _clean_initializers(clean_config(cls, config, what))}


def translate_model(spec, keras2: bool = False) -> dict:
    """Return a file's model config (Sequential or functional) in unrolled's own dialect.

    Raises:
        ValueError: for another model class, a malformed config, or any layer problem.

    """
    if not isinstance(spec, dict):
        raise ValueError(f"the model config must be a JSON object; found {type(spec).__name__}")
    class_name = spec.get("class_name")
    config = spec.get("config")
    if class_name in ("Functional", "Model"):
        if not isinstance(config, dict):
            raise ValueError("the functional model's 'config' is not a JSON object")
        layers = config.get("layers")
        if isinstance(layers, list):
            layers = [entry if _is_keras_op(entry) else translate_layer(entry, keras2)
                      for entry in layers]
        return {**spec, "config": {**config, "layers": layers}}
    if class_name != "Sequential":
        raise ValueError(
            f"the model is a {class_name!r}; unrolled loads Sequential and functional models "
            "(Functional/Model) only. Rebuild it as one of those and save again."
        )
    if isinstance(config, list):  # Keras <= 2.2.4 wrote the layer list directly
        config = {"layers": config}
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError("the Sequential config has no 'layers' list")
    config = {**config, "layers": [translate_layer(e, keras2) for e in config["layers"]]}
    shape = config.get("build_input_shape") or (spec.get("build_config") or {}).get("input_shape")
    if shape is not None:
        config["build_input_shape"] = shape
    return {**spec, "config": config}


def _is_keras_op(entry) -> bool:
    """Return whether ``entry`` is a Keras operation (``keras.src.ops``), kept for the graph."""
    return isinstance(entry, dict) and str(entry.get("module", "")).startswith("keras.src.ops")
