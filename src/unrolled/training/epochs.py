"""One fit's epochs: the batch feeds, the loop over them, and fit's argument rules.

A feed gives one epoch's ``(x, y, sw, valid)`` batches: `ArrayFeed` for arrays (a fresh
shuffled plan every epoch, the last batch padded with validity 0),
`training.streaming.StreamFeed` for generators and PyDatasets. `EpochLoop` runs them through
the jitted train step with the per-batch callbacks; a non-finite loss or weight freezes the
weights at the last finite batch and raises `NaNLossError` naming the epoch and batch.
"""

from __future__ import annotations

import math

import numpy as np

from unrolled.layers.random import SeedGenerator, numpy_rng
from unrolled.training import callbacks as callbacks_module
from unrolled.training import data
from unrolled.training.steps import fresh_epoch_state, logs_of


class NaNLossError(FloatingPointError):
    """Raised when the training loss, or a weight after an update, becomes NaN or infinite."""


def rows(arrays, idx, valid, row_losses):
    """One batch ``(x, y, sw, valid)``; a padded one runs short where added losses see rows.

    An activity regularizer (or a loss added in ``call``) is a function of the batch's rows, so
    padding rows would change it: then the last batch has only its real rows, as Keras's (one
    more compiled step). Asked lazily, after the first step traced the model's losses.
    """
    if valid[-1] == 0 and row_losses is not None and row_losses():
        keep = valid > 0
        idx, valid = idx[keep], valid[keep]
    return (*(a[idx] for a in arrays), valid)


class ArrayFeed:
    """Arrays as one epoch's batches: a fresh shuffled plan every epoch, the last one padded."""

    def __init__(self, arrays, batch_size: int, shuffle: bool, placed=None, row_losses=None):
        self.arrays, self.batch_size, self.shuffle = arrays, batch_size, shuffle
        self.n = arrays[0].shape[0]
        self.steps = math.ceil(self.n / batch_size)
        self.placed, self.row_losses = placed, row_losses

    def epoch(self):
        """Return the epoch's ``(x, y, sw, valid)`` batches (the order is drawn now)."""
        order = numpy_rng().permutation(self.n) if self.shuffle else np.arange(self.n)
        if self.placed is not None:  # global batches; process 0's order on every process
            order = self.placed.agree(order) if self.shuffle else order
            return self.placed.array_batches(self.arrays, order, self.batch_size)
        idx, valid = data.batches(self.n, self.batch_size, order)
        return (rows(self.arrays, idx[b], valid[b], self.row_losses) for b in range(self.steps))


class EpochLoop:
    """One fit's epochs: the feed's batches, the jitted steps and the per-batch callbacks."""

    def __init__(self, trainer, model, spec, feed, cblist, cbs, placed=None):
        self.trainer, self.model, self.spec, self.feed = trainer, model, spec, feed
        self.placed = placed
        self.step = trainer.train_step if placed is None else placed.steps["train"]
        self.callbacks = cblist
        self.bar_cb = next((c for c in cbs if isinstance(c, callbacks_module.ProgbarLogger)),
                           None)
        self.per_batch = cblist.wants_batch_logs()
        self.nan_stops = any(isinstance(c, callbacks_module.TerminateOnNaN) for c in cbs)
        self.seeds = SeedGenerator()

    def run(self, epoch: int, epochs: int) -> dict[str, float]:
        """Train one epoch; returns its logs."""
        t, spec, steps = self.trainer, self.spec, self.feed.steps
        t.sync_learning_rate()
        batches = self.feed.epoch()
        es = fresh_epoch_state(t.metrics)
        base_key = self.seeds.next()
        if self.placed is not None:
            base_key = self.placed.agree_key(base_key)
        tv, ntv = read_values(spec)  # weights and RNN states, as callbacks may have left them
        for b, (x, y, sw, valid) in enumerate(batches):
            if self.per_batch:
                self.callbacks.on_train_batch_begin(b)
            tv, ntv, t.opt_state, es = self.step(
                tv, ntv, t.opt_state, es, x, y, sw, valid, base_key)
            if self.per_batch:
                write_values(spec, tv, ntv)
                self.callbacks.on_train_batch_end(b, logs_of(es, t.metrics))
                t.sync_learning_rate()
                if self.model.stop_training:
                    break
                tv, ntv = read_values(spec)
            bar = None if self.bar_cb is None else self.bar_cb.bar  # new every epoch
            if bar is not None:
                if bar.due() and (steps is None or b + 1 < steps):
                    bar.update(b + 1, logs_of(es, t.metrics))
                bar.seen = b + 1  # the count an unknown-length epoch ends with
        write_values(spec, tv, ntv)
        t.optimizer.iterations = int(t.opt_state.iterations)
        if bool(es["nan"]) and not self.nan_stops:
            of = "" if steps is None else f" (of {steps})"
            raise NaNLossError(
                f"The training loss (or a weight after the update) became NaN or infinite at "
                f"epoch {epoch + 1} (of {epochs}), batch {int(es['nan_step']) + 1}{of}. "
                "Training stopped; the weights are those after the last finite batch. Check "
                "the inputs and labels for extreme values, lower the learning rate, or clip "
                "gradients (e.g. Adam(clipnorm=1.0))."
            )
        return logs_of(es, t.metrics)


def read_values(spec) -> tuple[list, list]:
    """Return the current values of the spec's trainable and non-trainable variables."""
    return [w.value for w in spec.trainable], [w.value for w in spec.non_trainable]


def write_values(spec, tv, ntv) -> None:
    """Store new values in the spec's variables (weights, then RNN states)."""
    for w, v in zip(spec.trainable, tv, strict=True):
        w._value = v
    for w, v in zip(spec.non_trainable, ntv, strict=True):
        w._value = v


def check_fit_arguments(x, y, batch_size, verbose, class_weight, sample_weight,
                         validation_freq, steps_per_epoch, validation_steps, epochs,
                         initial_epoch, streamed=False):
    """Keras's argument rules for `fit`; returns ``(batch_size, verbose)`` as ints."""
    for name, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"fit: {name} must be a non-negative integer (epochs is the index "
                             f"of the last epoch to train); received {name}={value!r}.")
    if class_weight is not None and sample_weight is not None:
        raise ValueError("fit: pass either `class_weight` or `sample_weight`, not both "
                         "(Keras rejects the combination too); fold the class weights into "
                         "sample_weight yourself to combine them.")
    ok = (isinstance(validation_freq, int) and not isinstance(validation_freq, bool)
          and validation_freq > 0) or (isinstance(validation_freq, (list, tuple))
                                       and all(isinstance(e, int) for e in validation_freq))
    if not ok:
        raise ValueError(f"validation_freq must be a positive int (validate every N epochs) or a "
                         f"list of 1-based epoch numbers; received {validation_freq!r}.")
    if steps_per_epoch is not None and not streamed:
        raise ValueError("steps_per_epoch applies to a generator, iterable or PyDataset x; "
                         "with arrays the data define the epoch, so leave it None.")
    if x is None or y is None:
        raise ValueError("fit needs both x and y arrays.")
    return data.check_batch_size(batch_size, "fit"), 1 if verbose == "auto" else int(verbose)


def should_eval(epoch: int, freq) -> bool:
    """Keras's rule: ``freq`` an int -> every ``freq`` epochs; a list -> those 1-based epochs."""
    if isinstance(freq, int):
        return (epoch + 1) % freq == 0
    return (epoch + 1) in freq
