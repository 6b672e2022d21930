"""Optimizers, losses, metrics, callbacks and the jitted training loop."""

from unrolled.training.callbacks import Callback, History, ProgbarLogger
from unrolled.training.trainer import NaNLossError, Trainer

__all__ = ["Callback", "History", "NaNLossError", "ProgbarLogger", "Trainer"]
