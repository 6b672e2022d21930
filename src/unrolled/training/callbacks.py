"""Callbacks with Keras's hooks and behaviour.

`History` records every epoch's logs; `EarlyStopping`, `ReduceLROnPlateau`, `ModelCheckpoint`,
`CSVLogger`, `TerminateOnNaN` and `LambdaCallback` follow ``keras.callbacks`` rule for rule
(monitor modes, ``min_delta``, patience counting, file formats).
"""

from __future__ import annotations

import collections
import csv
import os
import warnings

import numpy as np

from unrolled.training.progbar import Progbar


class Callback:
    """Base class; override any ``on_*`` hook. ``self.model`` is set before training starts.

    Example:
        >>> from unrolled import callbacks
        >>> class Print(callbacks.Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         print(epoch, logs["loss"])

    """

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        """Attach the model being trained."""
        self.model = model

    def set_params(self, params: dict) -> None:
        """Receive ``{"epochs", "steps", "verbose"}``."""
        self.params = params

    def on_train_begin(self, logs=None):
        """Do nothing at train begin; override to act there."""
    def on_train_end(self, logs=None):
        """Do nothing at train end; override to act there."""
    def on_epoch_begin(self, epoch, logs=None):
        """Do nothing at epoch begin; override to act there."""
    def on_epoch_end(self, epoch, logs=None):
        """Do nothing at epoch end; override to act there."""
    def on_batch_begin(self, batch, logs=None):
        """Do nothing at batch begin; override to act there."""
    def on_batch_end(self, batch, logs=None):
        """Do nothing at batch end; override to act there."""
    def on_test_begin(self, logs=None):
        """Do nothing at test begin; override to act there."""
    def on_test_end(self, logs=None):
        """Do nothing at test end; override to act there."""
    def on_predict_begin(self, logs=None):
        """Do nothing at predict begin; override to act there."""
    def on_predict_end(self, logs=None):
        """Do nothing at predict end; override to act there."""

    def on_train_batch_begin(self, batch, logs=None):
        """Run before each training batch (calls the legacy `on_batch_begin`)."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """Run after each training batch with the epoch's running logs."""
        self.on_batch_end(batch, logs=logs)


class History(Callback):
    """Collects each epoch's logs: ``history.history["loss"]`` holds one float per epoch."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        """Start a new list of epochs."""
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        """Append this epoch's logs."""
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class ProgbarLogger(Callback):
    """Prints ``Epoch i/N`` and a live progress bar with loss, metrics and ETA."""

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream
        self.bar: Progbar | None = None

    def on_epoch_begin(self, epoch, logs=None):
        """Print the epoch header and start a bar."""
        verbose = self.params.get("verbose", 1)
        if verbose:
            print(f"Epoch {epoch + 1}/{self.params['epochs']}", file=self.stream, flush=True)
        self.bar = Progbar(self.params["steps"], verbose=verbose, stream=self.stream)

    def on_epoch_end(self, epoch, logs=None):
        """Finish the bar with the epoch's logs."""
        if self.bar is not None:
            self.bar.update(self.params["steps"], logs or {}, finalize=True)


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
        if self._sign > 0:
            return bool(np.greater(current - self.min_delta, reference))
        return bool(np.less(current + self.min_delta, reference))

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


class ModelCheckpoint(MonitorCallback):
    """Save the model (or its weights) after every epoch, or only when ``monitor`` improves.

    Args:
        filepath: a path ending in ``.keras`` (``.weights.h5`` with ``save_weights_only``); it
            may hold ``{epoch:02d}`` (1-based) and any log key, e.g. ``{val_loss:.2f}``.
        monitor: quantity for ``save_best_only``.
        verbose: print a line on each save.
        save_best_only: save only when ``monitor`` improves.
        save_weights_only: call ``model.save_weights`` instead of ``model.save``.
        mode: ``"auto"``, ``"min"`` or ``"max"``.
        save_freq: ``"epoch"`` or a number of batches.
        initial_value_threshold: the value ``monitor`` must beat for the first save.

    Example:
        >>> from unrolled import callbacks
        >>> ckpt = callbacks.ModelCheckpoint("ckpt/{epoch:02d}.weights.h5",
        ...                                  save_weights_only=True)

    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose, self.save_best_only = verbose, save_best_only
        self.save_weights_only, self.save_freq = save_weights_only, save_freq
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive number "
                             f"of batches; received {save_freq!r}.")
        ending = (".weights.h5",) if save_weights_only else (".keras", ".h5")
        if not self.filepath.endswith(ending):
            raise ValueError(
                f"ModelCheckpoint: with save_weights_only={save_weights_only} the filepath must "
                f"end in {' or '.join(ending)}; received filepath={self.filepath!r}."
            )
        self._batches_seen = 0
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        """Remember the epoch for batch-frequency saves."""
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        """Save every ``save_freq`` batches when it is an integer."""
        if self.save_freq == "epoch":
            return
        self._batches_seen += 1
        if self._batches_seen >= self.save_freq:
            self._batches_seen = 0
            self._save(self._epoch, batch, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        """Save at the end of the epoch (``save_freq="epoch"``)."""
        self._ensure_direction()
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def _path(self, epoch, batch, logs) -> str:
        extra = {} if batch is None or "batch" in logs else {"batch": batch + 1}
        try:
            return self.filepath.format(epoch=epoch + 1, **extra, **logs)
        except KeyError as exc:
            raise KeyError(f"ModelCheckpoint could not format the filepath {self.filepath!r}: "
                           f"no value for {exc} among the logs {sorted(logs)}.") from None

    def _save(self, epoch, batch, logs) -> None:
        path = self._path(epoch, batch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available; saving "
                              "anyway.", UserWarning, stacklevel=3)
            elif not self._is_improvement(current, self.best):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            else:
                self.best = current
        if os.path.isdir(path):
            raise OSError(f"ModelCheckpoint: {path!r} is an existing directory; give a file "
                          "path such as 'ckpt/model.keras'.")
        dirname = os.path.dirname(path)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saved model to {path}")


class CSVLogger(Callback):
    """Stream each epoch's logs to a CSV file in Keras's format.

    Columns: ``epoch`` then the sorted log keys; without validation keys, ``val_<key>``
    columns (filled with ``NA``) follow, as Keras writes them.

    Args:
        filename: the CSV file.
        separator: the field separator.
        append: append to an existing file (no second header) instead of overwriting.

    Example:
        >>> from unrolled import callbacks
        >>> log = callbacks.CSVLogger("training.csv", append=True)

    """

    def __init__(self, filename, separator: str = ",", append: bool = False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys = self.writer = self.csv_file = None
        self.append_header = True

    def on_train_begin(self, logs=None):
        """Open the file."""
        if self.append and os.path.exists(self.filename):
            with open(self.filename) as f:
                self.append_header = not bool(len(f.readline()))
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, "a" if self.append else "w",  # noqa: SIM115
                             newline="")
        self.writer = self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        """Write one row."""
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        if self.writer is None:
            sep = self.sep

            class Dialect(csv.excel):
                delimiter = sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch", *self.keys],
                                         dialect=Dialect)
            if self.append_header:
                self.writer.writeheader()
        row = collections.OrderedDict({"epoch": epoch})
        row.update((k, _csv_value(logs.get(k, "NA"))) for k in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        """Close the file."""
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


def _csv_value(value):
    if isinstance(value, str) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return value
    if isinstance(value, collections.abc.Iterable):
        return f'"[{", ".join(map(str, value))}]"'
    return value


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


_NO_INDEX_HOOKS = {"on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
                   "on_predict_begin", "on_predict_end"}


def _overrides(cb: Callback, *hooks: str) -> bool:
    for hook in hooks:
        fn = getattr(cb, hook)
        if getattr(fn, "__func__", fn) is not getattr(Callback, hook):
            return True
    return False


class CallbackList:
    """Dispatch hooks to several callbacks."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def wants_batch_logs(self) -> bool:
        """Whether any callback uses a per-batch hook (so logs must be fetched each batch)."""
        return any(_overrides(cb, "on_train_batch_end", "on_batch_end", "on_train_batch_begin",
                              "on_batch_begin") for cb in self.callbacks)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args, **kwargs):
            if "logs" not in kwargs:  # Keras passes logs (None by default) to every hook
                wanted = 1 if hook in _NO_INDEX_HOOKS else 2
                args = args + (None,) * (wanted - len(args))
            for cb in self.callbacks:
                getattr(cb, hook)(*args, **kwargs)

        return call
