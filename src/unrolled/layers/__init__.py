"""Keras-style layers: ``from unrolled import layers`` reads like ``from keras import layers``."""

from unrolled.layers.base import KerasTensor, Layer, clear_session
from unrolled.layers.batch_normalization import BatchNormalization
from unrolled.layers.bidirectional import Bidirectional
from unrolled.layers.conv import Conv1D, Conv2D, Conv3D
from unrolled.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from unrolled.layers.core import Activation, Dense, Input, InputLayer, Masking
from unrolled.layers.embedding import Embedding
from unrolled.layers.gru import GRU, GRUCell
from unrolled.layers.lstm import LSTM, LSTMCell
from unrolled.layers.merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
)
from unrolled.layers.normalization import LayerNormalization
from unrolled.layers.pooling import GlobalAveragePooling1D, GlobalMaxPooling1D
from unrolled.layers.regularization import Dropout, SpatialDropout1D
from unrolled.layers.reshaping import Flatten, RepeatVector
from unrolled.layers.rnn import RNN
from unrolled.layers.simple_rnn import SimpleRNN, SimpleRNNCell
from unrolled.layers.stacked import StackedRNNCells
from unrolled.layers.time_distributed import TimeDistributed
from unrolled.layers.variables import Variable
from unrolled.saving import object_registration

_NON_RECURRENT = (
    Add, Average, Concatenate, Conv1D, Dropout, Embedding, Flatten, GlobalAveragePooling1D,
    GlobalMaxPooling1D, LayerNormalization, Maximum, Minimum, Multiply, RepeatVector,
    SpatialDropout1D, Subtract, TimeDistributed,
)
_RECURRENT = (GRU, GRUCell, SimpleRNN, SimpleRNNCell, StackedRNNCells, Bidirectional)
_CONVOLUTIONAL = (BatchNormalization, Conv2D, Conv3D, ConvLSTM1D, ConvLSTM2D, ConvLSTM3D)
# Adding a layer: define it in its own module, import it above and list it here.
object_registration.register_all(
    "layers", (InputLayer, Masking, Dense, Activation, LSTM, LSTMCell, RNN, *_NON_RECURRENT,
               *_RECURRENT, *_CONVOLUTIONAL))
object_registration.register_base("layers", Layer)


def get(name: str, custom_objects: dict | None = None) -> type[Layer]:
    """Return the layer class registered under a Keras class name (``"LSTM"``).

    Raises:
        ValueError: for an unknown name, listing the supported layers and the closest.

    """
    return object_registration.get_registered_object("layers", name, custom_objects)


__all__ = [
    "Activation", "Dense", "Input", "InputLayer", "KerasTensor", "LSTM", "LSTMCell", "Layer",
    "Masking", "RNN", "Variable", "clear_session", "get",
]
__all__ += [cls.__name__ for cls in _NON_RECURRENT]
__all__ += [cls.__name__ for cls in _RECURRENT]
__all__ += [cls.__name__ for cls in _CONVOLUTIONAL]

