"""Shared helpers of `unrolled.inspect`: finding recurrent layers and checking user input."""

from __future__ import annotations

import numpy as np

# Gate blocks of each recurrent kind, in the column order of its kernel: (attribute name,
# symbol, plain-language label). Keras's layouts: LSTM [i | f | c | o], GRU [z | r | h~].
GATES = {
    "LSTM": (("input_gate", "i", "input gate"), ("forget_gate", "f", "forget gate"),
             ("candidate", "c~", "candidate"), ("output_gate", "o", "output gate")),
    "GRU": (("update_gate", "z", "update gate"), ("reset_gate", "r", "reset gate"),
            ("candidate", "h~", "candidate")),
    "SimpleRNN": (("candidate", "h~", "new state"),),
}
# The per-cell state vectors each kind carries from step to step.
STATES = {"LSTM": ("hidden", "cell"), "GRU": ("hidden",), "SimpleRNN": ("hidden",)}
# Short names accepted for gates (gate_weights(layer, "forget")).
ALIASES = {"i": "input_gate", "input": "input_gate", "f": "forget_gate", "forget": "forget_gate",
           "c": "candidate", "g": "candidate", "c~": "candidate", "h~": "candidate",
           "cell": "candidate", "o": "output_gate", "output": "output_gate",
           "z": "update_gate", "update": "update_gate", "r": "reset_gate", "reset": "reset_gate"}


def kind_of(layer) -> str | None:
    """Return ``"LSTM"``, ``"GRU"``, ``"SimpleRNN"`` or ``"Bidirectional"`` (``None`` otherwise)."""
    for cls in type(layer).__mro__:
        if cls.__name__ in GATES or cls.__name__ == "Bidirectional":
            return cls.__name__
    return None


def model_layers(model) -> list:
    """Return the model's layers (a bare recurrent layer counts as a one-layer model)."""
    layers = getattr(model, "layers", None)
    return list(layers) if layers is not None else [model]


def recurrent_layers(model) -> list:
    """Every recurrent layer of ``model`` in order (LSTM, GRU, SimpleRNN, Bidirectional)."""
    return [layer for layer in model_layers(model) if kind_of(layer) is not None]


def resolve_layer(model, layer=None):
    """Return ``(index, layer)`` of the recurrent layer named or indexed by ``layer``.

    ``None`` picks the first recurrent layer; an int indexes ``model.layers``; a string is a name.

    Raises:
        ValueError: if the model has no recurrent layer, or ``layer`` names no recurrent layer.

    """
    layers = model_layers(model)
    recurrent = [(i, lay) for i, lay in enumerate(layers) if kind_of(lay) is not None]
    names = [f"{lay.name} ({type(lay).__name__})" for lay in layers]
    if not recurrent:
        raise ValueError(
            f"The model has no recurrent layer to inspect (its layers: {names or 'none'}). "
            "unrolled.inspect looks inside LSTM, GRU, SimpleRNN and Bidirectional layers; add "
            "one, or pass a model that has one."
        )
    if layer is None:
        return recurrent[0]
    for i, lay in recurrent:
        if lay is layer or lay.name == layer or i == layer:
            return i, lay
    raise ValueError(
        f"layer={layer!r} is not a recurrent layer of this model. Pass one of the recurrent "
        f"layers' names {[lay.name for _, lay in recurrent]} or indices "
        f"{[i for i, _ in recurrent]} (model layers: {names})."
    )


def check_inputs(model, x):
    """Return ``x`` as an array ``(B, T, F)``, or raise a ValueError that says what to change.

    A model with several inputs takes a list (or dict) of arrays, each checked for numbers.
    """
    if isinstance(x, dict):
        return {k: _numeric(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and len(getattr(model, "inputs", ())) > 1:
        return [_numeric(v) for v in x]
    arr = _numeric(x)
    if arr.ndim != 3:
        hint = " For one sequence use x[None] to add the batch axis." if arr.ndim == 2 else ""
        raise ValueError(f"x must have shape (batch, timesteps, features); received shape "
                         f"{arr.shape}.{hint}")
    expected = getattr(model, "_input_batch_shape", None)
    if expected is not None and expected[-1] is not None and expected[-1] != arr.shape[-1]:
        raise ValueError(f"The model expects {expected[-1]} features per step (input shape "
                         f"{tuple(expected)}); x has shape {arr.shape}.")
    return arr


def _numeric(x) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"x must be a numeric array (batch, timesteps, features); received "
                         f"dtype {arr.dtype}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError("x contains NaN or infinite values; clean or mask them (Masking layer "
                         "with a padding value) before inspecting.")
    dtype = np.float64 if arr.dtype == np.float64 else np.float32
    return arr.astype(dtype)


def check_index(name: str, value: int, size: int, what: str) -> int:
    """Return ``value`` (negative counts from the end) or raise IndexError naming the range."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer; received {value!r}.")
    if not -size <= value < size:
        raise IndexError(f"{name}={value} is out of range: {what} has {size} (valid "
                         f"{name} 0..{size - 1}).")
    return int(value) % size


# Layers that hand their input on unchanged at inference (Masking only marks padding).
_PASS_THROUGH = {"Masking", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise",
                 "GaussianDropout", "AlphaDropout"}


def _parent(model, layer):
    """Return the layer whose output ``layer`` reads (``None``: the model's input)."""
    nodes = [n for n in layer.__dict__.get("_inbound_nodes", [])
             if id(n) in {id(m) for m in getattr(model, "_nodes", ())}]
    if nodes:  # a functional model: the first tensor argument of the layer's first call
        tensors = nodes[0].input_tensors
        parent = getattr(tensors[0], "_node", None) if tensors else None
        lay = getattr(parent, "layer", None)
        return None if lay is None or type(lay).__name__ == "InputLayer" else lay
    layers = [lay for lay in model_layers(model) if type(lay).__name__ != "InputLayer"]
    index = next((i for i, lay in enumerate(layers) if lay is layer), 0)
    return layers[index - 1] if index > 0 else None


def input_source(model, layer):
    """Return ``(source, via)``: where ``layer``'s input comes from.

    ``source`` is the layer whose output ``layer`` reads (``None``: the model's own input ``x``),
    ``via`` the pass-through layers (Masking, Dropout) in between, in model order.
    """
    via, source = [], _parent(model, layer)
    while source is not None and type(source).__name__ in _PASS_THROUGH:
        via.append(source)
        source = _parent(model, source)
    return source, via[::-1]


def describe_input(model, layer) -> str:
    """Say what ``layer`` reads at each step.

    The model's input, or (layer 2 of a stack) the hidden state ``h_t`` of the layer before it.
    """
    if model is layer:
        return "the input x"
    source, via = input_source(model, layer)
    through = f" (through {', '.join(repr(v.name) for v in via)})" if via else ""
    if source is None:
        return f"the model's input x{through}"
    kind = kind_of(source)
    if kind is None:
        return f"the output of layer {source.name!r} ({type(source).__name__}){through}"
    cells = (f"{source.cell.units} cells" if kind in GATES else
             f"{source.forward_layer.cell.units} cells per direction, merged "
             f"{source.merge_mode!r}")
    return (f"h_t of layer {source.name!r} ({type(source).__name__}, {cells}), its hidden state "
            f"at every step{through}")
