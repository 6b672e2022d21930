"""Optimizers with Keras 3's formulas: ``unrolled.optimizers.Adam(learning_rate=1e-3)``.

``unrolled.optimizers.schedules`` holds the learning-rate schedules.
"""

from unrolled.training import schedules
from unrolled.training.optimizers import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    Optimizer,
    OptState,
    RMSprop,
    get,
)

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "OptState", "Optimizer", "RMSprop", "get",
           "schedules"]
