"""Callbacks that write files: `ModelCheckpoint`, `CSVLogger` and `BackupAndRestore`."""

from __future__ import annotations

import collections
import csv
import json
import os
import shutil
import warnings

import numpy as np

from unrolled.distribution.placement import on_process_zero
from unrolled.layers.random import rng_state, set_rng_state
from unrolled.training.callbacks_base import Callback
from unrolled.training.callbacks_monitor import MonitorCallback


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


class BackupAndRestore(Callback):
    """Back up the training state so that an interrupted ``fit`` resumes where it stopped.

    At the end of every epoch (or every ``save_freq`` batches) the weights and optimizer state
    go to ``backup_dir/latest.weights.h5`` and the epoch count to ``training_metadata.json``, as
    Keras 3 writes them. A later ``fit`` with this callback on the same model loads them and
    starts at the saved epoch; a ``fit`` that completes deletes the backup.

    Unlike Keras, the metadata also holds the random state of the run (key
    ``unrolled_random_state``: the generator `fit` shuffles with and the stream of dropout
    keys), restored with the weights, so that a run resumed from an epoch backup gives the same
    weights and history as an uninterrupted one with ``shuffle=True`` and dropout too. A backup
    taken every ``save_freq`` batches restarts its epoch from the start (as Keras) with that
    epoch's data order.

    Args:
        backup_dir: a directory used only for this backup.
        save_freq: ``"epoch"`` or a number of batches between backups.
        double_checkpoint: keep the previous backup too (``*.bkp``) and fall back to it when
            the latest cannot be read.
        delete_checkpoint: delete ``backup_dir`` when training completes.

    Example:
        >>> import tempfile
        >>> from unrolled import callbacks
        >>> backup = callbacks.BackupAndRestore(backup_dir=tempfile.mkdtemp())

    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint: bool = False,
                 delete_checkpoint: bool = True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: empty `backup_dir`; pass a directory for the "
                             "backup files.")
        if save_freq != "epoch" and (not isinstance(save_freq, int) or save_freq <= 0
                                     or isinstance(save_freq, bool)):
            raise ValueError(f"BackupAndRestore: invalid save_freq={save_freq!r}; expected "
                             "'epoch' or a positive number of batches.")
        self.backup_dir, self.save_freq = os.fspath(backup_dir), save_freq
        self.double_checkpoint, self.delete_checkpoint = double_checkpoint, delete_checkpoint
        self._weights_path = os.path.join(self.backup_dir, "latest.weights.h5")
        self._metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._batches_since_save = self._last_batch = self._current_epoch = 0
        self._epoch_random_state = None

    def on_train_begin(self, logs=None):
        """Restore the weights, optimizer state and epoch of the last backup, if any."""
        if not getattr(self.model, "built", False):
            raise ValueError("BackupAndRestore: the model must be built before fit() so the "
                             "backup can be loaded into it; call model.build(input_shape) or "
                             "call it on a batch first.")
        try:
            self._load()
        except (OSError, ValueError):
            if not os.path.exists(self._weights_path + ".bkp"):
                raise
            shutil.copyfile(self._weights_path + ".bkp", self._weights_path)
            if os.path.exists(self._metadata_path + ".bkp"):
                shutil.copyfile(self._metadata_path + ".bkp", self._metadata_path)
            elif os.path.exists(self._metadata_path):
                os.remove(self._metadata_path)
            self._load()

    def _load(self) -> None:
        if os.path.exists(self._weights_path):
            self.model.load_weights(self._weights_path)
        if os.path.exists(self._metadata_path):
            with open(self._metadata_path) as f:
                metadata = json.load(f)
            epoch = metadata["epoch"]
            self.model._initial_epoch = epoch  # fit starts here (as Keras's trainer reads it)
            self._current_epoch = epoch
            if _RANDOM_KEY in metadata:
                _restore_random_state(self.model, metadata[_RANDOM_KEY])

    def on_epoch_begin(self, epoch, logs=None):
        """Remember the random state this epoch starts from (for backups within the epoch)."""
        self._epoch_random_state = _random_state(self.model)

    def on_train_batch_end(self, batch, logs=None):
        """Back up every ``save_freq`` batches when it is an integer."""
        if self.save_freq == "epoch":
            return
        self._batches_since_save += batch + 1 if batch <= self._last_batch else \
            batch - self._last_batch
        self._last_batch = batch
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        """Back up at the end of the epoch (``save_freq="epoch"``)."""
        self._current_epoch, self._last_batch = epoch + 1, 0
        self._epoch_random_state = _random_state(self.model)  # where epoch + 1 will start
        if self.save_freq == "epoch":
            self._save()

    def _save(self) -> None:
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            def keep_previous():
                for path in (self._weights_path, self._metadata_path):
                    if os.path.exists(path):
                        shutil.copyfile(path, path + ".bkp")

            on_process_zero(keep_previous)
        self.model.save_weights(self._weights_path, overwrite=True)  # process 0 writes
        metadata = {"epoch": self._current_epoch, "batch": self._last_batch,
                    _RANDOM_KEY: self._epoch_random_state}

        def write():
            with open(self._metadata_path, "w") as f:
                json.dump(metadata, f)

        on_process_zero(write)

    def on_train_end(self, logs=None):
        """Delete the backup: training completed."""
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            on_process_zero(lambda: shutil.rmtree(self.backup_dir))


# The random state a resumed run needs to shuffle and drop out as the uninterrupted run did: the
# generator fit draws each epoch's order from, and the fit's stream of dropout keys.
_RANDOM_KEY = "unrolled_random_state"


def _random_state(model) -> dict:
    seeds = getattr(model, "_fit_seed_generator", None)
    state = {"numpy": rng_state()}
    if seeds is not None:
        state["fit_seed_generator"] = seeds.get_state()
    return state


def _restore_random_state(model, state) -> None:
    if not isinstance(state, dict) or "numpy" not in state:
        raise ValueError(f"BackupAndRestore: the backup's {_RANDOM_KEY!r} is not a random state "
                         "unrolled wrote; delete the backup directory to start afresh.")
    set_rng_state(state["numpy"])
    seeds = getattr(model, "_fit_seed_generator", None)
    if seeds is not None and "fit_seed_generator" in state:
        seeds.set_state(state["fit_seed_generator"])
