"""Take models to and from PyTorch and ONNX.

PyTorch and ONNX are optional: each function imports them when called and, when they are
missing, says which package to install. The weight layouts and what cannot be converted are
documented in `unrolled.io.torch_convert` and `unrolled.io.onnx_export`.

Example:
    >>> import numpy as np
    >>> from unrolled import convert, layers, models
    >>> model = models.Sequential([layers.Input(shape=(5, 3)), layers.Masking(0.0),
    ...                            layers.LSTM(4), layers.Dense(2)])
    >>> module = convert.to_torch(model)  # doctest: +SKIP
    >>> convert.to_onnx(model, "model.onnx")  # doctest: +SKIP

"""

from __future__ import annotations

import importlib
import os


def _torch_convert():
    try:
        torch_convert = importlib.import_module("unrolled.io.torch_convert")
    except ImportError as exc:
        if getattr(exc, "name", None) and not str(exc.name).startswith("torch"):
            raise
        raise ImportError(
            "PyTorch conversion needs PyTorch, which is not installed: pip install "
            "'unrolled[torch]' (or pip install torch)"
        ) from exc
    return torch_convert


def _onnx_export():
    try:
        onnx_export = importlib.import_module("unrolled.io.onnx_export")
    except ImportError as exc:
        if getattr(exc, "name", None) and not str(exc.name).startswith("onnx"):
            raise
        raise ImportError(
            "ONNX export needs the onnx package, which is not installed: pip install "
            "'unrolled[onnx]' (onnx, and onnxruntime to run the exported file)"
        ) from exc
    return onnx_export


def to_torch(model):
    """Return a ``torch.nn.Module`` that computes what ``model`` computes.

    Args:
        model: a built unrolled ``Sequential``: optional ``Masking`` first, then LSTM / GRU /
            Bidirectional layers, then Dense / Activation layers.

    Returns:
        A module whose ``forward(x, lengths=None)`` takes batch-major ``(B, T, F)`` float32
        tensors. Consecutive recurrent layers of the same shape become one multi-layer
        ``nn.LSTM`` / ``nn.GRU`` (``batch_first=True``; a ``Bidirectional`` stack one
        ``bidirectional=True`` module); masks become packed sequences. A ``Bidirectional``
        ``merge_mode`` of ``"sum"``, ``"ave"`` or ``"mul"`` is applied after its RNN module.

    Raises:
        ValueError: for what PyTorch cannot express (non-default activations, ``go_backwards``
            outside Bidirectional, GRU ``reset_after=False``, ``merge_mode=None``, ...); and at
            run time for inputs whose mask is not right padding.
        ImportError: when PyTorch is not installed.

    Example:
        >>> from unrolled import convert  # doctest: +SKIP
        >>> module = convert.to_torch(model)  # doctest: +SKIP
        >>> module(torch.zeros(2, 5, 3)).shape  # doctest: +SKIP
        torch.Size([2, 2])

    """
    return _torch_convert().to_torch(model)


def from_torch(module, input_shape=None, *, mask_value: float | None = None,
               return_sequences: bool = False):
    """Return an unrolled ``Sequential`` that computes what a PyTorch module computes.

    Args:
        module: an ``nn.LSTM`` / ``nn.GRU`` (any ``num_layers``, ``bidirectional``), an
            ``nn.Linear``, or a module returned by `to_torch`. ``num_layers=n`` becomes ``n``
            stacked layers (``return_sequences=True`` on all but the last); with
            ``bidirectional=True`` each is ``Bidirectional(LSTM/GRU(hidden_size))`` with
            ``merge_mode="concat"``, which is what torch feeds its next layer.
        input_shape: per-sample input shape ``(T, F)``; defaults to ``(None, input_size)``.
        mask_value: start the model with ``Masking(mask_value)`` for right-padded inputs.
        return_sequences: return every step's output instead of the last valid step's.

    Returns:
        A built ``Sequential``. For example ``nn.LSTM(3, 8, num_layers=2, bidirectional=True,
        batch_first=True)`` gives ``Input((None, 3)) -> Bidirectional(LSTM(8,
        return_sequences=True)) -> Bidirectional(LSTM(8))`` whose output equals
        ``torch.cat([h_n[-2], h_n[-1]], -1)``.

    Raises:
        ValueError: for modules with no Keras equivalent.
        ImportError: when PyTorch is not installed.

    """
    return _torch_convert().from_torch(module, input_shape, mask_value=mask_value,
                                       return_sequences=return_sequences)


def to_torch_state_dict(layers) -> dict:
    """Return the ``nn.LSTM`` / ``nn.GRU`` state dict of a recurrent layer or stack.

    Args:
        layers: a built LSTM / GRU / Bidirectional layer, a list of stacked ones (keys
            ``_l0``, ``_l1``, ...), or a ``Sequential`` (its recurrent layers, in order).

    Returns:
        ``{"weight_ih_l0": tensor (4u, D), "weight_hh_l0": (4u, u), "bias_ih_l0": (4u,),
        "bias_hh_l0": zeros (4u,), ...}`` for ``nn.LSTM(..., num_layers=len(layers))``; for a
        GRU ``(3u, ...)`` blocks ``r, z, n`` with Keras's two bias rows as ``bias_ih``/``bias_hh``;
        the backward direction of a ``Bidirectional`` layer under ``..._l{k}_reverse`` (load it
        into ``bidirectional=True``).

    Raises:
        ValueError: for layers PyTorch cannot compute (GRU ``reset_after=False``, ...), mixed
            LSTM/GRU stacks, or a non-concat ``Bidirectional`` feeding another layer.

    """
    return _torch_convert().to_state_dict(layers)


def from_torch_state_dict(layers, state_dict) -> None:
    """Set a built recurrent layer's (or stack's) weights from an ``nn.LSTM``/``nn.GRU`` state dict.

    The two PyTorch biases are summed into Keras's single LSTM bias (GRU keeps both rows);
    ``_reverse`` keys go to the backward direction of ``Bidirectional`` layers.

    Args:
        layers: as in `to_torch_state_dict`, already built.
        state_dict: a module's ``state_dict()`` (tensors or NumPy arrays).

    Raises:
        ValueError: for missing or unexpected keys and shapes that do not fit (the weights are
            left unchanged).

    """
    _torch_convert().load_state_dict(layers, state_dict)


def to_onnx(model, path: str | os.PathLike, *, opset: int = 17,
            assume_right_padding: bool = False) -> str:
    """Write ``model`` as an ONNX file that onnxruntime runs with the same outputs.

    Args:
        model: a built unrolled ``Sequential`` (optional ``Masking``, LSTM / GRU /
            Bidirectional layers, Dense / Activation layers).
        path: the file to write (atomically: a crash never leaves a partial file).
        opset: the ONNX opset (17 by default).
        assume_right_padding: required for a model with a ``Masking`` layer: confirms that
            every input the file will see is padded at the end only. The graph turns the mask
            into ONNX's ``sequence_lens`` (each row's first valid steps), which differs from
            Keras's masking for left padding or masked steps in the middle, and a graph cannot
            check its input.

    Returns:
        The path written. The graph has one input ``x`` ``(batch, T, F)`` and one output ``y``;
        a ``Masking`` layer's padding is turned into ``sequence_lens`` inside the graph.

    Raises:
        ValueError: for what ONNX cannot express (non-default activations, ...), and for a
            ``Masking`` model without ``assume_right_padding=True``.
        ImportError: when the onnx package is not installed.

    """
    return _onnx_export().to_onnx(model, path, opset=opset,
                                  assume_right_padding=assume_right_padding)


__all__ = ["from_torch", "from_torch_state_dict", "to_onnx", "to_torch", "to_torch_state_dict"]
