"""A functional model's graph as Keras 3's config, and back.

Keras 3 writes a functional model as a list of layer specs, each with the calls that feed it::

    {"name": "lstm", "class_name": "LSTM", "config": {...},
     "inbound_nodes": [{"args": [<tensor>], "kwargs": {"initial_state": [<tensor>, <tensor>]}}]}

where a tensor is ``{"class_name": "__keras_tensor__", "config": {"shape", "dtype",
"keras_history": [layer name, node index, tensor index]}}``: the output ``tensor index`` of call
``node index`` of that layer, counting only the calls that belong to this model. The model's own
inputs and outputs are ``input_layers`` and ``output_layers``, histories in the structure the
model was built with. Keras 2 files write a call as ``[[name, node, tensor, kwargs], ...]``;
both are read. Layer specs themselves are made and read by the one layer serializer
(`unrolled.saving.serialization_lib`); files' dialects are translated before, by `unrolled.io`,
so this module knows the graph and nothing about file formats.
"""

from __future__ import annotations

from unrolled.layers.base import KerasTensor, Layer, Node
from unrolled.layers.core import InputLayer
from unrolled.saving.serialization_lib import deserialize_layer, serialize_layer

_TENSOR = "__keras_tensor__"


class _KerasOp:
    """A Keras operation in a Keras-written graph (``keras.src.ops``: NotEqual, Any, ...).

    Keras 3 records the ops that compute masks as graph nodes and passes their result as an
    explicit ``mask=``; unrolled computes the same masks itself, so such ops are not replayed
    and the ``mask=`` they feed is dropped. An op on the data path is refused.
    """

    def __init__(self, name: str, class_name: str):
        self.name, self.class_name = name, class_name


class _NotReady(Exception):
    """A call refers to a layer call that has not been replayed yet (shared layers, A(B(A(x))))."""


def _is_history(value) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) == 3 and isinstance(value[0], str)
            and all(isinstance(i, int) and not isinstance(i, bool) for i in value[1:]))


def model_layer_spec(layer: Layer) -> dict:
    """Return `serialize_layer` of a model's layer (the model's input carries the input shape)."""
    spec = serialize_layer(layer)
    spec["config"] = {k: v for k, v in spec["config"].items() if k != "batch_input_shape"}
    return spec


def node_of(tensor: KerasTensor) -> Node:
    """Return the node that produced ``tensor`` (an `Input` tensor gets one on first use)."""
    if tensor._node is None:
        if not isinstance(tensor._layer, InputLayer):
            raise ValueError(f"{tensor} was not produced by a layer call or by `Input`; build "
                             "the graph from `unrolled.Input(shape=...)` tensors.")
        tensor._node = Node(tensor._layer, (), {}, tensor, is_input=True)
    return tensor._node


# ------------------------------------------------------------------- writing
def graph_config(model) -> dict:
    """Return Keras 3's config of the functional ``model`` (``name, trainable, layers, ...``)."""
    own = {id(n) for n in model._nodes}

    def kept_nodes(layer):
        return [n for n in layer.__dict__.get("_inbound_nodes", []) if id(n) in own]

    def history(tensor: KerasTensor) -> list:
        node = node_of(tensor)
        index = next(i for i, n in enumerate(kept_nodes(node.layer)) if n is node)
        return [node.layer.name, index, tensor._index]

    def encode(value):
        if isinstance(value, KerasTensor):
            return {"class_name": _TENSOR, "config": {
                "shape": list(value.shape), "dtype": value.dtype, "keras_history": history(value)}}
        if isinstance(value, (list, tuple)):
            return [encode(v) for v in value]
        if isinstance(value, dict):
            return {k: encode(v) for k, v in value.items()}
        return value

    layers = []
    for layer in model._layers:
        spec = model_layer_spec(layer)
        spec["name"] = layer.name
        spec["inbound_nodes"] = [{"args": [encode(n.args)], "kwargs": encode(n.kwargs)}
                                 for n in kept_nodes(layer) if not n.is_input]
        layers.append(spec)

    def structure(value):
        if isinstance(value, KerasTensor):
            return history(value)
        if isinstance(value, dict):
            return {k: structure(v) for k, v in value.items()}
        return [structure(v) for v in value]

    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": structure(model._inputs_struct),
            "output_layers": structure(model._outputs_struct)}


# ------------------------------------------------------------------- reading
def _output_of(created: dict, name, node_index: int, tensor_index: int) -> KerasTensor:
    layer = created.get(name)
    if layer is None:
        raise ValueError(f"a layer call refers to layer {name!r}, which the config does not "
                         f"define (it defines {sorted(created)}).")
    if isinstance(layer, _KerasOp):
        return layer
    nodes = layer.__dict__.get("_inbound_nodes", [])
    if node_index >= len(nodes):
        raise _NotReady(name)
    outputs = nodes[node_index].outputs
    outputs = outputs if isinstance(outputs, list) else [outputs]
    if not 0 <= tensor_index < len(outputs):
        raise ValueError(f"a layer call asks for output {tensor_index} of layer {name!r}, "
                         f"which has {len(outputs)} output(s).")
    return outputs[tensor_index]


def _decode(value, created: dict):
    if isinstance(value, dict):
        if value.get("class_name") == _TENSOR:
            history = (value.get("config") or {}).get("keras_history")
            if not _is_history(history):
                raise ValueError(f"a tensor in the config has no valid keras_history: "
                                 f"{value!r:.200}")
            return _output_of(created, *history)
        if value.get("class_name") == "__tuple__":
            return tuple(_decode(v, created) for v in (value.get("config") or {}).get("value", []))
        return {k: _decode(v, created) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_decode(v, created) for v in value]
    return value


def _call_arguments(node_data, created: dict) -> tuple[list, dict]:
    """Return ``(args, kwargs)`` of one recorded call, its tensors replaced by live ones."""
    if isinstance(node_data, list):  # Keras 2: [[name, node, tensor, kwargs], ...]
        tensors, kwargs = [], {}
        for entry in node_data:
            if not (isinstance(entry, list) and len(entry) in (3, 4) and _is_history(entry[:3])):
                raise ValueError(f"cannot read the layer call {node_data!r:.200}")
            tensors.append(_output_of(created, *entry[:3]))
            kwargs = dict(entry[3]) if len(entry) == 4 else kwargs
        return [tensors[0] if len(tensors) == 1 else tensors], _decode(kwargs, created)
    if not isinstance(node_data, dict) or not isinstance(node_data.get("args"), list):
        raise ValueError(f"cannot read the layer call {node_data!r:.200}")
    return _decode(node_data["args"], created), _decode(node_data.get("kwargs") or {}, created)


def _replay(layer: Layer, node_data, created: dict) -> None:
    args, kwargs = _call_arguments(node_data, created)
    kwargs.pop("training", None)
    mask = kwargs.pop("mask", None)
    if mask is not None and not all(isinstance(m, _KerasOp) for m in _leaves(mask)):
        raise ValueError(f"layer {layer.name!r} is called with an explicit `mask=` argument, "
                         "which unrolled does not replay; let masks flow from Masking or "
                         "Embedding(mask_zero=True) instead.")
    ops = [a for a in _leaves([args, kwargs]) if isinstance(a, _KerasOp)]
    if ops:
        raise ValueError(f"layer {layer.name!r} takes the output of the Keras operation "
                         f"{ops[0].name!r} ({ops[0].class_name}), which unrolled cannot run; "
                         "only masks may come from such operations. Replace the operation by "
                         "a layer.")
    if len(args) != 1:
        raise ValueError(f"layer {layer.name!r} is called with {len(args)} positional "
                         "arguments; unrolled layers take one (a tensor or a list of tensors).")
    layer(args[0], **kwargs)


def _leaves(value) -> list:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _leaves(v)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    return [value]


def graph_from_config(config: dict, custom_objects: dict | None = None):
    """Rebuild the layers and calls of `graph_config`'s output (or of a file Keras wrote).

    Returns:
        ``(inputs, outputs, order)``: the model's input and output tensors, in the structure
        of the config, and the layer names in the config's order (Keras numbers the weights in
        a file by it).

    Raises:
        ValueError: for a malformed config, a call that refers to a missing layer, or a graph
            that cannot be replayed (a cycle or a disconnected call), naming what is wrong.

    """
    if not isinstance(config, dict):
        raise ValueError("the functional model's 'config' is not a JSON object")
    specs = config.get("layers")
    if not isinstance(specs, list) or not specs:
        raise ValueError("the functional model's config has no 'layers' list")
    created: dict[str, Layer] = {}
    pending: dict[str, list] = {}
    order = []
    for spec in specs:
        if not isinstance(spec, dict):
            raise ValueError(f"a layer entry must be a JSON object; found {spec!r:.200}")
        if str(spec.get("module", "")).startswith("keras.src.ops"):
            name = spec.get("name") or (spec.get("config") or {}).get("name")
            created[name] = _KerasOp(name, spec.get("class_name"))
            order.append(name)
            pending[name] = []
            continue
        layer = deserialize_layer(spec, custom_objects)
        name = spec.get("name") or layer.name
        if name in created:
            raise ValueError(f"the layer name {name!r} appears twice in the config.")
        created[name] = layer
        order.append(name)
        if isinstance(layer, InputLayer):
            node_of(layer.output)  # an Input's one call, node 0 as in Keras
        pending[name] = list(spec.get("inbound_nodes") or [])
    while any(pending.values()):
        progress = False
        for name in order:
            queue = pending[name]
            while queue:
                try:
                    _replay(created[name], queue[0], created)
                except _NotReady:
                    break
                queue.pop(0)
                progress = True
        if not progress:
            stuck = sorted(n for n, q in pending.items() if q)
            raise ValueError(f"the graph cannot be rebuilt: the calls of layers {stuck} wait on "
                             "each other (a cycle) or on calls the config does not contain.")

    def tensors(value):
        if _is_history(value):
            return _output_of(created, *value)
        if isinstance(value, dict):
            return {k: tensors(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [tensors(v) for v in value]
        raise ValueError(f"cannot read the model's inputs/outputs entry {value!r:.200}")

    if "input_layers" not in config or "output_layers" not in config:
        raise ValueError("the functional model's config lacks 'input_layers'/'output_layers'")
    try:
        inputs, outputs = tensors(config["input_layers"]), tensors(config["output_layers"])
    except _NotReady as exc:
        raise ValueError(f"the model's inputs/outputs refer to a call of layer {exc} that the "
                         "config does not contain.") from None
    if any(isinstance(t, _KerasOp) for t in _leaves([inputs, outputs])):
        raise ValueError("the model's inputs/outputs come from Keras operations, which unrolled "
                         "cannot run; end the model with a layer.")
    return inputs, outputs, order
