"""PyTorch <-> unrolled: weight layouts, state dicts and a ready-to-run ``torch.nn.Module``.

Weight layouts (the only place in unrolled that knows PyTorch's):

* **LSTM.** Keras ``kernel (D, 4u)``, ``recurrent_kernel (u, 4u)``, ``bias (4u,)``, gate blocks
  ``[i | f | c | o]``. PyTorch ``weight_ih_l{k} (4u, D)``, ``weight_hh_l{k} (4u, u)`` with the
  same gate order ``i, f, g, o`` (``g`` is Keras's candidate ``c``), transposed, and TWO biases
  ``bias_ih_l{k}`` and ``bias_hh_l{k}`` that are always added together. Import sums them;
  export puts the whole Keras bias in ``bias_ih`` and zeros in ``bias_hh``.
* **GRU.** Keras ``kernel (D, 3u)`` blocks ``[z | r | h]`` and, with ``reset_after=True`` (the
  Keras 3 default, and the only variant PyTorch computes), ``bias (2, 3u)`` = input bias and
  recurrent bias. PyTorch's blocks are ``r, z, n``; both biases map one to one.
  Keras's ``reset_after=False`` has no PyTorch form and is refused.
* **Stacks and directions.** Layer ``k`` of a stack gets the suffix ``_l{k}``; the backward
  direction of a ``Bidirectional`` layer adds ``_reverse``. ``nn.LSTM(num_layers=2,
  bidirectional=True)`` is therefore two ``Bidirectional(LSTM(u, return_sequences=True))`` layers
  (``return_sequences=False`` on the last one when only the final state is wanted): torch feeds
  layer 1 the concatenated ``[forward | backward]`` outputs of layer 0, exactly what Keras's
  default ``merge_mode="concat"`` gives the next layer.
* **Merge modes.** PyTorch always concatenates the directions. For a Keras ``Bidirectional``
  with ``merge_mode`` ``"sum"``, ``"ave"`` or ``"mul"`` the module from `to_torch` applies that
  op to the two halves after the RNN, so such a layer ends its ``nn.LSTM``/``nn.GRU`` (the next
  recurrent layer starts a new one). ``merge_mode=None`` (two outputs) is refused.
* **Dense.** ``kernel (D, n)`` is ``nn.Linear.weight (n, D)`` transposed.

Masks and packed sequences. A Keras mask ``(B, T)`` says which steps a recurrent layer reads. When
every row's valid steps come first (right padding), the mask is fully described by the lengths
``mask.sum(1)``, and that is exactly what ``torch.nn.utils.rnn.pack_padded_sequence`` needs: the
packed run reads the first ``length`` steps of each row, so its final state equals Keras's state
at the last valid step. The module from `to_torch` does this: with a ``Masking`` layer it
computes the mask from the input, checks that it is right padding and packs; or pass
``lengths`` yourself. On the way back it reproduces Keras's outputs at padded steps (zeros with
``zero_output_for_mask``, otherwise the last valid output). A mask with holes (a masked step
between valid ones) or left padding cannot be expressed as lengths and is refused with an
error, as are layers PyTorch's RNN modules cannot compute: non-default activations, GRU with
``reset_after=False``, ``go_backwards`` outside ``Bidirectional``, ``return_state``, ``stateful``.
Dropout is a training-time feature and is not carried over (the module is for inference).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from unrolled import layers as layers_module
from unrolled.io.rnn_spec import _directions, _kind, check_rnn_layer, is_bidirectional, merge_mode
from unrolled.layers import Activation, Dense, Input, Masking
from unrolled.models import Sequential
from unrolled.ops import activations
from unrolled.saving.serialization_lib import deserialize_layer, serialize_layer

_TORCH_ACTIVATIONS = {"linear": nn.Identity, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
                      "relu": nn.ReLU, "softplus": nn.Softplus, "softsign": nn.Softsign,
                      "elu": nn.ELU, "selu": nn.SELU, "silu": nn.SiLU, "relu6": nn.ReLU6,
                      "softmax": lambda: nn.Softmax(dim=-1),
                      "log_softmax": lambda: nn.LogSoftmax(dim=-1)}
_GRU_KERAS_TO_TORCH = (1, 0, 2)  # torch block j takes Keras block [z, r, h][order[j]]


def _units(layer) -> int:
    return _directions(layer)[0].cell.units


def _use_bias(layer) -> bool:
    return _directions(layer)[0].cell.use_bias


# ---------------------------------------------------------------------- weight layouts
def _tensor(array) -> torch.Tensor:
    return torch.from_numpy(np.array(array, dtype=np.float32, copy=True))


def rnn_to_torch_arrays(kind: str, kernel, recurrent_kernel, bias):
    """Keras arrays -> ``(weight_ih, weight_hh, bias_ih, bias_hh)`` NumPy, PyTorch layout."""
    kernel = np.asarray(kernel, np.float32)
    rk = np.asarray(recurrent_kernel, np.float32)
    if kind == "LSTM":
        b_ih = None if bias is None else np.asarray(bias, np.float32)  # (4u,)
        b_hh = None if bias is None else np.zeros_like(b_ih)  # (4u,)
        return kernel.T.copy(), rk.T.copy(), b_ih, b_hh

    def reorder(a):  # (..., 3u) blocks [z, r, h] -> (..., 3u) blocks [r, z, n]
        blocks = np.split(a, 3, axis=-1)
        return np.concatenate([blocks[j] for j in _GRU_KERAS_TO_TORCH], axis=-1)

    bias = None if bias is None else np.asarray(bias, np.float32).reshape(2, -1)  # (2, 3u)
    return (reorder(kernel).T.copy(), reorder(rk).T.copy(),
            None if bias is None else reorder(bias[0]),
            None if bias is None else reorder(bias[1]))


def rnn_from_torch_arrays(kind: str, weight_ih, weight_hh, bias_ih, bias_hh):
    """PyTorch arrays -> Keras ``(kernel, recurrent_kernel, bias or None)`` NumPy arrays."""
    w_ih = np.asarray(weight_ih, np.float32)
    w_hh = np.asarray(weight_hh, np.float32)
    if kind == "LSTM":
        bias = None if bias_ih is None else (np.asarray(bias_ih, np.float32)
                                             + np.asarray(bias_hh, np.float32))
        return w_ih.T.copy(), w_hh.T.copy(), bias

    def reorder(a):  # (..., 3u) blocks [r, z, n] -> (..., 3u) blocks [z, r, h]
        r, z, n = np.split(a, 3, axis=-1)
        return np.concatenate([z, r, n], axis=-1)

    bias = None if bias_ih is None else np.stack(
        [reorder(np.asarray(bias_ih, np.float32)), reorder(np.asarray(bias_hh, np.float32))])
    return reorder(w_ih.T), reorder(w_hh.T), bias


def _stack_of(obj) -> list:
    """Return the RNN layers of a layer, a list of stacked layers or a model."""
    if isinstance(obj, Sequential):
        obj = [layer for layer in obj.layers if _kind(layer)]
    layer_list = list(obj) if isinstance(obj, (list, tuple)) else [obj]
    if not layer_list:
        raise ValueError("No LSTM, GRU or Bidirectional layer to convert.")
    for layer in layer_list:
        check_rnn_layer(layer)
        if not layer.built:
            raise ValueError(f"Layer {layer.name!r} is not built; build the model first (e.g. "
                             "model.build((None, T, F))).")
    kinds = {_kind(layer) for layer in layer_list}
    if len(kinds) > 1:
        raise ValueError(f"A PyTorch RNN stack has one cell type; received {sorted(kinds)}. "
                         "Convert each kind's layers separately.")
    for layer in layer_list[:-1]:
        if merge_mode(layer) != "concat":
            raise ValueError(
                f"Layer {layer.name!r} merges its directions with merge_mode="
                f"{layer.merge_mode!r} and feeds another layer of the stack; a multi-layer "
                "PyTorch RNN feeds each layer the concatenated directions. Convert the layers "
                "one at a time, or use merge_mode='concat'."
            )
    return layer_list


def _keys(k: int, reverse: bool, use_bias: bool) -> list[str]:
    suffix = f"_l{k}" + ("_reverse" if reverse else "")
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if use_bias else [])
    return [name + suffix for name in names]


def to_state_dict(obj) -> dict[str, torch.Tensor]:
    """Keras-layout weights of a stack -> an ``nn.LSTM``/``nn.GRU`` state dict (see module doc)."""
    out = {}
    for k, layer in enumerate(_stack_of(obj)):
        for d, part in enumerate(_directions(layer)):
            cell = part.cell
            arrays = rnn_to_torch_arrays(_kind(layer), cell.kernel.numpy(),
                                         cell.recurrent_kernel.numpy(),
                                         None if cell.bias is None else cell.bias.numpy())
            for key, arr in zip(_keys(k, d == 1, cell.use_bias), arrays, strict=False):
                out[key] = _tensor(arr)
    return out


def load_state_dict(obj, state_dict) -> None:
    """Set a built stack's weights from an ``nn.LSTM``/``nn.GRU`` state dict (tensors or arrays).

    Raises:
        ValueError: for missing or unexpected keys, or a shape that does not fit the layer.

    """
    stack = _stack_of(obj)
    state = {k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v))
             for k, v in dict(state_dict).items()}
    expected = [key for k, layer in enumerate(stack) for d in range(len(_directions(layer)))
                for key in _keys(k, d == 1, _use_bias(layer))]
    missing = [k for k in expected if k not in state]
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise ValueError(
            f"The state dict does not fit {len(stack)} {_kind(stack[0])} layer(s): missing keys "
            f"{missing}, unexpected keys {extra}. Expected exactly {expected} (a 'bias=False' "
            "module has no bias keys; layer k uses suffix _l{k}, the backward direction "
            "_reverse)."
        )
    updates = []  # every shape is checked before any weight changes
    for k, layer in enumerate(stack):
        for d, part in enumerate(_directions(layer)):
            keys = _keys(k, d == 1, _use_bias(layer))
            arrays = [state[key] for key in keys] + [None] * (4 - len(keys))
            try:
                values = [v for v in rnn_from_torch_arrays(_kind(layer), *arrays)
                          if v is not None]
            except ValueError as exc:  # e.g. a GRU gate axis not divisible by 3
                raise ValueError(f"The weights under {keys} do not fit together as "
                                 f"{_kind(layer)} weights: {exc}") from exc
            for var, value, key in zip(part.cell.weights, values, keys, strict=False):
                if tuple(value.shape) != var.shape:
                    raise ValueError(
                        f"{key} has shape {tuple(state[key].shape)}, which gives "
                        f"{tuple(value.shape)} for {var.path!r}; the layer expects {var.shape}."
                    )
            updates += zip(part.cell.weights, values, strict=True)
    for var, value in updates:
        var.assign(value)


# ------------------------------------------------------------------------- the module
class RNNBlock(nn.Module):
    """``nn.LSTM``/``nn.GRU`` (batch_first) plus Keras's output rules for padded steps."""

    def __init__(self, rnn: nn.Module, return_sequences: bool, zero_output_for_mask: bool,
                 merge_mode: str = "concat"):
        super().__init__()
        self.rnn = rnn
        self.return_sequences = return_sequences
        self.zero_output_for_mask = zero_output_for_mask
        self.merge_mode = merge_mode

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``x (B, T, F)``, optional right-padding ``lengths (B,)`` -> Keras's output."""
        return self._merge(self._run(x, lengths))

    def _merge(self, y: torch.Tensor) -> torch.Tensor:
        """Keras's Bidirectional merge of the ``[forward | backward]`` halves of ``y``."""
        if self.merge_mode == "concat":
            return y  # (..., dirs*u)
        fwd, bwd = y.chunk(2, dim=-1)  # (..., u) each
        if self.merge_mode == "sum":
            return fwd + bwd
        if self.merge_mode == "ave":
            return (fwd + bwd) / 2
        return fwd * bwd  # "mul"

    def _run(self, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        batch, steps = x.shape[0], x.shape[1]
        if lengths is None:
            seq, state = self.rnn(x)
        else:
            packed = nn.utils.rnn.pack_padded_sequence(
                x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
            seq, state = self.rnn(packed)
            seq, _ = nn.utils.rnn.pad_packed_sequence(seq, batch_first=True, total_length=steps)
        h_n = state[0] if isinstance(state, tuple) else state  # (layers*dirs, B, u)
        dirs = 2 if self.rnn.bidirectional else 1
        last = torch.cat(list(h_n[-dirs:]), dim=-1)  # (B, dirs*u)
        if lengths is None:
            return seq if self.return_sequences else last
        empty = (lengths == 0)[:, None]  # (B, 1): fully masked rows keep the zero state
        if not self.return_sequences:
            return torch.where(empty, torch.zeros_like(last), last)
        valid = torch.arange(steps, device=x.device)[None, :] < lengths[:, None]  # (B, T)
        fill = torch.zeros_like(last) if self.zero_output_for_mask else last
        fill = torch.where(empty, torch.zeros_like(fill), fill)
        return torch.where(valid[..., None], seq, fill[:, None, :].expand(batch, steps, -1))


class KerasSequential(nn.Module):
    """What `to_torch` returns: optional masking, RNN blocks, then ``nn.Linear``/activations.

    ``forward(x, lengths=None)``: ``x`` is batch-major ``(B, T, F)`` float32. With a
    ``mask_value`` (from a Keras ``Masking`` layer) the lengths come from the input and must
    describe right padding; pass ``lengths`` to give them directly.
    """

    def __init__(self, mask_value, blocks: list[nn.Module], head: list[nn.Module],
                 layer_configs: list):
        super().__init__()
        self.mask_value = mask_value
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(*head)
        self.layer_configs = layer_configs  # rebuilds the Keras model in from_torch

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Run the model; see the class docstring."""
        if lengths is None and self.mask_value is not None:
            keep = (x != self.mask_value).any(dim=-1)  # (B, T)
            lengths = keep.sum(dim=1)  # (B,)
            right = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]
            if not torch.equal(keep, right):
                rows = torch.nonzero((keep != right).any(dim=1)).flatten().tolist()
                raise ValueError(
                    f"Rows {rows[:10]} of the input are not right-padded: their mask (steps not "
                    f"all equal to {self.mask_value}) has holes or leading padding. PyTorch's "
                    "packed sequences only express right padding; move the padding to the end "
                    "(pad_sequences(..., padding='post')) or run the model in unrolled."
                )
        elif lengths is not None:
            lengths = torch.as_tensor(lengths, dtype=torch.int64, device=x.device)
        for block in self.blocks:
            x = block(x, lengths)
        return self.head(x)


def _torch_rnn(group: list, input_size: int) -> nn.Module:
    kind = _kind(group[0])
    cls = nn.LSTM if kind == "LSTM" else nn.GRU
    rnn = cls(input_size, _units(group[0]), num_layers=len(group), bias=_use_bias(group[0]),
              batch_first=True, bidirectional=is_bidirectional(group[0]))
    rnn.load_state_dict(to_state_dict(group))
    return rnn


def _groups(rnn_layers: list) -> list[list]:
    """Consecutive layers of the same kind, units, bias and direction share one torch RNN.

    A layer joins the previous one's group only when that one returns sequences and, if
    bidirectional, concatenates its directions (torch's multi-layer RNNs feed layer k+1 exactly
    that).
    """
    def sig(layer):
        return (_kind(layer), _units(layer), _use_bias(layer), type(layer).__name__)

    groups: list[list] = []
    for layer in rnn_layers:
        prev = groups[-1][-1] if groups else None
        if prev is not None and sig(prev) == sig(layer) and prev.return_sequences \
                and merge_mode(prev) == "concat":
            groups[-1].append(layer)
        else:
            groups.append([layer])
    return groups


def to_torch(model) -> KerasSequential:
    """Convert a built unrolled ``Sequential`` to an equivalent ``torch.nn.Module``.

    Supported: an optional leading ``Masking``, then LSTM/GRU/Bidirectional layers (consecutive
    ones of the same shape become one multi-layer ``nn.LSTM``/``nn.GRU``), then Dense and
    Activation layers. See the module docstring for what is refused.
    """
    if not isinstance(model, Sequential) or not model.built:
        raise ValueError("to_torch expects a built unrolled Sequential model; call "
                         "model.build((None, T, F)) or fit it first.")
    model_layers = model.layers
    mask_value = None
    if model_layers and isinstance(model_layers[0], Masking):
        mask_value = float(model_layers[0].mask_value)
        model_layers = model_layers[1:]
    rnn_layers = []
    while model_layers and _kind(model_layers[0]):
        check_rnn_layer(model_layers[0])
        rnn_layers.append(model_layers.pop(0))
    head, blocks = [], []
    for layer in model_layers:
        if isinstance(layer, Dense):
            linear = nn.Linear(layer.kernel.shape[0], layer.units, bias=layer.use_bias)
            with torch.no_grad():
                linear.weight.copy_(_tensor(layer.kernel.numpy().T))
                if layer.use_bias:
                    linear.bias.copy_(_tensor(layer.bias.numpy()))
            head += [linear, _torch_activation(layer.activation, layer.name)]
        elif isinstance(layer, Activation):
            head.append(_torch_activation(layer.activation, layer.name))
        else:
            raise ValueError(
                f"Layer {layer.name!r} ({type(layer).__name__}) cannot be converted here: "
                "to_torch handles [Masking] -> LSTM/GRU/Bidirectional... -> Dense/Activation..."
            )
    input_size = model._input_batch_shape[-1]
    for group in _groups(rnn_layers):
        rnn = _torch_rnn(group, input_size)
        last = group[-1]
        zero = getattr(_directions(last)[0], "zero_output_for_mask", False)
        merge = merge_mode(last)
        blocks.append(RNNBlock(rnn, last.return_sequences, bool(zero), merge))
        input_size = rnn.hidden_size * (2 if rnn.bidirectional and merge == "concat" else 1)
    configs = [serialize_layer(layer) for layer in model.layers]
    module = KerasSequential(mask_value, blocks, head, configs)
    module.input_shape = tuple(model._input_batch_shape[1:])
    return module.eval()


def _torch_activation(fn, layer_name: str) -> nn.Module:
    name = activations.name_of(fn)
    if name not in _TORCH_ACTIVATIONS:
        raise ValueError(f"Layer {layer_name!r}: activation {name!r} has no converter to "
                         f"PyTorch; supported: {sorted(_TORCH_ACTIVATIONS)}.")
    return _TORCH_ACTIVATIONS[name]()


# ------------------------------------------------------------------------ from torch
def _layer_from_config(entry: dict):
    return deserialize_layer(entry)


def from_torch(module: nn.Module, input_shape=None, *, mask_value: float | None = None,
               return_sequences: bool = False) -> Sequential:
    """Build an unrolled ``Sequential`` computing what a PyTorch module computes.

    Args:
        module: a `KerasSequential` from `to_torch` (its layers are rebuilt and its current
            torch weights read back), an ``nn.LSTM``/``nn.GRU`` or an ``nn.Linear``. An RNN
            with ``num_layers=n`` becomes ``n`` stacked layers (all but the last with
            ``return_sequences=True``); with ``bidirectional=True`` each is
            ``Bidirectional(LSTM/GRU(hidden_size, ...))`` with ``merge_mode="concat"``.
            ``batch_first`` does not matter: the model is batch-major ``(B, T, F)`` as Keras.
        input_shape: per-sample ``(T, F)`` (``T`` may be ``None``); default ``(None, input_size)``.
        mask_value: add ``Masking(mask_value)`` first (for right-padded inputs; then the model
            equals the RNN run on ``pack_padded_sequence`` of the valid lengths).
        return_sequences: for an ``nn.LSTM``/``nn.GRU``, return every step (its ``output``)
            instead of the last valid step's state (``h_n[-1]``, or
            ``cat(h_n[-2], h_n[-1])`` when bidirectional).

    Raises:
        ValueError: for modules or options with no Keras equivalent (``proj_size``, ...).

    """
    if isinstance(module, KerasSequential):
        layer_list = [_layer_from_config(entry) for entry in module.layer_configs]
        model = Sequential([Input(shape=module.input_shape), *layer_list])
        rnn_layers = [layer for layer in model.layers if _kind(layer)]
        for group, block in zip(_groups(rnn_layers), module.blocks, strict=True):
            load_state_dict(group, block.rnn.state_dict())
        linears = [m for m in module.head if isinstance(m, nn.Linear)]
        denses = [la for la in model.layers if isinstance(la, Dense)]
        for dense, linear in zip(denses, linears, strict=True):
            _set_dense(dense, linear)
        return model
    if isinstance(module, nn.Linear):
        model = Sequential([Input(shape=input_shape or (module.in_features,)),
                            Dense(module.out_features, use_bias=module.bias is not None)])
        _set_dense(model.layers[0], module)
        return model
    if not isinstance(module, (nn.LSTM, nn.GRU)):
        raise ValueError(f"from_torch converts nn.LSTM, nn.GRU, nn.Linear or a module made by "
                         f"to_torch; received {type(module).__name__}.")
    kind = "LSTM" if isinstance(module, nn.LSTM) else "GRU"
    if getattr(module, "proj_size", 0):
        raise ValueError("nn.LSTM with proj_size > 0 has no Keras equivalent.")
    cls = layers_module.get(kind)
    stack = []
    for k in range(module.num_layers):
        seq = return_sequences or k < module.num_layers - 1
        layer = cls(module.hidden_size, use_bias=module.bias, return_sequences=seq)
        stack.append(layers_module.Bidirectional(layer) if module.bidirectional else layer)
    first = [Masking(mask_value)] if mask_value is not None else []
    model = Sequential([Input(shape=input_shape or (None, module.input_size)), *first, *stack])
    load_state_dict(stack, module.state_dict())
    return model


def _set_dense(dense: Dense, linear: nn.Linear) -> None:
    values = [linear.weight.detach().cpu().numpy().T]
    if linear.bias is not None:
        values.append(linear.bias.detach().cpu().numpy())
    dense.set_weights(values)
