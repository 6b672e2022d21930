"""The callback machinery with Keras's hooks: `Callback`, `History`, `ProgbarLogger`, the list.

The callbacks users pass live beside it (``callbacks_monitor``, ``callbacks_files``,
``callbacks_tensorboard``) and are all exported by `unrolled.training.callbacks`.
"""

from __future__ import annotations

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
            self.bar.update(self.params["steps"], logs or {}, finalize=True)  # None: as seen


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
