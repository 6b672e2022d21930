"""Configs to objects and back, in Keras's ``{"module", "class_name", "config", ...}`` format.

Layers are found by their Keras class name through `unrolled.layers.get` (so a layer registered
there loads from any file without a change here) and rebuilt with their own ``from_config``.
Keys a Keras file carries that unrolled does not take (``quantization_config``, ``optional``,
Keras 2's ``time_major``, ...) are dropped when they hold an empty or default value and refused,
with the layer and key named, when they would change the model. Keras 2 files (``keras2=True``)
keep Keras 2's ``hard_sigmoid`` (``clip(0.2 x + 0.5, 0, 1)``).
"""

from __future__ import annotations

import inspect
import math
import warnings

from unrolled import layers as layers_module
from unrolled.layers.base import Layer, snake_case
from unrolled.ops import activations
from unrolled.training import losses as losses_module
from unrolled.training import metrics as metrics_module
from unrolled.training import optimizers as optimizers_module


class UnreadableFileError(ValueError):
    """A model or weights file that is damaged, of another format, or does not fit the model."""


#: written in a saved model's activations where Keras 2's hard sigmoid is meant; Keras 3 has
#: no such activation, so real Keras refuses the file rather than silently changing the maths.
KERAS2_HARD_SIGMOID = "hard_sigmoid_keras2"
_ACTIVATION_KEYS = ("activation", "recurrent_activation")
#: dtypes an `Input` may declare (token ids for Embedding); layers themselves compute in float32
_INPUT_DTYPES = ("int32", "int64", "uint8", "int16", "int8")
_KERAS3_OPTIMIZER_KEYS = ("use_ema", "ema_momentum", "ema_overwrite_frequency",
                          "loss_scale_factor", "gradient_accumulation_steps")


def _accepted_keywords(cls) -> set[str]:
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


def _is_empty(value) -> bool:
    if isinstance(value, (dict, list, tuple)):
        return len(value) == 0
    return value is None or value is False or value == 0 or value == ""


def clean_config(cls, config: dict, what: str) -> dict:
    """Drop the keys ``cls`` does not take when they are empty; refuse meaningful ones.

    Raises:
        ValueError: naming ``what`` and the key, when a key unrolled cannot honour has a value.

    """
    accepted = _accepted_keywords(cls)
    out = {}
    for key, value in config.items():
        if key in accepted:
            out[key] = value
        elif not _is_empty(value):
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


def _nested_initializers(cls_config: dict) -> dict:
    from unrolled.layers import initializers

    out = {}
    for key, value in cls_config.items():
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


# ------------------------------------------------------------------- layers
def serialize_layer(layer: Layer) -> dict:
    """Return ``{"module": "keras.layers", "class_name", "config", "registered_name"}``."""
    config = dict(layer.get_config())
    config.pop("batch_input_shape", None)  # the model's InputLayer carries the input shape
    for key in _ACTIVATION_KEYS:
        if getattr(_cell_or_self(layer), key, None) is activations.hard_sigmoid_keras2:
            config[key] = KERAS2_HARD_SIGMOID
    return {"module": "keras.layers", "class_name": type(layer).__name__, "config": config,
            "registered_name": None}


def _cell_or_self(layer):
    return layer.__dict__.get("cell", layer)


def _layer_class(class_name: str, what: str):
    try:
        return layers_module.get(class_name)
    except ValueError:
        supported = sorted(k for k in layers_module._REGISTRY if not k.endswith("Cell"))
        raise ValueError(
            f"{what}: unrolled does not support the layer class {class_name!r}. Supported "
            f"layers: {supported}. Replace or remove that layer in the original framework "
            "and save again."
        ) from None


def _is_layer_spec(value) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("class_name"), str)
            and isinstance(value.get("config"), dict)
            and value.get("module", "keras.layers").startswith("keras.layers")
            and not value["class_name"].endswith(("Initializer", "Policy")))


def _prepare(spec: dict, keras2: bool):
    """Return ``(layer class, cleaned config)``; nested layer specs are cleaned too."""
    class_name = spec["class_name"]
    config = dict(spec.get("config") or {})
    what = f"layer {config.get('name', '?')!r} ({class_name})"
    cls = _layer_class(class_name, what)
    if class_name == "InputLayer" and config.get("dtype") in _INPUT_DTYPES:
        pass  # integer inputs (token ids) stay as they are
    elif "dtype" in config:
        config["dtype"] = _resolve_dtype(config["dtype"], what)
    if class_name == "InputLayer" and "batch_input_shape" in config:
        config["batch_shape"] = config.pop("batch_input_shape")
    for key in _ACTIVATION_KEYS:
        value = config.get(key)
        if value == KERAS2_HARD_SIGMOID or (keras2 and value == "hard_sigmoid"):
            config[key] = activations.hard_sigmoid_keras2
    for key, value in list(config.items()):
        if _is_layer_spec(value) and value["class_name"] in layers_module._REGISTRY:
            config[key] = _nested_spec(value, keras2)
        elif isinstance(value, list) and value and all(_is_layer_spec(v) for v in value):
            config[key] = [_nested_spec(v, keras2) for v in value]
    return cls, _nested_initializers(clean_config(cls, config, what)), what


def _nested_spec(spec: dict, keras2: bool) -> dict:
    _, config, _ = _prepare(spec, keras2)
    return {**spec, "config": config}


def deserialize_layer(spec: dict, keras2: bool = False) -> Layer:
    """Rebuild a layer from ``{"class_name": ..., "config": ...}``.

    Args:
        spec: one entry of a model config's ``layers`` list.
        keras2: the file came from Keras 2 (``hard_sigmoid`` keeps its Keras 2 meaning).

    Raises:
        ValueError: for a layer class unrolled does not support (naming it) or a setting it
            cannot honour.

    """
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
        raise ValueError(f"a layer entry must be a dict with a 'class_name'; found {spec!r:.200}")
    cls, config, what = _prepare(spec, keras2)
    try:
        return cls.from_config(config)
    except (TypeError, ValueError, KeyError, NotImplementedError) as exc:
        raise ValueError(f"{what}: could not be rebuilt: {exc}") from None


# ------------------------------------------------------------------- models
def serialize_model(model) -> dict:
    """Keras 3's config of a `Sequential` or functional model (without ``compile_config``)."""
    if type(model).__name__ == "Functional":
        return {"module": "keras.src.models.functional", "class_name": "Functional",
                "config": model.get_config(), "registered_name": "Functional",
                "build_config": {"input_shape": None}}
    if type(model).__name__ != "Sequential":
        raise ValueError(f"Only Sequential and functional models can be saved; got "
                         f"{type(model).__name__}.")
    layers = []
    shape = getattr(model, "_input_batch_shape", None)
    if shape is not None:
        layers.append({"module": "keras.layers", "class_name": "InputLayer", "config": {
            "batch_shape": list(shape), "dtype": "float32", "sparse": False,
            "name": "input_layer"}, "registered_name": None})
    layers += [serialize_layer(layer) for layer in model.layers]
    config = {"name": model.name, "trainable": model.trainable, "dtype": "float32",
              "layers": layers}
    out = {"module": "keras", "class_name": "Sequential", "config": config,
           "registered_name": None}
    if shape is not None and model.built:
        config["build_input_shape"] = list(shape)
        out["build_config"] = {"input_shape": list(shape)}
    return out


def deserialize_model(spec: dict, keras2: bool = False):
    """Rebuild a `Sequential` model (built when its input shape is known) or a functional one.

    Raises:
        ValueError: for a model class other than Sequential/Functional, or any layer problem.

    """
    from unrolled.models import Sequential  # models sits below io; imported on use
    from unrolled.models.functional_config import model_from_graph_config

    if not isinstance(spec, dict):
        raise ValueError(f"the model config must be a JSON object; found {type(spec).__name__}")
    class_name = spec.get("class_name")
    if class_name in ("Functional", "Model"):
        if not isinstance(spec.get("config"), dict):
            raise ValueError("the functional model's 'config' is not a JSON object")
        return model_from_graph_config(spec["config"],
                                       lambda entry: deserialize_layer(entry, keras2=keras2))
    if class_name != "Sequential":
        raise ValueError(
            f"the model is a {class_name!r}; unrolled loads Sequential and functional models "
            "(Functional/Model) only. Rebuild it as one of those and save again."
        )
    config = spec.get("config")
    if isinstance(config, list):  # Keras <= 2.2.4 wrote the layer list directly
        config = {"layers": config}
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError("the Sequential config has no 'layers' list")
    model = Sequential(name=config.get("name"))
    for entry in config["layers"]:
        model.add(deserialize_layer(entry, keras2=keras2))
    shape = config.get("build_input_shape") or (spec.get("build_config") or {}).get("input_shape")
    if not model.built and shape is not None and model.layers:
        model.build(tuple(shape))
    return model


# ------------------------------------------------------------------ compile
def _serialize_object(obj, module: str) -> dict:
    return {"module": module, "class_name": type(obj).__name__, "config": obj.get_config(),
            "registered_name": None}


def serialize_compile(model) -> dict | None:
    """Keras's ``compile_config`` of a compiled model (``None`` when not compiled).

    A custom loss function cannot be written to a file: the model is then saved uncompiled,
    with a warning; a custom metric function is left out, with a warning.
    """
    if not getattr(model, "compiled", False):
        return None
    if getattr(model, "_output_losses", None) is not None:
        return _serialize_multi_output_compile(model)
    loss = model.loss
    if type(loss) is losses_module.LossFunctionWrapper:
        warnings.warn(
            f"The model's loss {loss.name!r} is a custom function, which cannot be stored in "
            "the file; the model is saved uncompiled. Call compile() again after loading.",
            UserWarning, stacklevel=3)
        return None
    metrics = _serialize_metrics(model._metric_ids)
    return _compile_dict(model, None if loss is None else _serialize_object(loss, "keras.losses"),
                         None, metrics or None)


def _serialize_metrics(identifiers) -> list:
    metrics = []
    for m in identifiers:
        if isinstance(m, str):
            metrics.append(m)
        elif isinstance(m, metrics_module.Metric) and type(m) is not \
                metrics_module.MeanMetricWrapper:
            metrics.append(_serialize_object(m, "keras.metrics"))
        elif getattr(m, "__name__", None) in metrics_module.names():
            metrics.append(m.__name__)
        else:
            warnings.warn(f"Metric {m!r} is a custom function and is not saved; pass it to "
                          "compile() again after loading.", UserWarning, stacklevel=4)
    return metrics


def _compile_dict(model, loss, loss_weights, metrics) -> dict:
    optimizer = _serialize_object(model.optimizer, "keras.optimizers")
    for key, value in optimizer["config"].items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"optimizer setting {key}={value} is not finite; cannot save it.")
    return {"optimizer": optimizer, "loss": loss, "loss_weights": loss_weights,
            "metrics": metrics, "weighted_metrics": None, "run_eagerly": False,
            "steps_per_execution": 1, "jit_compile": True}


def _serialize_multi_output_compile(model) -> dict | None:
    """Keras's per-output lists: ``loss``, ``loss_weights``, ``metrics`` (one list per output)."""
    losses = model._output_losses
    if any(type(lo) is losses_module.LossFunctionWrapper for lo in losses):
        warnings.warn("One of the model's losses is a custom function, which cannot be stored "
                      "in the file; the model is saved uncompiled. Call compile() again after "
                      "loading.", UserWarning, stacklevel=4)
        return None
    if all(lo is None for lo in losses):
        return _compile_dict(model, None, None, None)
    loss = [None if lo is None else _serialize_object(lo, "keras.losses") for lo in losses]
    metrics = [_serialize_metrics(ids) for ids in model._output_metric_ids]
    return _compile_dict(model, loss, list(model._loss_weights),
                         metrics if any(metrics) else None)


def _class_in(module, name: str, base):
    obj = getattr(module, name, None) if isinstance(name, str) else None
    return obj if isinstance(obj, type) and issubclass(obj, base) else None


def _from_spec(spec, module, base, getter, what: str):
    if isinstance(spec, str) or spec is None:
        return getter(spec) if spec is not None else None
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise ValueError(f"{what}: cannot read {spec!r:.200}")
    name = spec["class_name"]
    cls = _class_in(module, name, base)
    if cls is None:
        raise ValueError(
            f"{what} {name!r} is not supported by unrolled. Load with compile=False and call "
            "compile() with a supported one."
        )
    config = dict(spec.get("config") or {})
    if "lr" in config and "learning_rate" not in config:  # Keras <= 2.2 spelling
        config["learning_rate"] = config.pop("lr")
    if base is optimizers_module.Optimizer:  # the optimizer checks Keras 3's extra keys itself
        accepted = _accepted_keywords(cls) | set(_KERAS3_OPTIMIZER_KEYS)
        config = {k: v for k, v in config.items() if k in accepted or not _is_empty(v)}
    else:
        config = clean_config(cls, config, f"{what} {name}")
    return cls(**config)


def compile_from_config(model, config: dict) -> None:
    """Compile ``model`` from a Keras ``compile_config`` (or a legacy ``training_config``).

    Raises:
        ValueError: for an optimizer, loss or metric unrolled does not support.

    """
    if not isinstance(config, dict):
        raise ValueError(f"compile_config must be a JSON object; found {config!r:.200}")
    opt_spec = config.get("optimizer", config.get("optimizer_config"))
    optimizer = _from_spec(opt_spec, optimizers_module, optimizers_module.Optimizer,
                           optimizers_module.get, "optimizer")
    if getattr(model, "_multi_output", False):
        _compile_multi_output(model, optimizer, config)
        return
    loss = _from_spec(config.get("loss"), losses_module, losses_module.Loss,
                      losses_module.get, "loss")
    metrics = []
    for m in config.get("metrics") or []:
        if isinstance(m, list):  # Keras 2 wrote one list per output
            metrics.extend(m)
        elif isinstance(m, dict):
            metrics.append(_from_spec(m, metrics_module, metrics_module.Metric, None, "metric"))
        else:
            metrics.append(m)
    model.compile(optimizer="rmsprop" if optimizer is None else optimizer, loss=loss,
                  metrics=metrics)


def _compile_multi_output(model, optimizer, config: dict) -> None:
    """Compile a multi-output model from per-output lists or dicts (as Keras 3 writes them)."""

    def loss_of(spec):
        return _from_spec(spec, losses_module, losses_module.Loss, losses_module.get, "loss")

    def metric_of(spec):
        if isinstance(spec, dict):
            return _from_spec(spec, metrics_module, metrics_module.Metric, None, "metric")
        return spec

    def each(value, fn):
        if isinstance(value, dict) and "class_name" not in value:
            return {k: each(v, fn) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [each(v, fn) for v in value]
        return fn(value)

    model.compile(optimizer="rmsprop" if optimizer is None else optimizer,
                  loss=each(config.get("loss"), loss_of),
                  loss_weights=config.get("loss_weights"),
                  metrics=each(config.get("metrics"), metric_of))


def layer_key(layer: Layer) -> str:
    """Keras's snake-case key of a layer class (``SimpleRNN`` -> ``simple_rnn``)."""
    return snake_case(type(layer).__name__)
