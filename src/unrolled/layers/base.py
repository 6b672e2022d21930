"""Keras layer lifecycle: ``__init__`` validates, ``build`` makes named weights, ``call`` computes.

Layers are ordinary objects holding `Variable`s. Models run them inside a `StatelessScope` so a
whole forward pass is a pure function of the weight arrays, ready for ``jax.jit``. Called
directly on NumPy arrays (``LSTM(3)(x, mask=m)``) a layer builds itself and returns NumPy.
"""

from __future__ import annotations

import functools
import inspect
import re
import threading

import jax
import jax.numpy as jnp
import numpy as np

from unrolled.layers import initializers, stateless
from unrolled.layers.variables import (  # noqa: F401 (unique_name: its home for layers)
    Variable,
    _name_counts,
    current_path,
    name_scope,
    unique_name,
)
from unrolled.ops.compile import to_device

#: set by `unrolled.layers.abstract.abstract_build`: weights are abstract, initializers skipped
_abstract = threading.local()


def clear_session() -> None:
    """Reset automatic layer and model names (``lstm``, ``lstm_1``, ...), as Keras does."""
    _name_counts.clear()


def snake_case(name: str) -> str:
    """Convert a class name to a layer name as Keras does.

    ``GlobalAveragePooling1D`` becomes ``global_average_pooling1d``.
    """
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def shape_str(shape) -> str:
    """Format a shape as Keras prints it: ``(None, 24, 1)``."""
    if isinstance(shape, list):
        return "[" + ", ".join(shape_str(s) for s in shape) + "]"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (
        ",)" if len(shape) == 1 else ")")


class KerasTensor:
    """A symbolic tensor: a shape and dtype standing for data that flows through layers later.

    ``_node`` is the `Node` (layer call) that produced it and ``_index`` its position among that
    call's outputs; the functional `Model` walks these links back to the inputs.
    """

    def __init__(self, shape, dtype="float32", layer=None, name=None, node=None, index=0):
        self.shape = tuple(shape)
        self.dtype = dtype
        self._layer = layer
        self.name = name
        self._node = node
        self._index = index

    @property
    def ndim(self) -> int:
        """Rank of the tensor."""
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


class Node:
    """One symbolic call of a layer: its arguments (with `KerasTensor`s in them) and outputs.

    ``args`` is the first positional argument (a tensor or a list of tensors), ``kwargs`` the
    other call arguments (e.g. ``initial_state=[h, c]``), ``outputs`` a tensor or a list.
    An input node (``is_input``) belongs to an `InputLayer` and has no arguments.
    """

    def __init__(self, layer, args, kwargs, outputs, is_input: bool = False):
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        self.is_input = is_input
        self.input_tensors = [t for t in jax.tree.leaves((args, kwargs), is_leaf=_is_kt)
                              if isinstance(t, KerasTensor)]
        self.tensor_kwargs = sorted(
            k for k, v in kwargs.items()
            if any(isinstance(t, KerasTensor) for t in jax.tree.leaves(v, is_leaf=_is_kt)))
        inbound = layer.__dict__.setdefault("_inbound_nodes", [])
        inbound.append(self)

    def __repr__(self) -> str:
        return f"<Node layer={self.layer.name}, inputs={len(self.input_tensors)}>"


def _is_kt(x) -> bool:
    return isinstance(x, KerasTensor)


class Layer:
    """Base class of every layer.

    Args:
        name: unique name; derived from the class name when omitted (``lstm``, ``lstm_1``).
        dtype: only ``"float32"`` is supported.
        trainable: whether the layer's weights are trained.
        input_shape: per-sample input shape; builds a `Sequential` model when given on its first
            layer, ignored elsewhere (as Keras does).

    """

    supports_masking = False

    def __init__(
        self,
        *,
        name: str | None = None,
        dtype=None,
        trainable: bool = True,
        input_shape=None,
        batch_input_shape=None,
        batch_size=None,
        input_dim=None,
        **kwargs,
    ):
        kwargs.pop("autocast", None)
        if kwargs:
            raise TypeError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}. "
                "Check the spelling against the Keras documentation of this layer."
            )
        if dtype not in (None, "float32", jnp.float32, np.float32):
            raise ValueError(f"unrolled layers compute in float32; received dtype={dtype!r}.")
        if name is not None and (not isinstance(name, str) or "/" in name or not name):
            raise ValueError(f"A layer name must be a non-empty string without '/'; got {name!r}.")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.trainable = trainable
        self.built = False
        self._own_weights: list[Variable] = []
        self._sublayers: list[Layer] = []
        if batch_input_shape is not None:
            self._batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (batch_size, *tuple(input_shape))
        elif input_dim is not None:
            self._batch_input_shape = (batch_size, input_dim)
        else:
            self._batch_input_shape = None

    # ----------------------------------------------------------------- weights
    def add_weight(self, *args, shape=None, initializer=None, dtype=None, trainable: bool = True,
                   name: str | None = None, autocast: bool = True, regularizer=None,
                   constraint=None, aggregation: str = "none") -> Variable:
        """Create a weight under the current name scope (``sequential/lstm/lstm_cell/kernel``).

        Takes Keras 3's arguments, by keyword or in Keras's positional order
        ``(shape, initializer, dtype, trainable, ...)``; unrolled's own layers also use the short
        positional form ``add_weight(name, shape, initializer)``.

        Raises:
            ValueError: for a regularizer or constraint (not supported yet) or a missing shape.

        """
        if args and isinstance(args[0], str):  # add_weight(name, shape, initializer)
            name, args = args[0], args[1:]
        keras_order = ("shape", "initializer", "dtype", "trainable")
        given = dict(zip(keras_order, args, strict=False))
        shape = given.get("shape", shape)
        initializer = given.get("initializer", initializer)
        dtype = given.get("dtype", dtype) or "float32"
        trainable = given.get("trainable", trainable)
        if regularizer is not None or constraint is not None:
            raise ValueError(
                f"add_weight on layer {self.name!r}: regularizers and constraints are not "
                "supported by unrolled yet; pass None."
            )
        if shape is None:
            raise ValueError(f"add_weight on layer {self.name!r} needs a shape, e.g. (3, 4).")
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        name = name or "variable"
        init = initializers.get("glorot_uniform" if initializer is None else initializer)
        if getattr(_abstract, "on", False):  # shapes only: `layers.abstract.abstract_build`
            value = jnp.zeros(shape, dtype)
        else:
            value = to_device(init(shape, dtype=dtype), dtype)
        var = Variable(value, name=name, path=current_path(name), trainable=trainable)
        self._own_weights.append(var)
        return var

    @property
    def weights(self) -> list[Variable]:
        """All weights: the layer's own, then its sublayers' (Keras order)."""
        out = list(self._own_weights)
        for sub in self._sublayers:
            out.extend(sub.weights)
        return out

    @property
    def trainable_weights(self) -> list[Variable]:
        """Weights an optimizer updates."""
        return [w for w in self.weights if w.trainable and self.trainable]

    @property
    def non_trainable_weights(self) -> list[Variable]:
        """Weights an optimizer leaves alone."""
        return [w for w in self.weights if not (w.trainable and self.trainable)]

    @property
    def variables(self) -> list[Variable]:
        """All state: the weights and the `SeedGenerator` states, layer by layer (Keras order)."""
        return stateless.layer_variables(self, self._variable_children())

    def _variable_children(self) -> list:
        """Return the layers whose variables follow this layer's own (models: their layers)."""
        return list(self._sublayers)

    @property
    def trainable_variables(self) -> list[Variable]:
        """Keras's name for `trainable_weights` (the same variables, in the same order)."""
        return self.trainable_weights

    @property
    def non_trainable_variables(self) -> list[Variable]:
        """Every other variable of `variables`: non-trainable weights and seed states."""
        return stateless.non_trainable_variables(self)

    def stateless_call(self, trainable_variables, non_trainable_variables, *args,
                       return_losses: bool = False, **kwargs):
        """Call the layer as a pure function of the variables' values (Keras's JAX API).

        Args:
            trainable_variables: values (arrays or variables) 1:1 with `trainable_variables`.
            non_trainable_variables: values 1:1 with `non_trainable_variables`.
            *args: positional arguments of `call` (the inputs first).
            return_losses: also return the layer's losses (always ``[]``: unrolled layers
                add none).
            **kwargs: keyword arguments of `call` (``training=True``, ``mask=...``).

        Returns:
            ``(outputs, non_trainable_values)`` (and ``losses`` with ``return_losses``); the
            model is left unchanged. Works under ``jax.jit`` and ``jax.grad``.

        """
        return stateless.stateless_call(self, self.call, trainable_variables,
                                        non_trainable_variables, args,
                                        _accepted(self, kwargs), return_losses)

    def get_weights(self) -> list[np.ndarray]:
        """Return the weights as NumPy arrays, in Keras order."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Set the weights from a list of arrays with the shapes of `get_weights`."""
        set_weight_values(self.weights, weights, f"layer {self.name!r}")

    def count_params(self) -> int:
        """Total number of scalars in the weights."""
        if not self.built:
            raise ValueError(
                f"Layer {self.name!r} is not built yet, so it has no weights to count. Call it "
                "on data or build it with `layer.build(input_shape)` first."
            )
        return int(sum(np.prod(w.shape) for w in self.weights))

    # ---------------------------------------------------------------- lifecycle
    def build(self, input_shape) -> None:
        """Create weights for inputs of ``input_shape``; the base layer has none."""
        self.built = True

    def _maybe_build(self, input_shape) -> None:
        if not self.built:
            with name_scope(self.name):
                self.build(input_shape)
            self.built = True

    def call(self, inputs, mask=None, training: bool = False):
        """Compute outputs from JAX arrays (subclasses override)."""
        return inputs

    def compute_mask(self, inputs, mask=None):
        """Return the mask the layer's output carries (``mask`` itself when it supports masking)."""
        return mask if self.supports_masking else None

    def compute_output_shape(self, input_shape):
        """Infer the output shape by tracing `call` abstractly (no FLOPs)."""
        return _eval_output_shape(self, input_shape)

    def _forward(self, inputs, mask=None, training: bool = False):
        """Run inside a model: JAX in, ``(outputs, output_mask)`` out."""
        self._maybe_build(_shape_of(inputs))
        kwargs = {"training": training}
        if mask is not None:
            kwargs["mask"] = mask
        outputs = self.call(inputs, **_accepted(self, kwargs))
        return outputs, self.compute_mask(inputs, mask)

    def __call__(self, inputs, mask=None, training: bool = False, **kwargs):
        """Call eagerly on arrays (returns NumPy) or symbolically on a `KerasTensor`."""
        if isinstance(inputs, KerasTensor) or (
            isinstance(inputs, (list, tuple)) and any(isinstance(i, KerasTensor) for i in inputs)
        ):
            return self._symbolic_call(inputs, **kwargs)
        was_numpy = not isinstance(inputs, jax.Array)
        x = jax.tree.map(jnp.asarray, inputs)
        m = None if mask is None else jnp.asarray(mask).astype(bool)
        self._maybe_build(_shape_of(x))
        kw = {"training": training, **kwargs}
        if m is not None:
            kw["mask"] = m
        out = self.call(x, **_accepted(self, kw))
        return jax.tree.map(np.asarray, out) if was_numpy else out

    def _symbolic_call(self, inputs, **kwargs):
        """Record a call on `KerasTensor`s: build, infer output shapes, return new tensors."""
        input_shape = _shape_of(inputs)
        self._maybe_build(input_shape)
        tensor_kwargs = {k: v for k, v in kwargs.items()
                         if any(_is_kt(t) for t in jax.tree.leaves(v, is_leaf=_is_kt))}
        if tensor_kwargs or kwargs:
            shape = _eval_output_shape(self, input_shape, kwargs)
        else:
            shape = self.compute_output_shape(input_shape)
        node = Node(self, inputs, dict(kwargs), None)
        if _is_shape(shape):
            outputs = KerasTensor(shape, layer=self, name=self.name, node=node)
        else:
            outputs = [KerasTensor(s, layer=self, name=self.name, node=node, index=i)
                       for i, s in enumerate(shape)]
        node.outputs = outputs
        return outputs

    # ------------------------------------------------------------------- config
    def get_config(self) -> dict:
        """Return the constructor arguments (Keras's base keys)."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": "float32"}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        """Recreate the layer from `get_config`'s output."""
        config = {k: v for k, v in config.items() if k not in ("dtype",) or v is not None}
        if isinstance(config.get("dtype"), dict):
            config.pop("dtype")
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def set_weight_values(variables: list[Variable], values, owner: str) -> None:
    """Assign ``values`` to ``variables`` after checking count and every shape."""
    values = list(values)
    if len(values) != len(variables):
        raise ValueError(
            f"set_weights on {owner} expected a list of {len(variables)} arrays "
            f"({[w.path for w in variables]}) but received {len(values)}."
        )
    arrays = [np.asarray(v, dtype=np.float32) for v in values]
    for var, arr in zip(variables, arrays, strict=True):
        if tuple(arr.shape) != var.shape:
            raise ValueError(
                f"set_weights on {owner}: weight {var.path!r} expects shape {var.shape} but "
                f"received shape {tuple(arr.shape)}."
            )
    for var, arr in zip(variables, arrays, strict=True):
        var.assign(arr)


@functools.cache
def _call_parameters(call) -> frozenset[str]:
    """Return the argument names ``call`` spells out (a ``**kwargs`` catch-all names none)."""
    return frozenset(p.name for p in inspect.signature(call).parameters.values()
                     if p.kind is not inspect.Parameter.VAR_KEYWORD)


def _accepted(layer: Layer, kwargs: dict) -> dict:
    """Pass ``training``/``mask`` only to a ``call`` that names them, as Keras does.

    A custom layer written ``def call(self, x)`` works in Keras, and one taking ``**kwargs``
    receives neither; so here.
    """
    names = _call_parameters(type(layer).call)
    return {k: v for k, v in kwargs.items() if k in names or k not in ("training", "mask")}


def _shape_of(x):
    if isinstance(x, (list, tuple)):
        return [_shape_of(i) for i in x]
    return tuple(x.shape)


def _is_shape(shape) -> bool:
    """Tell one shape ``(None, 3)`` from a list of shapes."""
    return isinstance(shape, tuple) and all(d is None or isinstance(d, int) for d in shape)


def _eval_output_shape(layer: Layer, input_shape, call_kwargs=None):
    """Trace ``layer.call`` with two batch/time sizes; dims that change are ``None``.

    ``call_kwargs`` may hold `KerasTensor`s (e.g. ``initial_state``); they are traced too.
    """

    def concrete(shape, fill):
        if isinstance(shape, list):
            return [concrete(s, fill) for s in shape]
        return jax.ShapeDtypeStruct(tuple(fill if d is None else d for d in shape), jnp.float32)

    def spec(value, fill):
        return jax.tree.map(lambda t: concrete(t.shape, fill) if _is_kt(t) else t, value,
                            is_leaf=_is_kt)

    call_kwargs = dict(call_kwargs or {})
    layer._maybe_build(input_shape)
    outs = []
    for fill in (2, 3):
        tensors = {k: spec(v, fill) for k, v in call_kwargs.items()
                   if any(_is_kt(t) for t in jax.tree.leaves(v, is_leaf=_is_kt))}
        static = {k: v for k, v in call_kwargs.items() if k not in tensors}
        outs.append(jax.eval_shape(
            lambda x, kw, static=static: layer.call(
                x, **_accepted(layer, {"training": False, **kw, **static})),
            concrete(input_shape, fill), tensors))

    def merge(a, b):
        return tuple(None if da != db else da for da, db in zip(a.shape, b.shape, strict=True))

    return jax.tree.map(merge, outs[0], outs[1])
