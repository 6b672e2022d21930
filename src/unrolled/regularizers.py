"""Keras 3 regularizers (``keras.regularizers``): ``L1``, ``L2``, ``L1L2``, ...

Use ``kernel_regularizer=unrolled.regularizers.L2(0.01)`` or the name ``"l2"``.
"""

from unrolled.layers.regularizers import (
    L1,
    L1L2,
    L2,
    OrthogonalRegularizer,
    Regularizer,
    deserialize,
    get,
    serialize,
)

l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

__all__ = ["L1", "L1L2", "L2", "OrthogonalRegularizer", "Regularizer", "deserialize", "get",
           "l1", "l1_l2", "l2", "orthogonal_regularizer", "serialize"]
