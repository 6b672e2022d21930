"""Keras's JAX trainer face on `Model`: ``metrics``, ``compute_loss``, ``train_step(state, data)``.

Keras's guide "Customizing what happens in fit() with JAX" subclasses the model and overrides
``train_step(self, state, data) -> (logs, state)``, writing it with ``self.stateless_call``,
``self.compute_loss``, ``self.optimizer.stateless_apply`` and the stateless methods of
``self.metrics``. When a model overrides ``train_step``, `fit` runs it
(`training.custom_step.fit_custom`); otherwise `fit` keeps unrolled's own compiled steps and
nothing here runs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from unrolled.training import data as data_module
from unrolled.training import streaming
from unrolled.training.custom_step import CustomStep, fit_custom
from unrolled.training.metric_face import CompiledMetrics
from unrolled.training.metrics import Mean, Metric


class JaxTrainerFace:
    """The parts of Keras's JAX ``Trainer`` that custom training steps call."""

    @property
    def metrics(self) -> list:
        """The model's metrics in Keras's order.

        The loss tracker and ``compile_metrics`` (once compiled), then the metrics the model
        holds as attributes.
        """
        out = []
        trainer = getattr(self, "_trainer", None)
        if trainer is not None:
            if getattr(trainer, "_face_metrics", None) is None:
                trainer._face_metrics = [Mean(name="loss"), CompiledMetrics(trainer.metrics)]
            out.extend(trainer._face_metrics)
        out.extend(v for v in vars(self).values() if isinstance(v, Metric))
        return out

    @property
    def metrics_variables(self) -> list:
        """Every variable of `metrics`, in order."""
        return [v for m in self.metrics for v in m.variables]

    @property
    def metrics_names(self) -> list[str]:
        """The names of `metrics`."""
        return [m.name for m in self.metrics]

    def reset_metrics(self) -> None:
        """Reset every metric of `metrics`."""
        for m in self.metrics:
            m.reset_state()

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Return the compiled loss of ``y_pred`` against ``y`` (jit-able), as Keras's.

        Raises:
            ValueError: when the model was compiled without a loss.

        """
        trainer = getattr(self, "_trainer", None)
        if trainer is None or trainer.loss.model_loss is None:
            raise ValueError("compute_loss needs a loss: compile(optimizer=..., loss=...) or "
                             "compute the loss yourself in train_step.")
        n = jax.tree.leaves(y_pred)[0].shape[0]
        valid = jnp.ones((n,), jnp.float32)
        sw = valid if sample_weight is None else jnp.asarray(sample_weight, jnp.float32)
        if trainer.loss.multi_output:
            y = data_module.Arrays([jnp.asarray(a) for a in y])
            return trainer.loss(y, list(y_pred), [None] * len(y_pred), sw, valid)
        return trainer.loss(jnp.asarray(y), y_pred, None, sw, valid)

    def train_step(self, state, data):
        """Keras's default JAX step: ``(logs, state)`` from the compiled loss and metrics."""
        tv, ntv, opt_vars, metric_vars = state
        x, y, sw = (*data, None)[:3]

        def loss_fn(tv, ntv):
            y_pred, ntv = self.stateless_call(tv, ntv, x, training=True)
            return self.compute_loss(x, y, y_pred, sw), (y_pred, ntv)

        (loss, (y_pred, ntv)), grads = jax.value_and_grad(loss_fn, has_aux=True)(tv, ntv)
        tv, opt_vars = self.optimizer.stateless_apply(opt_vars, grads, tv)
        logs, new_metric_vars, pos = {}, [], 0
        for metric in self.metrics:
            count = len(metric.variables)
            values = metric_vars[pos:pos + count]
            pos += count
            values = metric.stateless_update_state(values, loss) if metric.name == "loss" \
                else metric.stateless_update_state(values, y, y_pred)
            logs[metric.name] = metric.stateless_result(values)
            new_metric_vars += values
        return logs, (tv, ntv, opt_vars, new_metric_vars)

    def _has_custom_train_step(self) -> bool:
        return type(self).train_step is not JaxTrainerFace.train_step

    def _fit_custom(self, x, y, batch_size, epochs, verbose, callbacks, validation_split,
                    validation_data, shuffle, class_weight, sample_weight, initial_epoch,
                    steps_per_epoch, validation_steps, validation_batch_size, validation_freq):
        """`fit` through the model's own ``train_step`` (`training.custom_step`)."""
        if not getattr(self, "compiled", False):
            raise RuntimeError("You must call `model.compile(optimizer=...)` before `fit`.")
        unsupported = {"validation_split": validation_split, "class_weight": class_weight,
                       "steps_per_epoch": steps_per_epoch, "validation_steps": validation_steps,
                       "validation_batch_size": validation_batch_size}
        given = [k for k, v in unsupported.items() if v]
        if given or streaming.is_stream(x):
            raise ValueError("fit with a custom train_step takes arrays x and y (and "
                             "batch_size, epochs, callbacks, shuffle, sample_weight, "
                             f"validation_data); not yet {given or ['a generator or dataset']}.")
        trainer = self._trainer
        spec, x, y, sw, shapes = trainer._data(self, x, y, sample_weight, None, "fit")
        trainer._resolve_metrics(y, shapes)
        if isinstance(x, data_module.Arrays) or isinstance(y, data_module.Arrays):
            raise ValueError("fit with a custom train_step supports one input and one output.")
        batch_size = min(data_module.check_batch_size(batch_size, "fit"), x.shape[0])
        evaluate = None
        if validation_data is not None:
            def evaluate(vx, vy, vsw=None):
                return self.evaluate(vx, vy, sample_weight=vsw, batch_size=batch_size,
                                     verbose=0, return_dict=True)
        custom = CustomStep(self.train_step, self.trainable_variables,
                            self.non_trainable_variables, self.metrics, trainer, spec)
        return fit_custom(custom, self, x, y, None if sample_weight is None else sw,
                          batch_size, epochs, 1 if verbose == "auto" else int(verbose),
                          callbacks, shuffle, initial_epoch, validation_data, validation_freq,
                          evaluate)
