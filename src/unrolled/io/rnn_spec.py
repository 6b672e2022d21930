"""What a recurrent layer is, as the converters see it: kind, directions, merge, convertibility.

Shared by `unrolled.io.torch_convert` and `unrolled.io.onnx_export`; imports neither framework.

A convertible recurrent layer is an ``LSTM`` or ``GRU`` with the default activations, or a
``Bidirectional`` wrapper of one whose two directions have the same kind, units and bias, the
forward one reading forwards. PyTorch and ONNX concatenate the two directions; the other Keras
merge modes (``"sum"``, ``"ave"``, ``"mul"``) are one element-wise op on the two halves, which
both converters add after the recurrent node. ``merge_mode=None`` (a list of two outputs) is
refused.
"""

from __future__ import annotations

from unrolled.ops import activations

_RUNTIME = {"PyTorch": "as nn.LSTM/nn.GRU compute them in", "ONNX": "as exported for the ONNX"}
MERGE_MODES = ("concat", "sum", "ave", "mul")


def _kind(layer) -> str | None:
    name = type(layer).__name__
    if name in ("LSTM", "GRU"):
        return name
    if name == "Bidirectional":
        return _kind(layer.forward_layer)
    return None


def is_bidirectional(layer) -> bool:
    """Whether ``layer`` is a ``Bidirectional`` wrapper."""
    return type(layer).__name__ == "Bidirectional"


def merge_mode(layer) -> str:
    """Return how the directions' outputs combine: ``"concat"`` for one-directional layers."""
    return layer.merge_mode if is_bidirectional(layer) else "concat"


def _directions(layer) -> list:
    """Return the unidirectional layers of ``layer``: ``[layer]`` or ``[forward, backward]``."""
    if is_bidirectional(layer):
        if layer.merge_mode not in MERGE_MODES:
            raise ValueError(
                f"Layer {layer.name!r}: Bidirectional merge_mode={layer.merge_mode!r} returns "
                "two separate outputs, which the PyTorch/ONNX conversion does not express; use "
                f"one of {list(MERGE_MODES)}."
            )
        return [layer.forward_layer, layer.backward_layer]
    return [layer]


def _check_pair(layer) -> None:
    """Both directions of a Bidirectional layer must be one RNN module's two halves."""
    fwd, bwd = layer.forward_layer, layer.backward_layer
    if fwd.go_backwards or not bwd.go_backwards:
        raise ValueError(
            f"Layer {layer.name!r}: the Bidirectional layer's forward layer has go_backwards="
            f"{fwd.go_backwards} and its backward layer go_backwards={bwd.go_backwards}; "
            "PyTorch/ONNX run the first direction forwards and the second backwards. Rebuild "
            "it as Bidirectional(layer) with go_backwards=False."
        )
    sig = [(type(p).__name__, p.cell.units, p.cell.use_bias,
            getattr(p.cell, "reset_after", None)) for p in (fwd, bwd)]
    if sig[0] != sig[1]:
        raise ValueError(
            f"Layer {layer.name!r}: forward and backward layers differ (kind, units, use_bias, "
            f"reset_after) {sig[0]} vs {sig[1]}; a bidirectional PyTorch/ONNX RNN has one cell "
            "type and size for both directions. Use the same layer settings for both."
        )


def check_rnn_layer(layer, target: str = "PyTorch") -> None:
    """Raise ValueError when ``target`` (PyTorch's nn.LSTM/GRU, ONNX) cannot compute ``layer``."""
    kind = _kind(layer)
    if kind is None:
        raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) is not an LSTM, GRU or "
                         "Bidirectional(LSTM/GRU) layer; only those convert to a recurrent "
                         f"{target} node.")
    bidirectional = is_bidirectional(layer)
    parts = _directions(layer)
    if bidirectional:
        _check_pair(layer)
    for part in parts:
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
            raise ValueError(
                f"Layer {layer.name!r} is a GRU with reset_after=False; PyTorch's nn.GRU "
                "computes only reset_after=True (the Keras 3 default: the reset gate multiplies "
                "h @ recurrent_kernel + recurrent bias). Retrain with reset_after=True, or "
                "export to ONNX (linear_before_reset=0 expresses it)."
            )
        if not bidirectional and part.go_backwards:
            raise ValueError(
                f"Layer {layer.name!r} has go_backwards=True outside a Bidirectional wrapper, "
                f"which {target} conversion does not express. Reverse the time axis of the "
                "input instead, or wrap the layer in Bidirectional."
            )
        if part.return_state or getattr(part, "stateful", False):
            raise ValueError(f"Layer {layer.name!r}: return_state/stateful RNN layers are not "
                             "converted; use return_state=False, stateful=False.")
