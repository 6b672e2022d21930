"""The functional `Model(inputs, outputs)`: a graph of layer calls recorded on `KerasTensor`s.

Calling a layer on `KerasTensor`s records a `Node` (layer, arguments, outputs). The model walks
those links back from its outputs to its inputs with Keras's algorithm (depth-first from each
output; depth = longest path to an output), so ``model.layers`` and ``model.weights`` come out in
Keras's order, and runs the nodes from the deepest to the shallowest. Masks flow as in Keras 3: a
layer called with a single tensor argument receives the masks of that argument; a layer called
with several (``lstm(x, initial_state=[h, c])``) receives none; a layer that supports masking
attaches ``compute_mask(first_argument, mask)`` to its outputs.
"""

from __future__ import annotations

import jax.numpy as jnp

from unrolled.layers.base import KerasTensor, Layer, unique_name
from unrolled.layers.embedding import Embedding
from unrolled.models.functional_config import graph_config, graph_from_config, node_of
from unrolled.models.model import Model
from unrolled.training.data import Arrays


def _flat(structure) -> list:
    if isinstance(structure, (list, tuple)):
        return [t for s in structure for t in _flat(s)]
    if isinstance(structure, dict):
        return [t for s in structure.values() for t in _flat(s)]
    return [structure]


_node_of = node_of


def _fill(structure, values: dict):
    """Replace every `KerasTensor` in ``structure`` by ``values[id(tensor)]``."""
    if isinstance(structure, KerasTensor):
        return values[id(structure)]
    if isinstance(structure, (list, tuple)):
        return type(structure)(_fill(s, values) for s in structure)
    if isinstance(structure, dict):
        return {k: _fill(v, values) for k, v in structure.items()}
    return structure


class Functional(Model):
    """A model defined by its input and output tensors, as ``keras.Model(inputs, outputs)``.

    Args:
        inputs: an `Input` tensor or a list of them.
        outputs: a tensor computed from ``inputs`` by layer calls, or a list of them.
        name: model name (``functional``, ``functional_1``, ... by default).

    Example:
        >>> import numpy as np
        >>> import unrolled
        >>> from unrolled import layers
        >>> a = unrolled.Input(shape=(5, 3))
        >>> b = unrolled.Input(shape=(5, 2))
        >>> x = layers.Concatenate()([a, b])
        >>> out = layers.Dense(1)(layers.LSTM(4)(x))
        >>> model = unrolled.Model([a, b], out)
        >>> model.predict([np.zeros((2, 5, 3)), np.zeros((2, 5, 2))], verbose=0).shape
        (2, 1)

    """

    def __init__(self, inputs, outputs, name: str | None = None, trainable: bool = True,
                 **kwargs):
        super().__init__(name=name or unique_name("functional"), trainable=trainable, **kwargs)
        self._multi_input = isinstance(inputs, (list, tuple, dict))
        self._multi_output = isinstance(outputs, (list, tuple))
        self.inputs = list(inputs.values()) if isinstance(inputs, dict) else _flat(inputs)
        self.outputs = _flat(outputs)
        self._inputs_struct, self._outputs_struct = inputs, outputs  # for get_config
        for what, tensors in (("inputs", self.inputs), ("outputs", self.outputs)):
            bad = [t for t in tensors if not isinstance(t, KerasTensor)]
            if bad or not tensors:
                raise ValueError(
                    f"Model {what} must be symbolic tensors (from unrolled.Input(...) and layer "
                    f"calls on them); received {bad[0] if bad else 'nothing'!r}."
                )
        self._map_graph()
        self.built = True

    # ------------------------------------------------------------------ graph
    def _map_graph(self) -> None:
        input_ids = {id(t) for t in self.inputs}
        finished, in_progress, ordered, first_seen = set(), set(), [], {}

        def visit(tensor):
            node = _node_of(tensor)
            if id(node) in finished:
                return
            if not node.is_input and id(tensor) in input_ids:
                finished.add(id(node))
                return
            if id(node) in in_progress:
                raise ValueError(f"The graph has a cycle through layer {node.layer.name!r}.")
            first_seen.setdefault(id(node.layer), len(first_seen))
            in_progress.add(id(node))
            for parent in node.input_tensors:
                visit(parent)
            in_progress.discard(id(node))
            finished.add(id(node))
            ordered.append(node)

        for out in self.outputs:
            visit(out)
        node_ids = {id(n) for n in ordered}
        node_depth: dict[int, int] = {}
        layer_depth: dict[int, int] = {}
        layers = {}
        for node in reversed(ordered):
            depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
            layer_depth[id(node.layer)] = depth
            node_depth[id(node)] = depth
            layers[id(node.layer)] = node.layer
            for parent in node.input_tensors:
                pnode = _node_of(parent)
                if id(pnode) in node_ids:
                    node_depth[id(pnode)] = max(depth + 1, node_depth.get(id(pnode), 0))
        for tensor in self.inputs:  # inputs not connected to any output still count
            node = _node_of(tensor)
            if node.is_input and id(node.layer) not in layer_depth:
                layer_depth[id(node.layer)] = 0
                first_seen[id(node.layer)] = -1
                layers[id(node.layer)] = node.layer
        self._layers = sorted(layers.values(), key=lambda lay: (-layer_depth[id(lay)],
                                                                first_seen[id(lay)]))
        self._nodes = sorted(ordered, key=lambda n: -node_depth[id(n)])
        computable = set(input_ids)
        for node in self._nodes:
            if node.is_input and id(node.outputs) not in input_ids:
                raise ValueError(
                    f"Graph disconnected: the output depends on input {node.layer.name!r} "
                    f"(shape {node.outputs.shape}), which is not among the model's inputs "
                    f"{[t.name for t in self.inputs]}. Pass it in `inputs=` as well."
                )
            for tensor in node.input_tensors:
                if id(tensor) not in computable:
                    raise ValueError(
                        f"Graph disconnected: cannot compute {tensor} (input of layer "
                        f"{node.layer.name!r}) from the model's inputs. Pass the tensors it "
                        "comes from in `inputs=`."
                    )
            computable.update(id(t) for t in _flat(node.outputs))
        names = [lay.name for lay in self._layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"The layer names {duplicates} are used more than once in the "
                             "model; every layer in a model needs a unique name.")

    @property
    def layers(self) -> list[Layer]:
        """The model's layers (input layers included), in Keras's order."""
        return list(self._layers)

    def get_layer(self, name: str) -> Layer:
        """Return the layer called ``name``."""
        for layer in self._layers:
            if layer.name == name:
                return layer
        names = [x.name for x in self._layers]
        raise ValueError(f"No layer named {name!r}; the model has {names}.")

    @property
    def weights(self):
        """All weights, layer by layer in `layers` order (shared layers once)."""
        out, seen = [], set()
        for layer in self._layers:
            for w in layer.weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    def _variable_children(self) -> list:
        return list(self._layers)

    @property
    def trainable_weights(self):
        """Weights an optimizer updates, in `weights` order."""
        if not self.trainable:
            return []
        ids = {id(w) for lay in self._layers for w in lay.trainable_weights}
        return [w for w in self.weights if id(w) in ids]

    @property
    def non_trainable_weights(self):
        """Weights an optimizer leaves alone, in `weights` order."""
        ids = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in ids]

    # ---------------------------------------------------------------- forward
    def _forward_layers(self, x, training: bool):
        arrays = self._split_inputs(x)
        values = {id(t): a for t, a in zip(self.inputs, arrays, strict=True)}
        masks = {id(t): None for t in self.inputs}
        for node in self._nodes:
            if node.is_input:
                continue
            layer = node.layer
            args = _fill(node.args, values)
            kwargs = _fill(node.kwargs, values)
            first_masks = _fill(node.args, masks)
            if not node.tensor_kwargs and any(m is not None for m in _flat(first_masks)):
                kwargs["mask"] = first_masks
            outputs = layer.call(args, training=training, **kwargs)
            out_flat = _flat(outputs) if isinstance(node.outputs, list) else [outputs]
            out_masks = [None] * len(out_flat)
            if layer.supports_masking:
                computed = layer.compute_mask(
                    args, first_masks if any(m is not None for m in _flat(first_masks)) else None)
                if computed is not None:
                    out_masks = (list(computed) if isinstance(computed, (list, tuple))
                                 else [computed] + [None] * (len(out_flat) - 1))
            for tensor, value, mask in zip(_flat(node.outputs), out_flat, out_masks, strict=True):
                values[id(tensor)] = value
                masks[id(tensor)] = mask
        ys = [values[id(t)] for t in self.outputs]
        ms = [masks[id(t)] for t in self.outputs]
        if self._multi_output:
            return ys, ms
        return ys[0], ms[0]

    def _split_inputs(self, x) -> list:
        if isinstance(x, Arrays):
            arrays = x.arrays
        elif isinstance(x, dict):
            arrays = [x[t.name] for t in self.inputs]
        elif isinstance(x, (list, tuple)):
            arrays = list(x)
        else:
            arrays = [x]
        if len(arrays) != len(self.inputs):
            raise ValueError(
                f"Model {self.name!r} expects {len(self.inputs)} input(s) with shapes "
                f"{[t.shape for t in self.inputs]}, but received {len(arrays)}. Pass a list with "
                "one array per input, in the order of `model.inputs`."
            )
        return [jnp.asarray(a) for a in arrays]

    def call(self, inputs, mask=None, training=False):
        """Compute the outputs from JAX arrays."""
        y, _ = self._forward_layers(inputs, training)
        return y

    def compute_output_shape(self, input_shape):
        """Return the output shape for ``input_shape``."""
        shapes = [t.shape for t in self.outputs]
        return shapes if self._multi_output else shapes[0]

    @property
    def input(self):
        """The model's input tensor, or the list of them (Keras's ``model.input``)."""
        return self.inputs[0] if len(self.inputs) == 1 else list(self.inputs)

    @property
    def output(self):
        """The model's output tensor, or the list of them (Keras's ``model.output``)."""
        return list(self.outputs) if self._multi_output else self.outputs[0]

    # ------------------------------------------------- plain data for training
    @property
    def output_names(self) -> list[str]:
        """The names of the layers producing the outputs, as Keras names the outputs."""
        return [t._node.layer.name if t._node is not None else t.name for t in self.outputs]

    def _input_specs(self) -> list:
        return [(t.name, t.shape) for t in self.inputs]

    def _output_names(self) -> list[str]:
        return self.output_names

    def _output_shape_list(self) -> list:
        return [t.shape for t in self.outputs]

    def _has_output_list(self) -> bool:
        return self._multi_output

    def _input_checks(self) -> list:
        """Return the host checks of inputs: the ids of each `Embedding` fed by a model input."""
        return [(i, node.layer.check_ids) for node in self._nodes
                if isinstance(node.layer, Embedding) and len(node.input_tensors) == 1
                for i, tensor in enumerate(self.inputs) if node.input_tensors[0] is tensor]

    def _output_shape(self):
        return self.outputs[0].shape

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict:
        """Return Keras 3's functional config.

        Its keys are ``layers`` (each with its ``inbound_nodes``), ``input_layers``,
        ``output_layers``, ``name`` and ``trainable``.
        """
        return graph_config(self)

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Functional:
        """Rebuild the model (new layers, new weights) from `get_config`'s output.

        Raises:
            ValueError: for a malformed config or a graph that cannot be replayed.

        """
        inputs, outputs, order = graph_from_config(config, custom_objects)
        model = cls(inputs, outputs, name=config.get("name"),
                    trainable=config.get("trainable", True))
        # Keras numbers the weights in a file by its own layer order (the config's), which can
        # differ from the order unrolled derives where Keras put mask operations into the graph.
        position = {name: i for i, name in enumerate(order)}
        model._layers.sort(key=lambda lay: position.get(lay.name, len(position)))
        return model

    # ---------------------------------------------------------------- summary
    def _summary_rows(self):
        rows = []
        for layer in self._layers:
            nodes = [n for n in getattr(layer, "_inbound_nodes", []) if n in self._nodes]
            outs = nodes[0].outputs if nodes else None
            shape = ([t.shape for t in outs] if isinstance(outs, list)
                     else outs.shape if outs is not None else ("?",))
            rows.append((layer, shape))
        return rows
