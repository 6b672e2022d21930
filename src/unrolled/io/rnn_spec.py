"""What a recurrent layer is, as the converters see it: kind, directions, convertibility.

Shared by `unrolled.io.torch_convert` and `unrolled.io.onnx_export`; imports neither framework.
"""

from __future__ import annotations

from unrolled.ops import activations

_RUNTIME = {"PyTorch": "as nn.LSTM/nn.GRU compute them in", "ONNX": "as exported for the ONNX"}


def _kind(layer) -> str | None:
    name = type(layer).__name__
    if name in ("LSTM", "GRU"):
        return name
    if name == "Bidirectional":
        return _kind(layer.forward_layer)
    return None


def _directions(layer) -> list:
    """Return the unidirectional layers of ``layer``: ``[layer]`` or ``[forward, backward]``."""
    if type(layer).__name__ == "Bidirectional":
        if getattr(layer, "merge_mode", "concat") != "concat":
            raise ValueError(
                f"Layer {layer.name!r}: Bidirectional merge_mode={layer.merge_mode!r} has no "
                "PyTorch/ONNX equivalent (both concatenate the two directions); use "
                "merge_mode='concat'."
            )
        return [layer.forward_layer, layer.backward_layer]
    return [layer]


def check_rnn_layer(layer, target: str = "PyTorch") -> None:
    """Raise ValueError when ``target`` (PyTorch's nn.LSTM/GRU, ONNX) cannot compute ``layer``."""
    kind = _kind(layer)
    if kind is None:
        raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) is not an LSTM, GRU or "
                         "Bidirectional layer.")
    bidirectional = type(layer).__name__ == "Bidirectional"
    for index, part in enumerate(_directions(layer)):
        cell = part.cell
        acts = (activations.name_of(cell.activation),
                activations.name_of(cell.recurrent_activation))
        if acts != ("tanh", "sigmoid"):
            raise ValueError(
                f"Layer {layer.name!r} uses activation={acts[0]!r}, recurrent_activation="
                f"{acts[1]!r}; {target} conversion supports only the defaults tanh/sigmoid "
                f"({_RUNTIME[target]} {kind}). Retrain with the defaults to convert."
            )
        if kind == "GRU" and target == "PyTorch" and not getattr(cell, "reset_after", True):
            raise ValueError(f"Layer {layer.name!r} is a GRU with reset_after=False; PyTorch's "
                             "nn.GRU computes reset_after=True only.")
        if part.go_backwards != (bidirectional and index == 1):
            raise ValueError(
                f"Layer {layer.name!r} has go_backwards={part.go_backwards} outside a "
                f"Bidirectional wrapper, which {target} conversion does not express. Reverse the "
                "time axis of the input instead, or wrap the layer in Bidirectional."
            )
        if part.return_state or getattr(part, "stateful", False):
            raise ValueError(f"Layer {layer.name!r}: return_state/stateful RNN layers are not "
                             "converted; use return_state=False, stateful=False.")
