"""Keras-style layers: ``from unrolled import layers`` reads like ``from keras import layers``."""

from unrolled.layers.base import KerasTensor, Layer, clear_session
from unrolled.layers.core import Activation, Dense, Input, InputLayer, Masking
from unrolled.layers.rnn import LSTM, RNN, LSTMCell
from unrolled.layers.variables import Variable

_REGISTRY = {
    cls.__name__: cls
    for cls in (InputLayer, Masking, Dense, Activation, LSTM, LSTMCell, RNN)
}


def get(name: str) -> type[Layer]:
    """Return the layer class registered under a Keras class name (``"LSTM"``).

    Raises:
        ValueError: for an unknown name, listing the supported layers.
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    raise ValueError(f"Unknown layer {name!r}. unrolled supports: {sorted(_REGISTRY)}.")


__all__ = [
    "Activation", "Dense", "Input", "InputLayer", "KerasTensor", "LSTM", "LSTMCell", "Layer",
    "Masking", "RNN", "Variable", "clear_session", "get",
]
