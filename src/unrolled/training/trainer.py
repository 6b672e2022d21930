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

import warnings

import numpy as np

from unrolled.layers.random import SeedGenerator
from unrolled.ops.compile import to_device
from unrolled.training import callbacks as callbacks_module
from unrolled.training import data, distributed, labels, streaming
from unrolled.training import epochs as epoch_loop
from unrolled.training.epochs import NaNLossError
from unrolled.training.steps import fresh_epoch_state, logs_of, make_eval_step, make_train_step


class Trainer:
    """A compiled model's training state: optimizer, losses, metrics, optimizer state, steps."""

    def __init__(self, optimizer, loss, metrics):
        self.optimizer, self.loss, self.metrics = optimizer, loss, metrics
        self.opt_state = None
        self.train_step = self.eval_step = None
        self._tx = self._opt_lr = None

    def prepare(self, spec, placed=None) -> None:
        """Create the optimizer state and the train step (once), and sync the learning rate.

        Under a distribution (``placed``, a `distributed.Placement`) the variables and the
        optimizer state are placed on its mesh and its train step is built.
        """
        if self.opt_state is None or self.train_step is None:
            self._tx = self.optimizer.transformation()
            self.opt_state = None if placed is not None else \
                self._tx.init([w.value for w in spec.trainable])
            self._opt_lr = self.optimizer._lr
            self.train_step = make_train_step(spec.forward, self.loss, self.metrics, self._tx,
                                              spec.loss_forward, spec.constraints)
        if placed is not None:
            placed.place_trainer(self, spec)
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
        placed = distributed.current(self)  # None without a distribution: the one-device path
        spec, feed, verbose, validation_data, val_batch_size = self._fit_data(
            model, x, y, batch_size, verbose, validation_split, validation_data, shuffle,
            class_weight, sample_weight, epochs, initial_epoch, steps_per_epoch,
            validation_steps, validation_batch_size, validation_freq, placed)
        self.prepare(spec, placed)
        history = callbacks_module.History()
        cbs = [*(callbacks or []), history]  # Keras runs History after the user's callbacks
        if verbose:
            cbs.append(callbacks_module.ProgbarLogger())
        history.params = params = {"verbose": verbose, "epochs": epochs, "steps": feed.steps}
        loop = epoch_loop.EpochLoop(self, model, spec, feed,
                                    callbacks_module.CallbackList(cbs, model, params), cbs, placed)
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
            if validation_data is not None and epoch_loop.should_eval(epoch, validation_freq):
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

    def _fit_data(self, model, x, y, batch_size, verbose, validation_split, validation_data,
                  shuffle, class_weight, sample_weight, epochs, initial_epoch, steps_per_epoch,
                  validation_steps, validation_batch_size, validation_freq, placed):
        """Check fit's arguments and data, build the model and resolve the metrics.

        Returns ``(spec, feed, verbose, validation data, validation batch size)``.
        """
        if validation_steps is not None and not streaming.is_stream(validation_data):
            raise ValueError("validation_steps applies to a generator, iterable or PyDataset "
                             "validation_data; with arrays leave it None.")
        if streaming.is_stream(x):
            streaming.check_stream_arguments("fit", y, batch_size, sample_weight, class_weight)
            if validation_split:
                raise ValueError("fit: validation_split needs arrays (it holds out their last "
                                 "samples); with a generator or PyDataset pass validation_data.")
            verbose = epoch_loop.check_fit_arguments(
                x, True, None, verbose, None, None, validation_freq, steps_per_epoch, None,
                epochs, initial_epoch, streamed=True)[1]
            feed = streaming.StreamFeed(model, x, steps_per_epoch, "fit", self.loss,
                                        class_weight, placed)
            spec = feed.spec  # builds an unbuilt model from the first batch, on this thread
            fx, fy, _, _ = feed.checked(feed.first_batch())
            self._resolve_metrics(fy, feed.output_shapes(fx))
            batch_size = 32  # validation arrays' default batch size, as Keras
        else:
            batch_size, verbose = epoch_loop.check_fit_arguments(
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
            if placed is not None:  # a short batch padded to the replicas is the same batch
                batch_size = placed.check_batch_size(
                    placed.round_up(batch_size) if batch_size == x.shape[0] else batch_size,
                    "fit")
            feed = epoch_loop.ArrayFeed((x, y, sw), batch_size, shuffle, placed,
                                        spec.row_losses)
        if epochs <= initial_epoch:
            warnings.warn(f"fit: epochs={epochs} <= initial_epoch={initial_epoch}, so nothing "
                          "trains (epochs is the index of the last epoch, not a count); pass "
                          f"epochs > {initial_epoch}.", UserWarning, stacklevel=4)
        return spec, feed, verbose, validation_data, val_batch_size

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
        batch_size = data.evaluation_batch_size(data.check_batch_size(batch_size, "evaluate"), n)
        placed = distributed.current(self)
        if placed is not None:  # rows padded up to the replicas weigh 0: the same totals
            return self._evaluate_batches(spec, placed.array_batches(
                (x, y, sw), np.arange(n), placed.round_up(batch_size)), placed)
        idx, valid = data.batches(n, batch_size, np.arange(n))
        return self._evaluate_batches(
            spec, (epoch_loop.rows((x, y, sw), idx[b], valid[b], spec.row_losses)
                   for b in range(idx.shape[0])))

    def evaluate_stream(self, model, source, steps) -> dict[str, float]:
        """Return the loss and metrics over the batches of a generator, iterable or PyDataset."""
        placed = distributed.current(self)
        feed = streaming.StreamFeed(model, source, steps, "evaluate", self.loss, None, placed)
        spec = feed.spec
        fx, fy, _, _ = feed.checked(feed.first_batch())
        self._resolve_metrics(fy, feed.output_shapes(fx))
        return self._evaluate_batches(spec, feed.epoch(), placed)

    def _evaluate_batches(self, spec, batches, placed=None) -> dict[str, float]:
        if placed is not None:
            step = placed.eval_step(self, spec)
        else:
            if self.eval_step is None:
                self.eval_step = make_eval_step(spec.forward, self.loss, self.metrics,
                                                spec.loss_forward)
            step = self.eval_step
        tv, ntv = epoch_loop.read_values(spec)
        es = fresh_epoch_state(self.metrics)
        for x, y, sw, valid in batches:
            es = step(tv, ntv, es, x, y, sw, valid)
        return logs_of(es, self.metrics)

    def train_on_batch(self, model, x, y, sample_weight=None) -> dict[str, float]:
        """One optimizer step on one batch; returns the logs of that batch."""
        spec, x, y, sw, shapes = self._data(model, x, y, sample_weight, None, "train_on_batch")
        self._resolve_metrics(y, shapes)
        self.prepare(spec)
        tv, ntv = epoch_loop.read_values(spec)
        es = fresh_epoch_state(self.metrics)
        key = SeedGenerator().next()
        tv, ntv, self.opt_state, es = self.train_step(
            tv, ntv, self.opt_state, es, x, y, sw, np.ones((x.shape[0],), np.float32), key)
        if bool(es["nan"]):
            raise NaNLossError("The training loss (or a weight after the update) is NaN or "
                               "infinite on this batch; the weights were left unchanged.")
        epoch_loop.write_values(spec, tv, ntv)
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
