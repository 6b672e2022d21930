"""unrolled: Keras-exact LSTM sequence models on JAX, fast and transparent.

``from unrolled import layers, models`` reads like ``from keras import layers, models``.
"""

from unrolled.training.runtime import tune_allocator

tune_allocator()  # glibc malloc thresholds for XLA's temporaries; UNROLLED_TUNE_MALLOC=0: off

from unrolled import (  # noqa: E402
    activations,
    callbacks,
    datasets,
    distribution,
    initializers,
    inspect,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    utils,
)
from unrolled.layers import Input  # noqa: E402
from unrolled.models import Model, Sequential  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Input", "Model", "Sequential", "activations", "callbacks", "datasets", "distribution",
    "initializers", "inspect", "layers", "losses", "metrics", "models", "optimizers", "utils",
    "__version__",
]
