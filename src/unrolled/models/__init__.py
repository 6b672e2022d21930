"""Models: `Sequential`, the functional `Model(inputs, outputs)`, and `load_model`."""

from unrolled.models.model import Model
from unrolled.models.saving import load_model
from unrolled.models.sequential import Sequential

__all__ = ["Model", "Sequential", "load_model"]
