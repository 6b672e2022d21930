"""Models and compile settings to Keras's ``{"module", "class_name", "config", ...}`` and back.

Layers are (de)serialized by the one layer serializer, `unrolled.saving.serialization_lib`,
through the models' own ``get_config``/``from_config``; a file's config is first translated
from its dialect (Keras 2 names, keys unrolled does not take) by `unrolled.io.dialects`. The
compile settings (optimizer, loss, metrics) are found by name in the registry
(`unrolled.saving.object_registration`).
"""

from __future__ import annotations

import math
import warnings

from unrolled.io import dialects
from unrolled.io.dialects import KERAS2_HARD_SIGMOID, clean_config  # noqa: F401 (re-exported)
from unrolled.layers.base import Layer, snake_case
from unrolled.models.functional import Functional
from unrolled.models.sequential import Sequential
from unrolled.saving import custom_objects as _user
from unrolled.saving import object_registration
from unrolled.training import losses as losses_module
from unrolled.training import metrics as metrics_module
from unrolled.training import optimizers as optimizers_module
from unrolled.training.schedules import LearningRateSchedule


class UnreadableFileError(ValueError):
    """A model or weights file that is damaged, of another format, or does not fit the model."""


_KERAS3_OPTIMIZER_KEYS = ("use_ema", "ema_momentum", "ema_overwrite_frequency",
                          "loss_scale_factor", "gradient_accumulation_steps")


# ------------------------------------------------------------------- models
def serialize_model(model) -> dict:
    """Keras 3's config of a `Sequential` or functional model (without ``compile_config``)."""
    if isinstance(model, Functional):
        return {"module": "keras.src.models.functional", "class_name": "Functional",
                "config": model.get_config(), "registered_name": "Functional",
                "build_config": {"input_shape": None}}
    if not isinstance(model, Sequential):  # a subclassed model: its class and get_config
        shape = model.__dict__.get("_build_shape")
        return {"module": type(model).__module__, "class_name": type(model).__name__,
                "config": model.get_config(),
                "registered_name": _user.get_registered_name(type(model)),
                "build_config": {"input_shape": None if shape is None else list(shape)}}
    config = model.get_config()
    out = {"module": "keras", "class_name": "Sequential", "config": config,
           "registered_name": None}
    if "build_input_shape" in config:
        out["build_config"] = {"input_shape": list(config["build_input_shape"])}
    return out


def deserialize_model(spec: dict, keras2: bool = False):
    """Rebuild a `Sequential` model (built when its input shape is known) or a functional one.

    The config is translated from its dialect first (`dialects.translate_model`; ``keras2``:
    the file came from Keras 2, so ``hard_sigmoid`` keeps its Keras 2 meaning).

    Raises:
        ValueError: for a model class other than Sequential/Functional (or a registered
            subclassed model), or any layer problem.

    """
    user = dialects.user_class(spec) if isinstance(spec, dict) else None
    if user is not None:  # a registered subclassed model, built from its build_config
        model = user.from_config(dict(spec.get("config") or {}))
        shape = (spec.get("build_config") or {}).get("input_shape")
        if shape is not None and not model.built:
            model.build(tuple(shape))
        return model
    spec = dialects.translate_model(spec, keras2=keras2)
    if spec["class_name"] == "Sequential":
        return Sequential.from_config(spec["config"])
    return Functional.from_config(spec["config"])


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
    schedule = getattr(model.optimizer, "_schedule", None)
    if isinstance(model.optimizer, optimizers_module.OptaxOptimizer) or (
            schedule is not None and not isinstance(schedule, LearningRateSchedule)):
        warnings.warn(
            "The model's optimizer is an optax transformation or has a plain callable learning "
            "rate, which cannot be stored in the file; the model is saved uncompiled (its "
            "weights, and the optimizer state in .weights.h5 files, are kept). Call compile() "
            "again after loading.", UserWarning, stacklevel=3)
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


_KINDS = {losses_module.Loss: "losses", metrics_module.Metric: "metrics",
          optimizers_module.Optimizer: "optimizers"}


def _class_in(base, name: str):
    """Return the registered class called ``name`` of ``base``'s kind (optimizers: any case)."""
    kind = _KINDS[base]
    if kind == "optimizers" and isinstance(name, str):
        name = name.lower()
    obj = object_registration.find(kind, name, registered_only=True)
    return obj if isinstance(obj, type) and issubclass(obj, base) else None


def _from_spec(spec, module, base, getter, what: str):
    if isinstance(spec, str) or spec is None:
        return getter(spec) if spec is not None else None
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise ValueError(f"{what}: cannot read {spec!r:.200}")
    name = spec["class_name"]
    cls = _class_in(base, name)
    if cls is None:
        raise ValueError(
            f"{what} {name!r} is not supported by unrolled. Load with compile=False and call "
            "compile() with a supported one."
        )
    config = dict(spec.get("config") or {})
    if "lr" in config and "learning_rate" not in config:  # Keras <= 2.2 spelling
        config["learning_rate"] = config.pop("lr")
    if base is optimizers_module.Optimizer:  # the optimizer checks Keras 3's extra keys itself
        accepted = dialects.accepted_keywords(cls) | set(_KERAS3_OPTIMIZER_KEYS)
        config = {k: v for k, v in config.items() if k in accepted or not dialects.is_empty(v)}
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
