"""compile / fit / evaluate / predict on JAX: one jitted step per (model, batch shape).

Each step receives one batch (gathered on the host by index). The last partial batch is padded
to the batch size (with row weights 0), so an epoch never triggers a second compilation. Loss and
metric totals accumulate on the device and are read back only when a progress bar redraws or an
epoch ends; a non-finite loss freezes the weights at the last finite batch and is reported with
its epoch and batch. `predict` groups several batches per call where rows are independent.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from unrolled.layers.random import SeedGenerator, numpy_rng
from unrolled.ops import losses as ops_losses
from unrolled.ops.compile import jit, to_device
from unrolled.training import callbacks as callbacks_module
from unrolled.training import losses as losses_module
from unrolled.training import metrics as metrics_module
from unrolled.training import optimizers as optimizers_module

# `predict` runs up to this many rows per compiled call when the model's rows are independent at
# inference: several batches at once. On the benchmark machine a 512-row call gave 1.29x the
# samples/s of 32-row calls (16 units) and 1.48x that of 64-row calls (128 units); BENCHMARKS.md.
# The outputs equal batch-by-batch calls to float32 rounding (a matmul over more rows may block
# its sums differently; tests/models/test_predict_batching.py).
PREDICT_ROWS = 512

class NaNLossError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite."""


def _as_float_array(a, what: str) -> np.ndarray:
    try:
        arr = np.asarray(a, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{what} must be numeric arrays (padded to equal length; see "
            f"unrolled.utils.pad_sequences); could not convert: {exc}"
        ) from None
    if arr.size and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        kind = "NaN" if np.isnan(arr[tuple(bad)]) else "inf"
        count = int(np.sum(~np.isfinite(arr)))
        raise ValueError(
            f"{what} contains {count} non-finite value(s) (first: {kind} at index "
            f"{tuple(int(i) for i in bad)}). Replace NaN/inf before training, e.g. pad with 0 and "
            "use a Masking(0.0) layer for missing steps."
        )
    return arr


class Trainer:
    """Mixin giving a model Keras's training API. The model provides `_stateless_forward`."""

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configure training: optimizer, loss and metrics (strings or objects).

        Args:
            optimizer: name (``"adam"``) or `unrolled.optimizers.Optimizer`.
            loss: name (``"binary_crossentropy"``), `unrolled.losses.Loss` or function.
            metrics: list of names (``["accuracy"]``), `Metric` objects or functions.
            loss_weights: not supported yet (must be None).
            weighted_metrics: not supported yet (must be None).
            run_eagerly: accepted for Keras compatibility; steps always run compiled.
            steps_per_execution: accepted for Keras compatibility; `fit` dispatches one batch
                per step (its host loop costs ~6% at the smallest benchmark size), `predict`
                groups batches itself (`PREDICT_ROWS`).
            jit_compile: accepted for Keras compatibility; steps are always jitted.
            auto_scale_loss: accepted for Keras compatibility (no mixed precision here).

        Raises:
            ValueError: for unknown names.

        """
        if loss_weights is not None or weighted_metrics is not None:
            raise ValueError("loss_weights and weighted_metrics are not supported yet.")
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = None if loss is None else losses_module.get(loss)
        metrics = [] if metrics is None else metrics
        if not isinstance(metrics, (list, tuple)):
            metrics = [metrics]
        for m in metrics:
            metrics_module.check_name(m)
        self._metric_ids = list(metrics)
        self._metrics: list | None = None
        self._opt_state = None
        self._train_fn = self._eval_fn = None
        self.compiled = True

    # ------------------------------------------------------------------ helpers
    def _require_compiled(self, what: str) -> None:
        if not getattr(self, "compiled", False) or self.loss is None:
            raise RuntimeError(
                f"You must call `model.compile(optimizer=..., loss=...)` before `{what}`."
            )

    def _coerce_x(self, x, what: str):
        """Return ``x`` as the model takes it (a multi-input functional model keeps a list)."""
        return _as_float_array(x, what)

    def _check_x(self, x, what: str) -> np.ndarray:
        x = _as_float_array(x, f"The input x passed to {what}")
        expected = self._expected_input_shape()
        if expected is not None:
            if x.ndim != len(expected):
                raise ValueError(
                    f"{what}: the model expects inputs of rank {len(expected)} with shape "
                    f"{_fmt(expected)}, but received x with shape {x.shape}. Sequence data is "
                    "(samples, timesteps, features)."
                )
            for i, (want, got) in enumerate(zip(expected, x.shape, strict=False)):
                if i > 0 and want is not None and want != got:
                    raise ValueError(
                        f"{what}: the model expects inputs of shape {_fmt(expected)}, but "
                        f"received x with shape {x.shape} (axis {i}: expected {want}, got {got})."
                    )
        return x

    def _check_y(self, y, x, what: str) -> np.ndarray:
        y = _as_float_array(y, f"The labels y passed to {what}")
        if y.shape[0] != x.shape[0]:
            raise ValueError(
                f"{what}: x has {x.shape[0]} samples but y has {y.shape[0]}; they must match."
            )
        out = (None, *self._output_shape()[1:])  # a stateful model fixes the batch axis
        y_shape = (None, *y.shape[1:])
        # A variable dimension of the output (e.g. time with Input(shape=(None, F))) takes the
        # labels' size there, so only dimensions the model fixes are checked.
        filled = [y_shape[i] if d is None and 0 < i < len(y_shape) else d
                  for i, d in enumerate(out)]
        t, p = jax.eval_shape(  # shapes only: nothing runs or compiles
            losses_module.squeeze_or_expand_to_same_rank,
            jax.ShapeDtypeStruct([1 if d is None else d for d in y_shape], jnp.float32),
            jax.ShapeDtypeStruct([1 if d is None else d for d in filled], jnp.float32))
        if self._sparse_loss():
            self._check_sparse_labels(y, out, what)
        elif t.shape != p.shape:
            raise ValueError(
                f"{what}: labels of shape {y.shape} do not fit the model's output shape "
                f"{_fmt(out)}. For a Dense({out[-1]}) output with "
                f"{getattr(self.loss, 'name', 'this loss')}, labels need shape "
                f"(samples, {', '.join(str(d) for d in out[1:])}) (one-hot for several classes, "
                "see unrolled.utils.to_categorical)."
            )
        return y

    def _check_sparse_labels(self, y: np.ndarray, out, what: str) -> None:
        """Keras's sparse rule: labels are the output shape without its class axis (or with 1)."""
        want = tuple(y.shape[1 + i] if d is None and 1 + i < y.ndim else d
                     for i, d in enumerate(out[1:-1]))
        if tuple(y.shape[1:]) not in (want, (*want, 1)):
            raise ValueError(
                f"{what}: {self.loss.name} needs integer class labels of shape "
                f"{_fmt((None, *want))} (or {_fmt((None, *want, 1))}) for the model's output "
                f"shape {_fmt(out)}; received labels of shape {y.shape}. For one-hot labels use "
                "categorical_crossentropy."
            )
        ignore = getattr(self.loss, "kwargs", {}).get("ignore_class")
        labels = y if ignore is None else y[y != ignore]
        n_classes = out[-1]
        bad = (labels != np.round(labels)) | (labels < 0)
        if n_classes is not None:
            bad |= labels >= n_classes
        if np.any(bad):
            raise ValueError(
                f"{what}: {self.loss.name} needs integer class labels in [0, {n_classes}) for a "
                f"{n_classes}-class output; found {labels[bad].ravel()[0]!r}. Relabel the classes "
                "as 0..n-1 (or pass ignore_class for a padding label)."
            )

    def _sparse_loss(self) -> bool:
        return getattr(self.loss, "sparse_labels", False)

    def _sample_weight(self, sample_weight, n: int) -> np.ndarray:
        if sample_weight is None:
            return np.ones((n,), np.float32)
        sw = _as_float_array(sample_weight, "sample_weight")
        if sw.shape[0] != n:
            raise ValueError(f"sample_weight has {sw.shape[0]} entries but x has {n} samples.")
        return sw

    def _ensure_metrics(self, y_shape) -> None:
        if self._metrics is None:
            out = self._output_shape()
            loss_name = getattr(self.loss, "name", None)
            self._metrics = [
                metrics_module.resolve(m, y_shape, out, loss_name) for m in self._metric_ids
            ]

    # --------------------------------------------------------- compiled steps
    def _loss_and_metrics(self, y, y_pred, out_mask, sw, valid, loss_obj=None):
        # loss_obj: one output's loss on a multi-output model (models/multi_output.py)
        loss_obj = self.loss if loss_obj is None else loss_obj
        values = loss_obj.call(y, y_pred)
        own = loss_obj.loss_mask(y, y_pred) if hasattr(loss_obj, "loss_mask") else None
        row = valid
        while row.ndim < values.ndim:
            row = row[..., None]
        mask = jnp.broadcast_to(row, values.shape)
        if out_mask is not None and out_mask.ndim <= values.ndim and values.ndim >= 2:
            om = out_mask.astype(values.dtype)
            while om.ndim < values.ndim:
                om = om[..., None]
            mask = mask * om
        if own is not None:
            mask = mask * jnp.broadcast_to(own, values.shape).astype(values.dtype)
        num, den = ops_losses.weighted_mean(values, sw, mask)
        loss = jnp.where(den > 0, num / jnp.where(den > 0, den, 1.0), 0.0)
        return loss

    def _metric_updates(self, states, y, y_pred, out_mask, sw, valid):
        # Keras weights compiled `metrics` by neither sample_weight nor class_weight (only
        # `weighted_metrics` would be); the padded rows of a partial batch are masked out.
        # `sw` is accepted (subclasses route it per output) but deliberately not applied here.
        mask = valid if out_mask is None else out_mask * valid[:, None]
        return [m.update(s, y, y_pred, None, mask)
                for m, s in zip(self._metrics, states, strict=True)]

    def _make_train_fn(self):
        tx = self._tx

        def step(tv, ntv, opt_state, es, x, y, sw, valid, key):
            sw = sw * valid
            key = jax.random.fold_in(key, es["step"])  # a fresh key per batch, derived on device

            def loss_fn(tv):
                y_pred, out_mask, new_ntv = self._stateless_forward(tv, ntv, x, True, key)
                loss = self._loss_and_metrics(y, y_pred, out_mask, sw, valid)
                return loss, (y_pred, out_mask, new_ntv)

            (loss, (y_pred, out_mask, new_ntv)), grads = jax.value_and_grad(
                loss_fn, has_aux=True)(tv)
            updates, new_opt = tx.update(grads, opt_state, tv)
            new_tv = optax.apply_updates(tv, updates)
            finite = jnp.isfinite(loss)
            ok = finite & ~es["nan"]
            keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)  # noqa: E731
            n_real = jnp.sum(valid)
            es = {
                "loss": (es["loss"][0] + loss * n_real, es["loss"][1] + n_real),
                "metrics": self._metric_updates(es["metrics"], y, y_pred, out_mask, sw, valid),
                "nan": es["nan"] | ~finite,
                "nan_step": jnp.where(~finite & ~es["nan"], es["step"], es["nan_step"]),
                "step": es["step"] + 1,
            }
            return keep(new_tv, tv), keep(new_ntv, ntv), keep(new_opt, opt_state), es

        return jit(step)

    def _make_eval_fn(self):
        def step(tv, ntv, es, x, y, sw, valid):
            sw = sw * valid
            y_pred, out_mask, _ = self._stateless_forward(tv, ntv, x, False, None)
            loss = self._loss_and_metrics(y, y_pred, out_mask, sw, valid)
            n_real = jnp.sum(valid)
            return {
                "loss": (es["loss"][0] + loss * n_real, es["loss"][1] + n_real),
                "metrics": self._metric_updates(es["metrics"], y, y_pred, out_mask, sw, valid),
                "nan": es["nan"], "nan_step": es["nan_step"], "step": es["step"] + 1,
            }

        return jit(step)

    def _make_predict_fn(self):
        def step(tv, ntv, x):
            y_pred, _, _ = self._stateless_forward(tv, ntv, x, False, None)
            return y_pred

        return jit(step)

    def _fresh_epoch_state(self):
        # host zeros: eager jnp.zeros would compile a program per dtype on the first fit
        zero = to_device(np.zeros((), np.float32))
        int_zero = to_device(np.zeros((), np.int32))
        return {"loss": (zero, zero), "metrics": [m.init() for m in self._metrics],
                "nan": to_device(np.zeros((), bool)), "nan_step": int_zero,
                "step": int_zero}

    def _logs(self, es, prefix: str = "") -> dict[str, float]:
        es = jax.device_get(es)
        total, count = es["loss"]
        logs = {prefix + "loss": float(total / count) if count else 0.0}
        for m, s in zip(self._metrics, es["metrics"], strict=True):
            logs[prefix + m.name] = float(m.result_of(s))
        return dict(sorted(logs.items()))

    @staticmethod
    def _batches(n: int, batch_size: int, order: np.ndarray):
        steps = max(1, math.ceil(n / batch_size))
        pad = steps * batch_size - n
        idx = np.concatenate([order, np.zeros(pad, order.dtype)]).reshape(steps, batch_size)
        valid = np.ones(steps * batch_size, np.float32)
        valid[n:] = 0.0
        return idx.astype(np.int32), valid.reshape(steps, batch_size)

    # ----------------------------------------------------------------- public
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns a `History` (Keras semantics).

        Args:
            x: inputs ``(N, T, F)``.
            y: labels fitting the output.
            batch_size: samples per step (default 32).
            epochs: index of the last epoch (training runs ``initial_epoch .. epochs-1``).
            verbose: 0 silent, 1 (or "auto") live progress bar, 2 one line per epoch.
            callbacks: list of `Callback`.
            validation_split: fraction of the LAST samples held out (before shuffling).
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``.
            shuffle: reshuffle the training samples every epoch.
            sample_weight: per-sample weights ``(N,)``.
            class_weight: ``{class index: weight}``; each sample weighs its class's entry
                (the integer label, or the argmax of a one-hot label), as Keras.
            validation_freq: validate every N epochs (int) or at these 1-based epochs (list).
            validation_batch_size: batch size for validation (default: ``batch_size``).
            steps_per_epoch: must be None (arrays define the epoch; no generators).
            validation_steps: must be None (as ``steps_per_epoch``).
            initial_epoch: epoch to start at (for resuming).

        Returns:
            `History` with ``history.history[key]`` lists per epoch.

        Raises:
            ValueError: for NaN/inf inputs or labels that don't fit the output.
            NaNLossError: when the loss becomes NaN or infinite (names epoch and batch).

        """
        self._require_compiled("fit")
        if class_weight is not None and sample_weight is not None:
            raise ValueError("fit: pass either `class_weight` or `sample_weight`, not both "
                             "(Keras rejects the combination too); fold the class weights into "
                             "sample_weight yourself to combine them.")
        _check_validation_freq(validation_freq)
        if steps_per_epoch is not None or validation_steps is not None:
            raise ValueError("steps_per_epoch/validation_steps need a generator; unrolled fits "
                             "arrays, so leave them None.")
        if x is None or y is None:
            raise ValueError("fit needs both x and y arrays.")
        batch_size = 32 if batch_size is None else int(batch_size)
        if batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer; received {batch_size}.")
        verbose = 1 if verbose == "auto" else int(verbose)
        x_np = self._coerce_x(x, "The input x passed to fit")
        if not getattr(self, "built", False):
            self.build((None, *x_np.shape[1:]))
        x_np = self._check_x(x_np, "fit")
        y_np = self._check_y(y, x_np, "fit")
        if class_weight is not None:
            sw_np = _class_weight_to_sample_weight(y_np, class_weight)
        else:
            sw_np = self._sample_weight(sample_weight, x_np.shape[0])
        if validation_data is None and validation_split:
            if not 0.0 < validation_split < 1.0:
                raise ValueError(f"validation_split must be in (0, 1); got {validation_split}.")
            split = int(math.floor(x_np.shape[0] * (1.0 - validation_split)))  # as Keras
            if split in (0, x_np.shape[0]):
                raise ValueError(
                    f"validation_split={validation_split} leaves no samples on one side of "
                    f"the split of {x_np.shape[0]} samples; use more data or another fraction."
                )
            validation_data = (x_np[split:], y_np[split:], sw_np[split:])
            x_np, y_np, sw_np = x_np[:split], y_np[:split], sw_np[:split]
        n = x_np.shape[0]
        if n == 0:
            raise ValueError("fit received 0 training samples.")
        self._ensure_metrics((None, *y_np.shape[1:]))
        self._prepare_optimizer()

        history = callbacks_module.History()
        cbs = [*(callbacks or []), history]  # Keras runs History after the user's callbacks
        if verbose:
            cbs.append(callbacks_module.ProgbarLogger())
        steps = math.ceil(n / batch_size)
        params = {"verbose": verbose, "epochs": epochs, "steps": steps}
        history.params = params
        cblist = callbacks_module.CallbackList(cbs, self, params)
        bar_cb = next((c for c in cbs if isinstance(c, callbacks_module.ProgbarLogger)), None)
        per_batch = cblist.wants_batch_logs()
        nan_stops = any(isinstance(c, callbacks_module.TerminateOnNaN) for c in cbs)

        seeds = SeedGenerator()
        self.stop_training = False
        self.history = history
        cblist.on_train_begin()
        # A callback may restore weights and the epoch to resume at (BackupAndRestore), as
        # Keras's trainer reads `_initial_epoch` after on_train_begin; read the weights after it.
        initial_epoch, self._initial_epoch = getattr(self, "_initial_epoch", None) or \
            initial_epoch, None
        tv = [w.value for w in self.trainable_weights]
        ntv = [w.value for w in self.non_trainable_weights]
        for epoch in range(initial_epoch, epochs):
            cblist.on_epoch_begin(epoch)
            self._sync_learning_rate()
            order = numpy_rng().permutation(n) if shuffle else np.arange(n)
            idx, valid = self._batches(n, batch_size, order)
            es = self._fresh_epoch_state()
            base_key = seeds.next()
            for b in range(steps):
                if per_batch:
                    cblist.on_train_batch_begin(b)
                i = idx[b]
                tv, ntv, self._opt_state, es = self._train_fn(
                    tv, ntv, self._opt_state, es, x_np[i], y_np[i], sw_np[i], valid[b],
                    base_key)
                if per_batch:
                    self._write_back(tv, ntv)
                    cblist.on_train_batch_end(b, self._logs(es))
                    self._sync_learning_rate()
                    if self.stop_training:
                        break
                if bar_cb is not None and bar_cb.bar.due() and b + 1 < steps:
                    bar_cb.bar.update(b + 1, self._logs(es))
            self._write_back(tv, ntv)
            self.optimizer.iterations = int(self._opt_iterations())
            if bool(es["nan"]) and not nan_stops:
                step = int(es["nan_step"])
                raise NaNLossError(
                    f"The training loss became NaN or infinite at epoch {epoch + 1} (of "
                    f"{epochs}), batch {step + 1} (of {steps}). Training stopped; the weights "
                    "are those after the last finite batch. Check the inputs and labels for "
                    "extreme values, lower the learning rate, or clip gradients "
                    "(e.g. Adam(clipnorm=1.0))."
                )
            logs = self._logs(es)
            if validation_data is not None and _should_eval(epoch, validation_freq):
                vx, vy, *vsw = validation_data
                val = self._evaluate_logs(vx, vy, vsw[0] if vsw else None,
                                          validation_batch_size or batch_size)
                logs.update({"val_" + k: v for k, v in val.items()})
            cblist.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cblist.on_train_end()
        return history

    def _write_back(self, tv, ntv) -> None:
        for w, v in zip(self.trainable_weights, tv, strict=True):
            w._value = v
        for w, v in zip(self.non_trainable_weights, ntv, strict=False):
            w._value = v

    def _opt_iterations(self):
        return self._opt_state.iterations

    def _sync_learning_rate(self) -> None:
        """Copy a learning rate set on the optimizer (e.g. by a callback) into the opt state.

        The rate is data of the jitted step, so changing it never recompiles.
        """
        lr = self.optimizer._lr
        if lr is not None and lr != self._opt_lr:
            self._opt_state = self._opt_state._replace(
                learning_rate=to_device(lr, np.float32))
            self._opt_lr = lr

    def _prepare_optimizer(self) -> None:
        if self._opt_state is None or self._train_fn is None:
            self._tx = self.optimizer.transformation()
            self._opt_state = self._tx.init([w.value for w in self.trainable_weights])
            self._opt_lr = self.optimizer._lr
            self._train_fn = self._make_train_fn()
        self._sync_learning_rate()

    def _evaluate_logs(self, x, y, sample_weight, batch_size):
        x_np = self._check_x(x, "evaluate")
        y_np = self._check_y(y, x_np, "evaluate")
        sw_np = self._sample_weight(sample_weight, x_np.shape[0])
        self._ensure_metrics((None, *y_np.shape[1:]))
        if self._eval_fn is None:
            self._eval_fn = self._make_eval_fn()
        n = x_np.shape[0]
        idx, valid = self._batches(n, batch_size, np.arange(n))
        tv = [w.value for w in self.trainable_weights]
        ntv = [w.value for w in self.non_trainable_weights]
        es = self._fresh_epoch_state()
        for b in range(idx.shape[0]):
            i = idx[b]
            es = self._eval_fn(tv, ntv, es, x_np[i], y_np[i], sw_np[i], valid[b])
        return self._logs(es)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """Return the loss and metrics on ``(x, y)``.

        A list ``[loss, *metrics]`` (a float with no metrics), or a dict with ``return_dict=True``.
        """
        self._require_compiled("evaluate")
        self._require_built("evaluate")
        logs = self._evaluate_logs(x, y, sample_weight, 32 if batch_size is None else batch_size)
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[m.name] for m in self._metrics]
        return values[0] if len(values) == 1 else values

    def _require_built(self, what: str) -> None:
        if not getattr(self, "built", False):
            raise ValueError(
                f"`{what}` was called on a model that has not been built, so its input shape "
                "and weights are unknown. Call `model.build(input_shape)` (e.g. "
                "model.build((None, 24, 1))), start the model with `Input(shape=...)` or "
                "`input_shape=` on the first layer, or call `fit` first."
            )

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Return the model's outputs for ``x`` as a NumPy array, batch by batch."""
        self._require_built("predict")
        x_np = self._check_x(x, "predict")
        batch_size = 32 if batch_size is None else int(batch_size)
        n = x_np.shape[0]
        if getattr(self, "_predict_fn", None) is None:
            self._predict_fn = self._make_predict_fn()
        batch_size = min(batch_size, max(n, 1))
        idx, _ = self._batches(n, batch_size, np.arange(n))
        tv = [w.value for w in self.trainable_weights]
        ntv = [w.value for w in self.non_trainable_weights]
        # Several batches per call where rows are independent (see PREDICT_ROWS): whole groups
        # of `per_call` batches first, then the rest one batch at a time, so at most two batch
        # shapes are ever compiled and a short input compiles only the one-batch shape.
        per_call = self._batches_per_predict_call(batch_size)
        grouped = (len(idx) // per_call) * per_call if per_call > 1 else 0
        chunks = [idx[s:s + per_call].reshape(-1) for s in range(0, grouped, per_call)]
        chunks += list(idx[grouped:])
        outs = [self._predict_fn(tv, ntv, x_np[i]) for i in chunks]
        if isinstance(outs[0], (list, tuple)):  # a model with several outputs: a list of arrays
            return [np.asarray(jnp.concatenate(parts, axis=0))[:n]
                    for parts in zip(*outs, strict=True)]
        return np.asarray(jnp.concatenate(outs, axis=0))[:n]

    def _batches_per_predict_call(self, batch_size: int) -> int:
        """How many batches one compiled predict call takes (1 unless rows are independent)."""
        if batch_size >= PREDICT_ROWS or not self._rows_are_independent():
            return 1
        return PREDICT_ROWS // batch_size

    def _rows_are_independent(self) -> bool:
        """Whether the inference forward treats every row on its own (the model decides)."""
        return False

    def train_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """One optimizer step on one batch; returns the loss (and metrics) on that batch."""
        self._require_compiled("train_on_batch")
        x_np = self._coerce_x(x, "The input x passed to train_on_batch")
        if not getattr(self, "built", False):
            self.build((None, *x_np.shape[1:]))
        x_np = self._check_x(x_np, "train_on_batch")
        y_np = self._check_y(y, x_np, "train_on_batch")
        sw_np = self._sample_weight(sample_weight, x_np.shape[0])
        self._ensure_metrics((None, *y_np.shape[1:]))
        self._prepare_optimizer()
        n = x_np.shape[0]
        tv = [w.value for w in self.trainable_weights]
        ntv = [w.value for w in self.non_trainable_weights]
        es = self._fresh_epoch_state()
        key = SeedGenerator().next()
        tv, ntv, self._opt_state, es = self._train_fn(
            tv, ntv, self._opt_state, es, x_np, y_np, sw_np, np.ones((n,), np.float32), key)
        if bool(es["nan"]):
            raise NaNLossError("The training loss is NaN or infinite on this batch; the weights "
                               "were left unchanged.")
        self._write_back(tv, ntv)
        self.optimizer.iterations = int(self._opt_iterations())
        logs = self._logs(es)
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[m.name] for m in self._metrics]
        return values[0] if len(values) == 1 else values

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """Loss (and metrics) on one batch, without updating weights."""
        return self.evaluate(x, y, batch_size=_num_samples(x), sample_weight=sample_weight,
                             return_dict=return_dict, verbose=0)

    def predict_on_batch(self, x):
        """Return the outputs for one batch."""
        return self.predict(x, batch_size=_num_samples(x), verbose=0)

    def compile_counts(self) -> dict[str, int]:
        """Return the number of compiled variants of each step (tests count recompilations)."""
        out = {}
        for name in ("_train_fn", "_eval_fn", "_predict_fn"):
            fn = getattr(self, name, None)
            out[name.strip("_").replace("_fn", "")] = 0 if fn is None else fn._cache_size()
        return out


def _fmt(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (
        ",)" if len(shape) == 1 else ")")



def _check_validation_freq(freq) -> None:
    ok = (isinstance(freq, int) and not isinstance(freq, bool) and freq > 0) or (
        isinstance(freq, (list, tuple)) and all(isinstance(e, int) for e in freq))
    if not ok:
        raise ValueError(f"validation_freq must be a positive int (validate every N epochs) or a "
                         f"list of 1-based epoch numbers; received {freq!r}.")


def _should_eval(epoch: int, freq) -> bool:
    """Keras's rule: ``freq`` an int -> every ``freq`` epochs; a list -> those 1-based epochs."""
    if isinstance(freq, int):
        return (epoch + 1) % freq == 0
    return (epoch + 1) in freq


def _class_weight_to_sample_weight(y: np.ndarray, class_weight: dict) -> np.ndarray:
    """Keras's mapping: each sample weighs ``class_weight[its class]``.

    The class is the label itself for integer labels ``(N,)``/``(N, 1)`` and the argmax of
    one-hot labels; like Keras, a class missing from the dict weighs 1.0 (with a warning here).
    """
    if not isinstance(class_weight, dict) or not all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in class_weight):
        raise ValueError("class_weight must be a dict mapping integer class indices to weights, "
                         f"e.g. {{0: 1.0, 1: 5.0}}; received {class_weight!r}.")
    if y.ndim > 2:
        raise ValueError(f"class_weight needs one label per sample, (N,), (N, 1) or one-hot "
                         f"(N, classes); received labels of shape {y.shape}. For per-step "
                         "labels pass sample_weight instead.")
    labels = y
    if y.ndim == 2:
        labels = np.argmax(y, axis=-1) if y.shape[-1] != 1 else y[:, 0]
    labels = np.round(labels).astype(np.int64)
    weights = np.array([float(class_weight.get(int(c), 1.0)) for c in labels], np.float32)
    missing = sorted(set(np.unique(labels).tolist()) - {int(k) for k in class_weight})
    if missing:
        import warnings

        warnings.warn(f"class_weight has no entry for class(es) {missing} present in the labels; "
                      "those samples get weight 1.0 (as in Keras). Add them to class_weight to "
                      "silence this warning.", UserWarning, stacklevel=3)
    return weights


def _num_samples(x) -> int:
    """Return the number of samples in ``x`` (an array or a list/tuple/dict of arrays)."""
    if isinstance(x, dict):
        x = list(x.values())
    if isinstance(x, (list, tuple)):
        return len(x[0])
    return len(x)
