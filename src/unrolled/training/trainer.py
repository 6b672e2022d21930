"""The `Trainer`: fit / evaluate / train_on_batch composed from training's parts.

A compiled model owns one `Trainer` (its optimizer, `CompileLoss`, `CompileMetrics`, optimizer
state and jitted steps). The trainer knows a model only through `ModelSpec` (``model.
_training_spec()``: a pure forward and plain data) and what every Keras model has: ``build``/
``built`` (fit builds an unbuilt model from the data), ``stop_training`` and ``history``; the
callbacks receive the model. Host work (checks, weights, batch plans) is in `data`/`labels`,
the jitted steps in `steps`. The last partial batch is padded to the batch size with row
weights 0, so an epoch never triggers a second compilation; loss and metric totals stay on the
device and are read back only when a progress bar redraws or an epoch ends; a non-finite loss
freezes the weights at the last finite batch and is reported with its epoch and batch.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from unrolled.layers.random import SeedGenerator, numpy_rng
from unrolled.ops.compile import to_device
from unrolled.training import callbacks as callbacks_module
from unrolled.training import data, labels, streaming
from unrolled.training.steps import fresh_epoch_state, logs_of, make_eval_step, make_train_step


class NaNLossError(FloatingPointError):
    """Raised when the training loss, or a weight after an update, becomes NaN or infinite."""


class Trainer:
    """A compiled model's training state: optimizer, losses, metrics, optimizer state, steps."""

    def __init__(self, optimizer, loss, metrics):
        self.optimizer, self.loss, self.metrics = optimizer, loss, metrics
        self.opt_state = None
        self.train_step = self.eval_step = None
        self._tx = self._opt_lr = None

    def prepare(self, spec) -> None:
        """Create the optimizer state and the train step (once), and sync the learning rate."""
        if self.opt_state is None or self.train_step is None:
            self._tx = self.optimizer.transformation()
            self.opt_state = self._tx.init([w.value for w in spec.trainable])
            self._opt_lr = self.optimizer._lr
            self.train_step = make_train_step(spec.forward, self.loss, self.metrics, self._tx,
                                              spec.loss_forward, spec.constraints)
        self.sync_learning_rate()

    def sync_learning_rate(self) -> None:
        """Copy a learning rate set on the optimizer (e.g. by a callback) into the opt state.

        The rate is data of the jitted step, so changing it never recompiles.
        """
        lr = self.optimizer._lr
        if lr is not None and lr != self._opt_lr:
            self.opt_state = self.opt_state._replace(learning_rate=to_device(lr, np.float32))
            self._opt_lr = lr

    def _data(self, model, x, y, sample_weight, class_weight, what: str):
        """Check ``x`` and ``y`` against the model (building it first if needed)."""
        if not model.built:
            model.build((None, *data.as_float_array(x, f"The input x passed to {what}").shape[1:]))
        spec = model._training_spec()
        x = data.check_inputs(x, spec, what)
        shapes = data.output_shapes(spec, x)
        y = labels.check_labels(y, x, shapes, self.loss.losses, spec.output_names,
                                spec.multi_output, what)
        if class_weight is not None:
            sw = labels.class_weight_to_sample_weight(y, class_weight)
        else:
            sw = labels.sample_weights(sample_weight, x.shape[0])
        return spec, x, y, sw, shapes

    def _resolve_metrics(self, y, shapes) -> None:
        arrays = y.arrays if isinstance(y, data.Arrays) else [y]
        self.metrics.resolve([(None, *a.shape[1:]) for a in arrays], shapes, self.loss)

    def fit(self, model, x=None, y=None, batch_size=None, epochs=1, verbose="auto",
            callbacks=None, validation_split=0.0, validation_data=None, shuffle=True,
            class_weight=None, sample_weight=None, initial_epoch=0, steps_per_epoch=None,
            validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train ``model`` (see `Model.fit` for the arguments); returns its `History`."""
        if validation_steps is not None and not streaming.is_stream(validation_data):
            raise ValueError("validation_steps applies to a generator, iterable or PyDataset "
                             "validation_data; with arrays leave it None.")
        if streaming.is_stream(x):
            streaming.check_stream_arguments("fit", y, batch_size, sample_weight, class_weight)
            if validation_split:
                raise ValueError("fit: validation_split needs arrays (it holds out their last "
                                 "samples); with a generator or PyDataset pass validation_data.")
            verbose = _check_fit_arguments(x, True, None, verbose, None, None, validation_freq,
                                           steps_per_epoch, None, epochs, initial_epoch,
                                           streamed=True)[1]
            feed = streaming.StreamFeed(model, x, steps_per_epoch, "fit", self.loss,
                                        class_weight)
            spec = feed.spec  # builds an unbuilt model from the first batch, on this thread
            fx, fy, _, _ = feed.checked(feed.first_batch())
            self._resolve_metrics(fy, feed.output_shapes(fx))
            batch_size = 32  # validation arrays' default batch size, as Keras
        else:
            batch_size, verbose = _check_fit_arguments(
                x, y, batch_size, verbose, class_weight, sample_weight, validation_freq,
                steps_per_epoch, validation_steps, epochs, initial_epoch)
            spec, x, y, sw, shapes = self._data(model, x, y, sample_weight, class_weight, "fit")
            if validation_data is None and validation_split:
                (x, y, sw), validation_data = data.split_validation(x, y, sw, validation_split)
                validation_split = "checked"
            if x.shape[0] == 0:
                raise ValueError("fit received 0 training samples.")
            self._resolve_metrics(y, shapes)
        if validation_data is not None and validation_split != "checked" and \
                not streaming.is_stream(validation_data):  # checked before epoch 1, not after
            validation_data = self._validation_data(model, validation_data)
        val_batch_size = batch_size if validation_batch_size is None else \
            data.check_batch_size(validation_batch_size, "fit (validation_batch_size)")
        if not streaming.is_stream(x):
            batch_size = min(batch_size, x.shape[0])  # as Keras: one short batch, not padded rows
            feed = _ArrayFeed((x, y, sw), batch_size, shuffle, spec.row_losses)
        if epochs <= initial_epoch:
            warnings.warn(f"fit: epochs={epochs} <= initial_epoch={initial_epoch}, so nothing "
                          "trains (epochs is the index of the last epoch, not a count); pass "
                          f"epochs > {initial_epoch}.", UserWarning, stacklevel=3)
        self.prepare(spec)
        history = callbacks_module.History()
        cbs = [*(callbacks or []), history]  # Keras runs History after the user's callbacks
        if verbose:
            cbs.append(callbacks_module.ProgbarLogger())
        history.params = params = {"verbose": verbose, "epochs": epochs, "steps": feed.steps}
        loop = _EpochLoop(self, model, spec, feed,
                          callbacks_module.CallbackList(cbs, model, params), cbs)
        model.stop_training = False
        model.history = history
        model._fit_seed_generator = loop.seeds  # the dropout keys' stream, for BackupAndRestore
        loop.callbacks.on_train_begin()
        # A callback may set the epoch to resume at (BackupAndRestore), as Keras's trainer reads
        # `_initial_epoch` after on_train_begin; each epoch reads the weights callbacks left.
        initial_epoch = getattr(model, "_initial_epoch", None) or initial_epoch
        model._initial_epoch = None
        for epoch in range(initial_epoch, epochs):
            loop.callbacks.on_epoch_begin(epoch)
            logs = loop.run(epoch, epochs)
            if validation_data is not None and _should_eval(epoch, validation_freq):
                if streaming.is_stream(validation_data):
                    val = self.evaluate_stream(model, validation_data, validation_steps)
                else:
                    val = self._evaluate_checked(spec, *validation_data, val_batch_size)
                logs.update({"val_" + k: v for k, v in val.items()})
            loop.callbacks.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        loop.callbacks.on_train_end()
        return history

    def evaluate_logs(self, model, x, y, sample_weight, batch_size: int) -> dict[str, float]:
        """Return the loss and metrics on ``(x, y)`` as Keras's logs."""
        spec, x, y, sw, shapes = self._data(model, x, y, sample_weight, None, "evaluate")
        if x.shape[0] == 0:
            raise ValueError("evaluate received 0 samples; there is nothing to evaluate.")
        self._resolve_metrics(y, shapes)
        return self._evaluate_checked(spec, x, y, sw, batch_size)

    def _validation_data(self, model, validation_data):
        """Check fit's ``validation_data`` as fit's own data; returns ``(x, y, sample_weight)``."""
        if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
            raise ValueError("fit: validation_data must be a tuple (x_val, y_val) or (x_val, "
                             "y_val, sample_weight_val); received "
                             f"{type(validation_data).__name__}"
                             + (f" of length {len(validation_data)}"
                                if isinstance(validation_data, (list, tuple)) else "") + ".")
        vx, vy, *vsw = validation_data
        _, vx, vy, vsw, _ = self._data(model, vx, vy, vsw[0] if vsw else None, None,
                                       "fit (validation_data)")
        if vx.shape[0] == 0:
            raise ValueError("fit: validation_data holds 0 samples; pass None to skip "
                             "validation.")
        return vx, vy, vsw

    def _evaluate_checked(self, spec, x, y, sw, batch_size) -> dict[str, float]:
        """Return the loss and metrics on checked arrays (metrics already resolved)."""
        n = x.shape[0]
        batch_size = data.check_batch_size(batch_size, "evaluate", n)
        idx, valid = data.batches(n, batch_size, np.arange(n))
        return self._evaluate_batches(
            spec, (_rows((x, y, sw), idx[b], valid[b], spec.row_losses)
                   for b in range(idx.shape[0])))

    def evaluate_stream(self, model, source, steps) -> dict[str, float]:
        """Return the loss and metrics over the batches of a generator, iterable or PyDataset."""
        feed = streaming.StreamFeed(model, source, steps, "evaluate", self.loss)
        spec = feed.spec
        fx, fy, _, _ = feed.checked(feed.first_batch())
        self._resolve_metrics(fy, feed.output_shapes(fx))
        return self._evaluate_batches(spec, feed.epoch())

    def _evaluate_batches(self, spec, batches) -> dict[str, float]:
        if self.eval_step is None:
            self.eval_step = make_eval_step(spec.forward, self.loss, self.metrics,
                                            spec.loss_forward)
        tv, ntv = read_values(spec)
        es = fresh_epoch_state(self.metrics)
        for x, y, sw, valid in batches:
            es = self.eval_step(tv, ntv, es, x, y, sw, valid)
        return logs_of(es, self.metrics)

    def train_on_batch(self, model, x, y, sample_weight=None) -> dict[str, float]:
        """One optimizer step on one batch; returns the logs of that batch."""
        spec, x, y, sw, shapes = self._data(model, x, y, sample_weight, None, "train_on_batch")
        self._resolve_metrics(y, shapes)
        self.prepare(spec)
        tv, ntv = read_values(spec)
        es = fresh_epoch_state(self.metrics)
        key = SeedGenerator().next()
        tv, ntv, self.opt_state, es = self.train_step(
            tv, ntv, self.opt_state, es, x, y, sw, np.ones((x.shape[0],), np.float32), key)
        if bool(es["nan"]):
            raise NaNLossError("The training loss (or a weight after the update) is NaN or "
                               "infinite on this batch; the weights were left unchanged.")
        write_values(spec, tv, ntv)
        self.optimizer.iterations = int(self.opt_state.iterations)
        return logs_of(es, self.metrics)

    def results(self, logs: dict[str, float], return_dict: bool):
        """Keras's return value: the logs, or ``[loss, *metrics]`` (a float without metrics)."""
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[m.name] for m in self.metrics.metrics]
        return values[0] if len(values) == 1 else values

    def compile_counts(self) -> dict[str, int]:
        """Compiled variants of the train and eval steps."""
        return {name: 0 if fn is None else fn._cache_size()
                for name, fn in (("train", self.train_step), ("eval", self.eval_step))}


def _rows(arrays, idx, valid, row_losses):
    """One batch ``(x, y, sw, valid)``; a padded one runs short where added losses see rows.

    An activity regularizer (or a loss added in ``call``) is a function of the batch's rows, so
    padding rows would change it: then the last batch has only its real rows, as Keras's (one
    more compiled step). Asked lazily, after the first step traced the model's losses.
    """
    if valid[-1] == 0 and row_losses is not None and row_losses():
        keep = valid > 0
        idx, valid = idx[keep], valid[keep]
    return (*(a[idx] for a in arrays), valid)


class _ArrayFeed:
    """Arrays as one epoch's batches: a fresh shuffled plan every epoch, the last one padded."""

    def __init__(self, arrays, batch_size: int, shuffle: bool, row_losses=None):
        self.arrays, self.batch_size, self.shuffle = arrays, batch_size, shuffle
        self.n = arrays[0].shape[0]
        self.steps = math.ceil(self.n / batch_size)
        self.row_losses = row_losses

    def epoch(self):
        """Return the epoch's ``(x, y, sw, valid)`` batches (the order is drawn now)."""
        order = numpy_rng().permutation(self.n) if self.shuffle else np.arange(self.n)
        idx, valid = data.batches(self.n, self.batch_size, order)
        return (_rows(self.arrays, idx[b], valid[b], self.row_losses) for b in range(self.steps))


class _EpochLoop:
    """One fit's epochs: the feed's batches, the jitted steps and the per-batch callbacks."""

    def __init__(self, trainer, model, spec, feed, cblist, cbs):
        self.trainer, self.model, self.spec, self.feed = trainer, model, spec, feed
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
        tv, ntv = read_values(spec)  # weights and RNN states, as callbacks may have left them
        for b, (x, y, sw, valid) in enumerate(batches):
            if self.per_batch:
                self.callbacks.on_train_batch_begin(b)
            tv, ntv, t.opt_state, es = t.train_step(
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


def _check_fit_arguments(x, y, batch_size, verbose, class_weight, sample_weight,
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


def _should_eval(epoch: int, freq) -> bool:
    """Keras's rule: ``freq`` an int -> every ``freq`` epochs; a list -> those 1-based epochs."""
    if isinstance(freq, int):
        return (epoch + 1) % freq == 0
    return (epoch + 1) in freq
