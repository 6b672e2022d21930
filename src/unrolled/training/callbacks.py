"""Callbacks with Keras's hooks and behaviour (``keras.callbacks``'s names, all exported here).

`History` records every epoch's logs; `EarlyStopping`, `ReduceLROnPlateau`,
`LearningRateScheduler`, `ModelCheckpoint`, `CSVLogger`, `BackupAndRestore`, `TensorBoard`,
`TerminateOnNaN` and `LambdaCallback` follow ``keras.callbacks`` rule for rule (monitor modes,
``min_delta``, patience counting, file formats). Each family has its own module.
"""

from __future__ import annotations

import numpy as np

from unrolled.training.callbacks_base import (  # noqa: F401 - the trainer uses the private names
    _NO_INDEX_HOOKS,
    Callback,
    CallbackList,
    History,
    ProgbarLogger,
    _overrides,
)
from unrolled.training.callbacks_files import BackupAndRestore, CSVLogger, ModelCheckpoint
from unrolled.training.callbacks_monitor import (
    EarlyStopping,
    LearningRateScheduler,
    MonitorCallback,
    ReduceLROnPlateau,
)
from unrolled.training.callbacks_tensorboard import TensorBoard


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite, without raising.

    The weights stay those after the last finite batch; the epoch's logs show the NaN loss.

    Args:
        raise_error: raise a ``RuntimeError`` instead of stopping quietly.

    Example:
        >>> from unrolled import callbacks
        >>> stop = callbacks.TerminateOnNaN()

    """

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        """Stop (or raise) when the running loss is not finite."""
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: "
                                   f"{loss}. Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback built from plain functions, e.g. ``LambdaCallback(on_epoch_end=fn)``.

    Args:
        on_epoch_begin, on_epoch_end: ``fn(epoch, logs)``.
        on_train_begin, on_train_end: ``fn(logs)``.
        on_train_batch_begin, on_train_batch_end: ``fn(batch, logs)``.
        **kwargs: other hooks (e.g. ``on_batch_end``) or attributes to set.

    Example:
        >>> from unrolled import callbacks
        >>> losses = []
        >>> cb = callbacks.LambdaCallback(on_epoch_end=lambda e, logs: losses.append(logs["loss"]))

    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        self.__dict__.update(kwargs)
        hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                 "on_train_begin": on_train_begin, "on_train_end": on_train_end,
                 "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end}
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)


__all__ = ["BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping",
           "History", "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint",
           "MonitorCallback", "ProgbarLogger", "ReduceLROnPlateau", "TensorBoard",
           "TerminateOnNaN"]
