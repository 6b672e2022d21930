"""Optimizers with Keras 3's formulas: ``unrolled.optimizers.Adam(learning_rate=1e-3)``."""

from unrolled.training.optimizers import Adam, Optimizer, get

__all__ = ["Adam", "Optimizer", "get"]
