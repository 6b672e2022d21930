"""unrolled: Keras-exact LSTM sequence models on JAX, fast and transparent.

``from unrolled import layers, models`` reads like ``from keras import layers, models``.
"""

from unrolled import (
    activations,
    callbacks,
    datasets,
    initializers,
    inspect,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    utils,
)
from unrolled.layers import Input
from unrolled.models import Model, Sequential

__version__ = "0.1.0"

__all__ = [
    "Input", "Model", "Sequential", "activations", "callbacks", "datasets", "initializers",
    "inspect", "layers", "losses", "metrics", "models", "optimizers", "utils", "__version__",
]
