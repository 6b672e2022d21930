"""Training callbacks with Keras's hooks."""

from unrolled.training.callbacks import Callback, History, ProgbarLogger

__all__ = ["Callback", "History", "ProgbarLogger"]
