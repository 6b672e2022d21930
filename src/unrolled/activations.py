"""Activation functions by Keras 3 name."""

from unrolled.ops.activations import (
    elu,
    gelu,
    get,
    hard_sigmoid,
    leaky_relu,
    linear,
    log_softmax,
    names,
    softmax,
)

__all__ = ["elu", "gelu", "get", "hard_sigmoid", "leaky_relu", "linear", "log_softmax", "names",
           "softmax"]
