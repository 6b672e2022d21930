"""Export a Sequential model to ONNX: one ``LSTM``/``GRU`` node per recurrent layer.

Layout. ONNX recurrent nodes are time-major (``layout=0``; onnxruntime rejects ``layout=1``), so
the graph transposes ``x (B, T, F)`` to ``(T, B, F)`` before each node and back after it. The
LSTM node's gate order is ``i, o, f, c`` (Keras: ``i, f, c, o``) with ``W (dirs, 4u, D)``,
``R (dirs, 4u, u)`` (transposed Keras kernels) and ``B (dirs, 8u) = [Wb, Rb]``: the whole Keras
bias goes to ``Wb``, zeros to ``Rb``. The GRU node's order ``z, r, h`` equals Keras's; Keras's
``reset_after=True`` is ``linear_before_reset=1`` and its two bias rows are ``[Wb, Rb]``
(``B (dirs, 6u)``); ``reset_after=False`` is ``linear_before_reset=0`` with the single Keras bias
in ``Wb`` and zeros in ``Rb``.

Directions and stacks. A ``Bidirectional`` layer is one node with ``direction="bidirectional"``,
``W (2, gu, D)``, ``R (2, gu, u)``, ``B (2, 2gu)`` (forward first). Its ``Y (T, 2, B, u)`` is
transposed to ``(B, T, 2, u)`` and reshaped to ``(B, T, 2u)``: the Keras ``concat`` of
``[forward | backward]``, both in input order. ``merge_mode`` ``"sum"``, ``"ave"`` and ``"mul"``
split that into its halves and add (and halve) or multiply them. Every recurrent layer of a
stack is its own node, fed the previous node's batch-major output.

Shapes. The input is ``x (batch, time, F)`` with symbolic ``batch`` and ``time``: one file
runs sequences of any length (a model built for a fixed length too: no node depends on it).

Masks. A leading ``Masking(v)`` layer becomes part of the graph: a step is valid when any of its
features differs from ``v``, and ``sequence_lens`` (int32 ``(B,)``) is the count of valid steps
of each row, so the file takes the same single input ``x`` as the Keras model. ONNX reads the
first ``sequence_lens[b]`` steps of row ``b``, which equals Keras's masking only for RIGHT
padding; a graph cannot raise, so inputs with holes in the mask or left padding give different
results from Keras: pad at the end (``pad_sequences(..., padding="post")``). Export of a model
with ``Masking`` is therefore refused unless the caller passes ``assume_right_padding=True``
(`check_padding`). Keras's outputs at padded steps are reproduced (zeros with
``zero_output_for_mask``, else the last valid output).

Refused with a ValueError: non-default recurrent activations, GRU ``reset_after=False``,
``go_backwards`` outside ``Bidirectional``, ``return_state``, other merge modes, and layers or
activations with no ONNX form here. The file is written atomically.
"""

from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from unrolled.io.atomic import atomic_write
from unrolled.io.rnn_spec import _directions, _kind, check_rnn_layer, merge_mode
from unrolled.layers import Activation, Dense, Masking
from unrolled.models import Sequential
from unrolled.ops import activations

_LSTM_KERAS_TO_ONNX = (0, 3, 1, 2)  # ONNX block j = Keras block [i, f, c, o][order[j]]


class _Graph:
    """A tiny builder: unique names, nodes and initializers."""

    def __init__(self):
        self.nodes, self.inits, self._count = [], [], 0

    def name(self, base: str) -> str:
        self._count += 1
        return f"{base}_{self._count}"

    def const(self, base: str, array) -> str:
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type: str, inputs: list[str], n_out: int = 1, **attrs) -> list[str] | str:
        outs = [self.name(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.name(op_type),
                                           **attrs))
        return outs[0] if n_out == 1 else outs


def _activation(g: _Graph, name: str | None, x: str, where: str) -> str:
    simple = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "softplus": "Softplus",
              "softsign": "Softsign", "elu": "Elu", "selu": "Selu", "exponential": "Exp"}
    if name == "linear":
        return x
    if name in simple:
        return g.op(simple[name], [x])
    if name in ("softmax", "log_softmax"):
        return g.op("Softmax" if name == "softmax" else "LogSoftmax", [x], axis=-1)
    if name == "leaky_relu":
        return g.op("LeakyRelu", [x], alpha=0.2)
    if name == "hard_sigmoid":  # Keras 3: relu6(x + 3) / 6
        return g.op("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)
    if name in ("silu", "swish"):
        return g.op("Mul", [x, g.op("Sigmoid", [x])])
    raise ValueError(f"{where}: activation {name!r} has no ONNX export; supported: linear, "
                     f"softmax, log_softmax, leaky_relu, hard_sigmoid, silu, {sorted(simple)}.")


def _rnn_weights(layer) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``W (dirs, gu, D)``, ``R (dirs, gu, u)``, ``B (dirs, 2gu)`` in ONNX layout."""
    ws, rs, bs = [], [], []
    kind = _kind(layer)
    for part in _directions(layer):
        cell = part.cell
        kernel, rk = cell.kernel.numpy(), cell.recurrent_kernel.numpy()  # (D, gu), (u, gu)
        if kind == "LSTM":
            def order(a):  # (..., 4u) [i, f, c, o] -> (..., 4u) [i, o, f, c]
                blocks = np.split(a, 4, axis=-1)
                return np.concatenate([blocks[j] for j in _LSTM_KERAS_TO_ONNX], axis=-1)

            bias = None if cell.bias is None else np.concatenate(
                [order(cell.bias.numpy()), np.zeros(kernel.shape[1], np.float32)])  # (8u,)
        else:
            def order(a):
                return a

            bias = None if cell.bias is None else cell.bias.numpy().reshape(-1)  # (6u,) | (3u,)
            if bias is not None and bias.size == kernel.shape[1]:  # reset_after=False
                bias = np.concatenate([bias, np.zeros_like(bias)])  # (6u,)
        ws.append(order(kernel).T)
        rs.append(order(rk).T)
        bs.append(bias)
    b = None if bs[0] is None else np.stack(bs).astype(np.float32)
    return np.stack(ws).astype(np.float32), np.stack(rs).astype(np.float32), b


def _rnn_node(g: _Graph, layer, x: str, lens: str | None, valid: str | None) -> str:
    """Emit one recurrent node for batch-major ``x``; returns the batch-major output name."""
    check_rnn_layer(layer, "ONNX")
    kind = _kind(layer)
    parts = _directions(layer)
    units, dirs = parts[0].cell.units, len(parts)
    w, r, b = _rnn_weights(layer)
    inputs = [g.op("Transpose", [x], perm=[1, 0, 2]), g.const("W", w), g.const("R", r),
              "" if b is None else g.const("B", b), lens or ""]
    attrs = {"hidden_size": units, "direction": "bidirectional" if dirs == 2 else "forward"}
    if kind == "GRU":
        attrs["linear_before_reset"] = int(getattr(parts[0].cell, "reset_after", True))
    y, y_h = g.op(kind, inputs, n_out=2, **attrs)  # (T, dirs, B, u), (dirs, B, u)
    return _merge(g, _batch_major(g, layer, y, y_h, valid, dirs * units), layer, units)


def _batch_major(g: _Graph, layer, y: str, y_h: str, valid: str | None, width: int) -> str:
    """Keras's concatenated output from the node's ``Y``/``Y_h``, padded steps as Keras."""
    last = g.op("Reshape", [g.op("Transpose", [y_h], perm=[1, 0, 2]),
                            g.const("shape", np.array([0, width], np.int64))])  # (B, du)
    if not layer.return_sequences:
        if valid is not None:  # fully masked rows keep the zero initial state
            any_valid = g.op("ReduceMax", [valid], axes=[1], keepdims=0)  # (B, 1)
            last = g.op("Mul", [last, any_valid])
        return last
    seq = g.op("Reshape", [g.op("Transpose", [y], perm=[2, 0, 1, 3]),
                           g.const("shape", np.array([0, 0, width], np.int64))])
    if valid is None:
        return seq  # (B, T, du)
    zero = getattr(_directions(layer)[0], "zero_output_for_mask", False)
    if zero:
        return g.op("Mul", [seq, valid])  # (B, T, du)
    fill = g.op("Unsqueeze", [last, g.const("axes", np.array([1], np.int64))])  # (B, 1, du)
    keep = g.op("Cast", [valid], to=TensorProto.BOOL)
    return g.op("Where", [keep, seq, fill])


def _merge(g: _Graph, out: str, layer, units: int) -> str:
    """Apply a Bidirectional ``merge_mode`` other than concat to ``out (..., 2u)``."""
    mode = merge_mode(layer)
    if mode == "concat":
        return out
    fwd, bwd = g.op("Split", [out, g.const("split", np.array([units, units], np.int64))],
                    n_out=2, axis=-1)  # (..., u) each
    if mode == "mul":
        return g.op("Mul", [fwd, bwd])
    total = g.op("Add", [fwd, bwd])
    if mode == "ave":
        return g.op("Div", [total, g.const("two", np.array(2.0, np.float32))])
    return total


def _dims(shape) -> list:
    """Return ONNX dims: symbolic ``batch`` and ``time`` (any length), features as built."""
    dims = ["batch", *[d if d else f"d{i}" for i, d in enumerate(shape[1:], 1)]]
    if len(shape) == 3:
        dims[1] = "time"
    return dims


def check_padding(model, assume_right_padding: bool) -> None:
    """Refuse a model with a ``Masking`` layer unless the caller states right padding.

    The graph turns the mask into ``sequence_lens``, which is exact only when every row's valid
    steps come first; a file cannot raise at run time, so the user must promise it at export.

    Raises:
        ValueError: naming the layer and saying how to confirm right padding.

    """
    masking = [la for la in getattr(model, "layers", []) if isinstance(la, Masking)]
    if masking and not assume_right_padding:
        raise ValueError(
            f"Layer {masking[0].name!r} (Masking): the ONNX graph gives each row its first "
            "valid steps (sequence_lens), which equals Keras's masking only for RIGHT padding "
            "(pad_sequences(..., padding='post')); left padding or masked steps in the middle "
            "would give silently different outputs in the exported file. If every input of the "
            "file will be padded at the end only, pass assume_right_padding=True (CLI: "
            "--assume-right-padding); otherwise remove the padding before the model.")


def build_model(model: Sequential, opset: int = 17,
                assume_right_padding: bool = False) -> onnx.ModelProto:
    """Return the ONNX model for ``model`` (see the module docstring)."""
    check_padding(model, assume_right_padding)
    if not isinstance(model, Sequential) or not model.built:
        raise ValueError("to_onnx expects a built unrolled Sequential model; call "
                         "model.build((None, T, F)) or fit it first.")
    in_shape = model._input_batch_shape
    g = _Graph()
    x, lens, valid = "x", None, None
    model_layers = model.layers
    if model_layers and isinstance(model_layers[0], Masking):
        v = g.const("mask_value", np.array(model_layers[0].mask_value, np.float32))
        differs = g.op("Cast", [g.op("Not", [g.op("Equal", [x, v])])], to=TensorProto.FLOAT)
        valid = g.op("ReduceMax", [differs], axes=[2], keepdims=1)  # (B, T, 1)
        lens = g.op("Cast", [g.op("ReduceSum", [valid, g.const("axes", np.array([1, 2]))],
                                  keepdims=0)], to=TensorProto.INT32)  # (B,)
        x = g.op("Mul", [x, valid])
        model_layers = model_layers[1:]
    seen_rnn_end = False
    for layer in model_layers:
        if _kind(layer):
            if seen_rnn_end:
                raise ValueError(f"Layer {layer.name!r}: a recurrent layer after Dense/Activation "
                                 "is not exported; to_onnx handles [Masking] -> RNN... -> "
                                 "Dense/Activation...")
            x = _rnn_node(g, layer, x, lens, valid)
            if not layer.return_sequences:
                valid = None
        elif isinstance(layer, Dense):
            seen_rnn_end = True
            x = g.op("MatMul", [x, g.const("kernel", layer.kernel.numpy())])
            if layer.use_bias:
                x = g.op("Add", [x, g.const("bias", layer.bias.numpy())])
            x = _activation(g, activations.name_of(layer.activation), x, f"Layer {layer.name!r}")
        elif isinstance(layer, Activation):
            seen_rnn_end = True
            x = _activation(g, activations.name_of(layer.activation), x, f"Layer {layer.name!r}")
        else:
            raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) has no ONNX export; "
                             "to_onnx handles [Masking] -> LSTM/GRU/Bidirectional... -> "
                             "Dense/Activation...")
    out_shape = model._output_shape()
    g.nodes.append(helper.make_node("Identity", [x], ["y"], name="output"))
    graph = helper.make_graph(
        g.nodes, model.name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, _dims(in_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, _dims(out_shape))],
        g.inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="unrolled")
    proto.ir_version = min(proto.ir_version, 9)
    onnx.checker.check_model(proto)
    return proto


def to_onnx(model: Sequential, path, opset: int = 17, assume_right_padding: bool = False) -> str:
    """Write ``build_model(model)`` to ``path`` atomically; return the path."""
    if opset < 14:
        raise ValueError(f"opset {opset} is too old: the graph needs opset 14 or newer (17 by "
                         "default).")
    if opset >= 18:
        raise ValueError(f"opset {opset} is not supported yet (ReduceMax changed in 18); use "
                         "opset between 14 and 17.")
    data = build_model(model, opset, assume_right_padding).SerializeToString()
    atomic_write(path, data)
    return os.fspath(path)
