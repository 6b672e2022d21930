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

from unrolled.layers import constraints, initializers, regularizers, stateless, tracking
from unrolled.layers.variables import (  # noqa: F401 (unique_name: its home for layers)
    StatelessScope,
    Variable,
    _name_counts,
    current_path,
    current_scope,
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


class MaskedArray(np.ndarray):
    """A NumPy array carrying the mask of its time steps as ``_keras_mask`` (Keras's eager rule).

    Returned by an eager layer call whose output has a mask (e.g. after `Masking`); the next
    eager layer call takes that mask when none is passed.
    """

    _keras_mask = None


def _carry_mask(out, mask):
    """Attach ``mask`` to an eager output as Keras does (``out._keras_mask``)."""
    if mask is None:
        return out
    if isinstance(out, np.ndarray):
        out = out.view(MaskedArray)
        out._keras_mask = np.asarray(mask)
        return out
    try:
        out._keras_mask = mask  # a jax array takes the attribute, as in Keras on JAX
    except AttributeError:
        pass
    return out


def _shapes(out):
    """Return the shape of an output, or the nested list of them (``[y, [h, c], [h, c]]``)."""
    return tuple(out.shape) if hasattr(out, "shape") else [_shapes(o) for o in out]


def _symbolic_mask(layer, inputs, input_shape):
    """Return the symbolic mask of a layer's output: a bool `KerasTensor` or None."""
    in_mask = getattr(inputs, "_keras_mask", None)
    m_struct = None if in_mask is None else jax.ShapeDtypeStruct(
        tuple(1 if d is None else d for d in in_mask.shape), jnp.bool_)
    x_struct = jax.tree.map(lambda s: jax.ShapeDtypeStruct(
        tuple(1 if d is None else d for d in s), jnp.float32), input_shape, is_leaf=_is_shape)
    try:
        out = jax.eval_shape(lambda x, m: layer.compute_mask(x, m), x_struct, m_struct)
    except Exception:  # noqa: BLE001 - a layer whose mask cannot be traced has none here
        return None
    if out is None or not hasattr(out, "shape"):
        return None
    return KerasTensor((None, *out.shape[1:]), dtype="bool")


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
        activity_regularizer=None,
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
        # setdefault: a subclass may assign sub-layers or variables before calling this
        self.__dict__.setdefault("_own_weights", [])
        self.__dict__.setdefault("_sublayers", [])
        self._losses: list = []
        self._loss_ids: set[int] = set()
        self.activity_regularizer = regularizers.get(activity_regularizer)
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

        ``regularizer`` (a penalty `losses` evaluates on the current value) and ``constraint``
        (a projection `fit` applies after every optimizer update) are Keras's, by object or name.

        Raises:
            ValueError: for a missing shape or an unknown regularizer or constraint.

        """
        if args and isinstance(args[0], str):  # add_weight(name, shape, initializer)
            name, args = args[0], args[1:]
        keras_order = ("shape", "initializer", "dtype", "trainable")
        given = dict(zip(keras_order, args, strict=False))
        shape = given.get("shape", shape)
        initializer = given.get("initializer", initializer)
        dtype = given.get("dtype", dtype) or "float32"
        trainable = given.get("trainable", trainable)
        regularizer = regularizers.get(regularizer)
        constraint = constraints.get(constraint)
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
        var.regularizer, var.constraint = regularizer, constraint
        self._own_weights.append(var)
        return var

    def __setattr__(self, name: str, value) -> None:
        """Track sub-layers and variables assigned as attributes, as Keras does."""
        tracking.track(self, name, value)
        object.__setattr__(self, name, value)

    @property
    def input(self):
        """The input tensor(s) of the layer's first symbolic call, as Keras's ``layer.input``.

        Raises:
            AttributeError: for a layer never called on symbolic tensors.

        """
        return self._first_call("input_tensors", "input")

    @property
    def output(self):
        """The output tensor(s) of the layer's first symbolic call (Keras's ``layer.output``)."""
        return self._first_call("outputs", "output")

    def _first_call(self, attr: str, what: str):
        nodes = self.__dict__.get("_inbound_nodes") or []
        if not nodes:
            raise AttributeError(f"The layer {self.name} has never been called and thus has no "
                                 f"defined {what}.")
        values = getattr(nodes[0], attr)
        return values[0] if isinstance(values, list) and len(values) == 1 else values

    @property
    def weights(self) -> list[Variable]:
        """All weights: the layer's own (trainable first), then its sub-layers' (Keras order).

        Sub-layers are those assigned as attributes (also in lists, tuples and dicts) and those
        appended to ``self._sublayers``; each weight appears once.
        """
        own = tracking.own_variables(self)
        out = [w for w in own if w.trainable] + [w for w in own if not w.trainable]
        seen = {id(w) for w in out}
        for sub in tracking.sublayers(self):
            for w in sub.weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    @property
    def trainable_weights(self) -> list[Variable]:
        """Weights an optimizer updates (none in a frozen layer or frozen sub-layer)."""
        if not self.trainable:
            return []
        ids = {id(w) for w in tracking.own_variables(self) if w.trainable}
        for sub in tracking.sublayers(self):
            ids.update(id(w) for w in sub.trainable_weights)
        return [w for w in self.weights if id(w) in ids]

    @property
    def non_trainable_weights(self) -> list[Variable]:
        """Weights an optimizer leaves alone."""
        ids = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in ids]

    # ------------------------------------------------------------------ losses
    def add_loss(self, loss) -> None:
        """Add a scalar loss (in `call`) that `fit` adds to the compiled loss, as Keras does.

        Raises:
            ValueError: for a value that is not an array.

        """
        values = jax.tree.leaves(loss)
        for x in values:
            if not isinstance(x, (jax.Array, np.ndarray)):
                raise ValueError("`add_loss()` can only be called from inside `build()` or "
                                 f"`call()`, on a tensor input. Received invalid value: {x}")
        scope = current_scope()
        if scope is None:
            self._losses.extend(values)
        elif scope.collect_losses:
            for x in values:
                scope.losses.append(x)
                self._loss_ids.add(id(x))

    def _own_losses(self) -> list:
        scope = current_scope()
        if scope is not None:
            return [x for x in scope.losses if id(x) in self.__dict__.get("_loss_ids", ())]
        return list(self.__dict__.get("_losses", ()))

    @property
    def losses(self) -> list:
        """Losses of the last call (`add_loss`, activity regularizers) and weight penalties.

        Keras's order: this layer's added losses, its sub-layers', then each trainable
        weight's regularizer evaluated on the weight's current value.
        """
        out = self._own_losses()
        for sub in tracking.all_sublayers(self):
            out.extend(sub._own_losses())
        out.extend(w.regularizer(w.value) for w in self.trainable_weights
                   if getattr(w, "regularizer", None) is not None)
        return out

    def _clear_losses(self) -> None:
        scope = current_scope()
        if scope is not None and scope.collect_losses:
            ids = self.__dict__.get("_loss_ids", set())
            scope.losses[:] = [x for x in scope.losses if id(x) not in ids]
        self.__dict__.get("_losses", []).clear()
        self.__dict__.get("_loss_ids", set()).clear()
        for sub in tracking.sublayers(self):
            sub._clear_losses()

    def _activity_losses(self, outputs) -> None:
        """Add the activity regularizer's loss of each output, divided by its batch size."""
        for out in jax.tree.leaves(outputs):
            if isinstance(out, (jax.Array, np.ndarray)):
                loss = self.activity_regularizer(out)
                if out.ndim > 0:  # Keras's divide_no_nan by the batch size
                    n = out.shape[0]
                    loss = loss / jnp.asarray(n, loss.dtype) if n else jnp.zeros_like(loss)
                self.add_loss(loss)

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
        """Create weights for inputs of ``input_shape``; the base layer has none.

        A layer that keeps this default and holds sub-layers builds them as Keras does, by
        running `call` once (on zeros) inside its name scope.
        """
        self.built = True

    build._runs_call = True

    def __init_subclass__(cls, **kwargs):
        """Open the layer's name scope around every ``build``, as Keras's build wrapper does.

        So a parent's ``build`` may call ``self.dense.build(shape)`` and the weights are
        ``parent/dense/kernel``, as in Keras.
        """
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_wrapped", False):
            @functools.wraps(build)
            def scoped_build(self, *args, **kw):
                with name_scope(self.name, owner=self):
                    out = build(self, *args, **kw)
                self.built = True
                return out

            scoped_build._wrapped = True
            cls.build = scoped_build

    def _maybe_build(self, input_shape) -> None:
        if not self.built:
            with name_scope(self.name, owner=self):
                self.build(input_shape)
                if getattr(type(self).build, "_runs_call", False) and any(
                        not sub.built for sub in tracking.sublayers(self)):
                    self._build_by_run(input_shape)
            self.built = True

    def _build_by_run(self, input_shape) -> None:
        """Build the sub-layers by calling ``call`` once on zeros (open sizes become 1)."""
        def zeros(shape):
            if isinstance(shape, list):
                return [zeros(s) for s in shape]
            return jnp.zeros(tuple(1 if d is None else d for d in shape), jnp.float32)

        self.built = True  # the run below must not build this layer again
        # a scope of its own: the run's added losses and variable updates are dropped
        with StatelessScope(), tracking.outer_call(None):
            self.call(zeros(input_shape), **_accepted(self, {"training": False}))

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
        if self.__dict__.get("activity_regularizer") is not None:
            self._activity_losses(outputs)
        return outputs, self.compute_mask(inputs, mask)

    def __call__(self, inputs, mask=None, training: bool = False, **kwargs):
        """Call eagerly on arrays (returns NumPy) or symbolically on a `KerasTensor`."""
        if isinstance(inputs, KerasTensor) or (
            isinstance(inputs, (list, tuple)) and any(isinstance(i, KerasTensor) for i in inputs)
        ):
            return self._symbolic_call(inputs, **kwargs)
        was_numpy = not isinstance(inputs, jax.Array)
        if mask is None:  # Keras's eager mask propagation: the mask an input carries
            mask = getattr(inputs, "_keras_mask", None)
        x = jax.tree.map(jnp.asarray, inputs)
        m = None if mask is None else jnp.asarray(mask).astype(bool)
        self._maybe_build(_shape_of(x))
        kw = {"training": training, **kwargs}
        if m is not None:
            kw["mask"] = m
        with tracking.outer_call(self):
            out = self.call(x, **_accepted(self, kw))
            if self.__dict__.get("activity_regularizer") is not None:
                self._activity_losses(out)
        if "_first_output_shape" not in self.__dict__:  # a subclassed model's summary shows it
            self.__dict__["_first_output_shape"] = _shapes(out)
        out = jax.tree.map(np.asarray, out) if was_numpy else out
        return _carry_mask(out, self.compute_mask(x, m) if hasattr(out, "shape") else None)

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
        if isinstance(outputs, KerasTensor):
            outputs._keras_mask = _symbolic_mask(self, inputs, input_shape)
        return outputs

    # ------------------------------------------------------------------- config
    def get_config(self) -> dict:
        """Return the constructor arguments (Keras's base keys)."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": "float32"}
        if self.__dict__.get("activity_regularizer") is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
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
