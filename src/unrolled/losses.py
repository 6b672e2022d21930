"""Losses with Keras 3's names and reduction."""

from unrolled.training.losses import BinaryCrossentropy, Loss, binary_crossentropy, get

__all__ = ["BinaryCrossentropy", "Loss", "binary_crossentropy", "get"]
