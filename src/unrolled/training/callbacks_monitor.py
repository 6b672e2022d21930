"""Callbacks that watch a quantity or set the learning rate, rule for rule as Keras 3.

`EarlyStopping` and `ReduceLROnPlateau` compare as Keras's ``MonitorCallback`` does: in float32
(Keras calls ``ops.less``/``ops.greater`` on Python floats), with ``min_delta`` applied first.
`LearningRateScheduler` sets the rate at each epoch's start.
"""

from __future__ import annotations

import warnings

import numpy as np

from unrolled.training.callbacks_base import Callback

_UP_METRICS = ("acc", "accuracy", "auc", "precision", "recall")


class MonitorCallback(Callback):
    """Shared monitor logic (Keras's ``MonitorCallback``): mode, min_delta and improvement.

    ``mode="auto"`` minimises losses and errors and maximises accuracy, AUC, precision and
    recall; other quantities need ``mode="min"`` or ``"max"``.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", baseline=None,
                 min_delta: float = 0.0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{type(self).__name__}: mode must be 'auto', 'min' or 'max'; "
                             f"received {mode!r}.")
        self.monitor, self.mode, self.best = monitor, mode, baseline
        self.min_delta = abs(min_delta)
        self._sign = None  # +1: larger is better, -1: smaller is better

    def _set_direction(self) -> None:
        if self.mode != "auto":
            self._sign = 1 if self.mode == "max" else -1
            return
        name = self.monitor.removeprefix("val_")
        metrics = getattr(self.model, "_metrics", None) or []
        direction = next((getattr(m, "direction", None) for m in metrics if m.name == name),
                         None)
        if name == "loss" or direction == "down":
            self._sign = -1
        elif direction == "up" or name in _UP_METRICS or name.endswith("accuracy"):
            self._sign = 1
        else:
            raise ValueError(
                f"{type(self).__name__} received monitor={self.monitor!r}, but cannot tell "
                "whether it should be maximised or minimised. Pass mode='max' for the highest "
                "value or mode='min' for the lowest."
            )

    def _ensure_direction(self) -> None:
        if self._sign is None:
            self._set_direction()

    def _is_improvement(self, current, reference) -> bool:
        self._ensure_direction()
        if reference is None:
            return True
        # As Keras: the shifted value and the reference meet as float32 (ops.less/greater).
        if self._sign > 0:
            return bool(np.float32(current - self.min_delta) > np.float32(reference))
        return bool(np.float32(current + self.min_delta) < np.float32(reference))

    def _monitor_value(self, logs, what: str):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{what} conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs or {})}",
                          UserWarning, stacklevel=3)
        return value


class EarlyStopping(MonitorCallback):
    """Stop training when ``monitor`` has stopped improving, as ``keras.callbacks.EarlyStopping``.

    Args:
        monitor: quantity to watch (``"val_loss"``).
        min_delta: smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        verbose: print a line when stopping or restoring.
        mode: ``"auto"``, ``"min"`` or ``"max"``.
        baseline: training stops unless the quantity beats this value within ``patience``.
        restore_best_weights: at the end, go back to the weights of the best epoch.
        start_from_epoch: epochs to wait before watching.

    Example:
        >>> from unrolled import callbacks
        >>> stop = callbacks.EarlyStopping(monitor="loss", patience=3, restore_best_weights=True)

    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        if patience < 0 or start_from_epoch < 0:
            raise ValueError("EarlyStopping: `patience` and `start_from_epoch` must be "
                             f"non-negative; received {patience!r}, {start_from_epoch!r}.")
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best_weights = None

    def on_train_begin(self, logs=None):
        """Reset the counters."""
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best = None
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        """Count epochs without improvement; stop after ``patience`` of them."""
        self._ensure_direction()
        current = self._monitor_value(logs, "Early stopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        """Report and restore the best weights if asked."""
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving.

    The new rate reaches the compiled train step as data, so the step is not recompiled.

    Args:
        monitor: quantity to watch (``"val_loss"``).
        factor: multiplier in (0, 1).
        patience: epochs without improvement before reducing.
        verbose: print a line on each reduction.
        mode: ``"auto"``, ``"min"`` or ``"max"``.
        min_delta: smallest change that counts as an improvement (1e-4).
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: lower bound on the learning rate.

    Example:
        >>> from unrolled import callbacks
        >>> reduce = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2)

    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta=min_delta)
        if not 0.0 < factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: `factor` must be in (0, 1); received "
                             f"factor={factor!r}.")
        self.factor, self.patience, self.verbose = factor, patience, verbose
        self.cooldown, self.min_lr = cooldown, min_lr
        self.cooldown_counter = self.wait = 0

    def on_train_begin(self, logs=None):
        """Reset the counters."""
        self.best, self.cooldown_counter, self.wait = None, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        """Log ``learning_rate``; reduce it after ``patience`` epochs without improvement."""
        self._ensure_direction()
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = self._monitor_value(logs, "Learning rate reduction")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(optimizer.learning_rate)
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                              f"to {new_lr}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch from ``schedule(epoch, lr)``.

    Args:
        schedule: ``schedule(epoch, lr) -> float`` with the 0-based epoch and the current rate
            (a one-argument ``schedule(epoch)`` works too, as in Keras).
        verbose: print the new rate at each epoch.

    Raises:
        ValueError: at an epoch's start, if ``schedule`` returns anything but a float.

    Example:
        >>> from unrolled import callbacks
        >>> def schedule(epoch, lr):
        ...     return lr if epoch < 10 else lr * 0.9
        >>> cb = callbacks.LearningRateScheduler(schedule, verbose=0)

    """

    def __init__(self, schedule, verbose: int = 0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: `schedule` must be a function "
                            f"schedule(epoch, lr) -> float; received {schedule!r}.")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        """Set the optimizer's rate to ``schedule(epoch, current rate)``."""
        optimizer = self.model.optimizer
        try:
            lr = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:  # the old one-argument schedule(epoch), as Keras allows
            lr = self.schedule(epoch)
        if not isinstance(lr, (float, np.float32, np.float64)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: "
                             f"{lr!r} at epoch {epoch}; return e.g. float(value).")
        optimizer.learning_rate = lr
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        """Log the rate as ``learning_rate``."""
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
