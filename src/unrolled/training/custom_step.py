"""`fit` through a user's ``train_step(state, data)``, as Keras's JAX trainer runs it.

Keras's guide "Customizing what happens in fit() with JAX" overrides ``train_step(self,
state, data) -> (logs, state)`` with ``state = (trainable_variables, non_trainable_variables,
optimizer_variables, metrics_variables)``, lists of values. `fit_custom` jits that step and
loops over the batches: it builds the state from the variables' values, resets the metrics'
values at each epoch, feeds ``(x, y)`` (``(x, y, sample_weight)`` with weights) batches with
Keras's short last batch, and writes the state back into the variables, the optimizer
state and the metrics at the end of every epoch (Keras's ``jax_state_sync``). The epoch's
logs are the last step's logs, dict results flattened (``{"compile_metrics": {"mae": v}}``
gives ``mae``), as Keras's history shows them.

It knows the model only as a callable step, lists of variables and `Callback` targets, and
is used only when a model overrides ``train_step``: the default `fit` keeps its own pure
steps (`training.steps`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import numpy as np

from unrolled.layers.random import numpy_rng
from unrolled.ops.compile import jit
from unrolled.training import callbacks as callbacks_module


@dataclasses.dataclass
class CustomStep:
    """What the loop needs of a model with its own ``train_step``.

    Attributes:
        step: ``(state, data) -> (logs, state)``, the model's bound ``train_step``.
        trainable: the variables of ``state[0]`` (``model.trainable_variables``).
        non_trainable: the variables of ``state[1]`` (``model.non_trainable_variables``).
        metrics: the metrics whose values make ``state[3]`` (``model.metrics``).
        trainer: the compiled `Trainer` (optimizer and its state).
        spec: the model's `ModelSpec` (for the optimizer's state).

    """

    step: Callable
    trainable: list
    non_trainable: list
    metrics: list
    trainer: object
    spec: object


def flat_logs(logs) -> dict[str, float]:
    """Fetch a step's logs; a dict result (compiled metrics) gives its entries."""
    out = {}
    for name, value in jax.device_get(logs).items():
        if isinstance(value, dict):
            out.update({k: float(np.asarray(v)) for k, v in value.items()})
        else:
            out[name] = float(np.asarray(value))
    return out


def fit_custom(custom: CustomStep, model, x, y, sample_weight, batch_size: int, epochs: int,
               verbose: int, callbacks, shuffle: bool, initial_epoch: int,
               validation_data=None, validation_freq=1, evaluate=None):
    """Train with ``custom.step``; returns the `History` (see the module docstring)."""
    trainer, optimizer = custom.trainer, custom.trainer.optimizer
    n = x.shape[0]
    steps = math.ceil(n / batch_size)
    step = jit(custom.step)
    history = callbacks_module.History()
    cbs = [*(callbacks or []), history]
    if verbose:
        cbs.append(callbacks_module.ProgbarLogger())
    history.params = params = {"verbose": verbose, "epochs": epochs, "steps": steps}
    cblist = callbacks_module.CallbackList(cbs, model, params)
    model.stop_training, model.history = False, history
    trainer.prepare(custom.spec)
    cblist.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        for metric in custom.metrics:
            metric.reset_state()
        cblist.on_epoch_begin(epoch)
        trainer.sync_learning_rate()
        optimizer.adopt(trainer._tx, trainer.opt_state)
        state = ([v.value for v in custom.trainable], [v.value for v in custom.non_trainable],
                 [v.value for v in optimizer.variables],
                 [v.value for m in custom.metrics for v in m.variables])
        order = numpy_rng().permutation(n) if shuffle else np.arange(n)
        for b in range(steps):
            cblist.on_train_batch_begin(b)
            idx = order[b * batch_size:(b + 1) * batch_size]
            data = (x[idx], y[idx]) if sample_weight is None else \
                (x[idx], y[idx], sample_weight[idx])
            raw, state = step(tuple(state), data)
            state = list(state)
            cblist.on_train_batch_end(b, flat_logs(raw) if cblist.wants_batch_logs() else None)
            if model.stop_training:
                break
        _write_back(custom, state)
        logs = flat_logs(raw)
        if validation_data is not None and evaluate is not None and (
                (epoch + 1) % validation_freq == 0 if isinstance(validation_freq, int)
                else epoch + 1 in validation_freq):
            logs.update({f"val_{k}": v for k, v in evaluate(*validation_data).items()})
        cblist.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cblist.on_train_end()
    return history


def _write_back(custom: CustomStep, state) -> None:
    """Store a step's state in the variables, the optimizer state and the metrics."""
    tv, ntv, opt, mv = state
    for var, value in zip([*custom.trainable, *custom.non_trainable], [*tv, *ntv], strict=True):
        var._value = value
    trainer, optimizer = custom.trainer, custom.trainer.optimizer
    trainer.opt_state = optimizer.state_of(opt)
    optimizer.adopt(trainer._tx, trainer.opt_state)
    optimizer.iterations = int(trainer.opt_state.iterations)
    pos = 0
    for metric in custom.metrics:
        count = len(metric.variables)
        metric.assign_values(mv[pos:pos + count])
        pos += count
