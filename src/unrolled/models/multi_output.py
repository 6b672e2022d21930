"""Training a functional model with several outputs, as Keras 3 does.

``compile`` takes ``loss`` as one loss for every output, a list (one per output, ``None`` for an
output without a loss) or a dict by output name (the name of the layer that produces the
output); ``loss_weights`` likewise; ``metrics`` as a list with one entry per output (a metric or
a list of metrics) or a dict by output name. The training loss is
``sum(loss_weight_k * loss_k)``; each loss is Keras's sum-over-batch-size mean of its output.

Logs use Keras 3's names: ``loss`` (the weighted total), ``<output>_loss`` for each output's
unweighted loss (only when more than one output has a loss) and ``<output>_<metric>`` for
metrics; ``evaluate`` returns ``[loss, <output>_loss..., then the metrics sorted by name]``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from unrolled.training import losses as losses_module
from unrolled.training import metrics as metrics_module
from unrolled.training.trainer import Trainer


class _TotalLoss:
    """Stands in ``model.loss`` for a multi-output model (the per-output losses do the work)."""

    name = "multi_output_loss"

    def __init__(self, losses, weights):
        self.losses, self.weights = losses, weights


class _OutputLoss:
    """A running mean of one output's unweighted loss, weighted by batch size (Keras's Mean)."""

    def __init__(self, name: str, index: int, loss):
        self.name, self.index, self.loss = name, index, loss

    def init(self):
        zero = jnp.zeros((), jnp.float32)
        return (zero, zero)

    def result_of(self, state):
        return jnp.where(state[1] > 0, state[0] / jnp.maximum(state[1], 1e-12), 0.0)


class _OutputMetric:
    """A metric reading one output; logs as ``<output>_<metric name>``."""

    def __init__(self, name: str, index: int, metric):
        self.name, self.index, self.metric = name, index, metric

    def init(self):
        return self.metric.init()

    def result_of(self, state):
        return self.metric.result_of(state)


def _per_output(value, names: list[str], what: str, broadcast: bool) -> list:
    """One entry per output from a single value, a list or a dict by output name."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"compile: {what} names outputs {unknown}, which the model does not "
                             f"have; its outputs are {names}. Use those names as keys.")
        return [value.get(n) for n in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ValueError(f"compile: {what} has {len(value)} entries but the model has "
                             f"{len(names)} outputs {names}; pass one entry per output (None "
                             "for none) or a dict by output name.")
        return list(value)
    if value is None or broadcast:
        return [value] * len(names)
    raise ValueError(f"compile: a model with {len(names)} outputs {names} needs {what} as a "
                     f"list (one per output) or a dict by output name; received {value!r}.")


def _only_entry(value, names: list[str], what: str):
    """Return a one-output model's entry of a per-output ``loss``/``metrics`` list or dict."""
    if isinstance(value, dict) and what != "metrics" or (
            isinstance(value, dict) and set(value) <= set(names)):
        return _per_output(value, names, what, broadcast=True)[0]
    if isinstance(value, (list, tuple)) and what != "metrics" and len(value) == 1:
        return value[0]
    return value


class MultiOutputTraining:
    """Mixin for the functional model: Keras's compile/fit/evaluate with several outputs."""

    @property
    def output_names(self) -> list[str]:
        """The names of the layers producing the outputs, as Keras names the outputs."""
        return [t._node.layer.name if t._node is not None else t.name for t in self.outputs]

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                **kwargs):
        """Configure training, Keras style, with per-output settings.

        With several outputs ``loss``, ``loss_weights`` and ``metrics`` may be given per output:
        a list in output order or a dict by output name (see the module docstring).
        """
        self._output_losses = None
        if not self._multi_output:
            loss, metrics, loss_weights = (_only_entry(v, self.output_names, what) for v, what in
                                           ((loss, "loss"), (metrics, "metrics"),
                                            (loss_weights, "loss_weights")))
            if loss_weights is not None and float(loss_weights) == 1.0:
                loss_weights = None
            return super().compile(optimizer, loss=loss, metrics=metrics,
                                   loss_weights=loss_weights, **kwargs)
        names = self.output_names
        losses = [None if lo is None else losses_module.get(lo)
                  for lo in _per_output(loss, names, "loss", broadcast=True)]
        if loss is not None and all(lo is None for lo in losses):
            raise ValueError("compile: every output's loss is None; give at least one output "
                             "a loss.")
        weights = _per_output(loss_weights, names, "loss_weights", broadcast=False)
        weights = [1.0 if w is None else float(w) for w in weights]
        per_output = _per_output(metrics, names, "metrics", broadcast=False)
        metric_ids = [[] if m is None else list(m) if isinstance(m, (list, tuple)) else [m]
                      for m in per_output]
        for ids in metric_ids:
            for m in ids:
                metrics_module.check_name(m)
        super().compile(optimizer, loss=None, metrics=None, **kwargs)
        if loss is not None:
            self.loss = _TotalLoss(losses, weights)
        self._output_losses, self._loss_weights = losses, weights
        self._output_metric_ids = metric_ids

    # ------------------------------------------------------------- labels
    def _check_y(self, y, x, what: str):
        if not self._multi_output:
            return super()._check_y(y, x, what)
        from unrolled.models.functional import _Inputs

        names = self.output_names
        if isinstance(y, dict):
            missing = [n for n in names if n not in y]
            if missing:
                raise ValueError(f"{what}: the labels dict lacks outputs {missing}; the model's "
                                 f"outputs are {names}.")
            y = [y[n] for n in names]
        if not isinstance(y, (list, tuple)) or len(y) != len(names):
            got = len(y) if isinstance(y, (list, tuple)) else f"one array of shape {np.shape(y)}"
            raise ValueError(f"{what}: the model has {len(names)} outputs {names}; received "
                             f"{got} label arrays. Pass a list with one array per output, in "
                             "the order of `model.outputs`, or a dict by output name.")
        arrays = x.arrays if isinstance(x, _Inputs) else [x]
        specs = [jax.ShapeDtypeStruct((1, *np.shape(a)[1:]), jnp.float32) for a in arrays]
        spec = _Inputs(specs) if isinstance(x, _Inputs) else specs[0]
        outs = jax.eval_shape(lambda v: self._forward_layers(v, False)[0], spec)
        self._output_shapes = [(None, *o.shape[1:]) for o in outs]
        checked, saved = [], (self.loss, getattr(self, "_resolved_output_shape", None))
        try:
            rows = zip(names, y, self._output_losses, strict=True)
            for k, (name, labels, loss) in enumerate(rows):
                self.loss = loss or losses_module.get("mse")  # no loss: shape check only
                self._resolved_output_shape = self._output_shapes[k]
                checked.append(Trainer._check_y(self, labels, x, f"{what} (output {name!r})"))
        finally:
            self.loss, self._resolved_output_shape = saved
        self._label_shapes = [(None, *a.shape[1:]) for a in checked]
        return _Inputs(checked)

    # ------------------------------------------------------- loss, metrics
    def _ensure_metrics(self, y_shape) -> None:
        if not self._multi_output or self._metrics is not None:
            return super()._ensure_metrics(y_shape)
        names = self.output_names
        with_loss = [k for k, lo in enumerate(self._output_losses) if lo is not None]
        trackers = [_OutputLoss(f"{names[k]}_loss", k, self._output_losses[k])
                    for k in with_loss] if len(with_loss) > 1 else []
        wrapped, used = [], {}
        for k, ids in enumerate(self._output_metric_ids):
            loss_name = getattr(self._output_losses[k], "name", None)
            for m in ids:
                metric = metrics_module.resolve(m, self._label_shapes[k], self._output_shapes[k],
                                                loss_name)
                name = f"{names[k]}_{metric.name}"
                used[name] = used.get(name, 0) + 1
                wrapped.append(_OutputMetric(name if used[name] == 1 else
                                             f"{name}_{used[name] - 1}", k, metric))
        self._metrics = trackers + sorted(wrapped, key=lambda m: m.name)

    def _loss_and_metrics(self, y, y_pred, out_mask, sw, valid, loss_obj=None):
        if not self._multi_output or loss_obj is not None:
            return super()._loss_and_metrics(y, y_pred, out_mask, sw, valid, loss_obj)
        total = jnp.zeros((), jnp.float32)
        pairs = zip(self._output_losses, self._loss_weights, strict=True)
        for k, (loss, weight) in enumerate(pairs):
            if loss is not None:
                value = super()._loss_and_metrics(y.arrays[k], y_pred[k], out_mask[k], sw, valid,
                                                  loss)
                total = total + weight * value
        return total

    def _metric_updates(self, states, y, y_pred, out_mask, sw, valid):
        if not self._multi_output:
            return super()._metric_updates(states, y, y_pred, out_mask, sw, valid)
        out = []
        for m, state in zip(self._metrics, states, strict=True):
            k = m.index
            if isinstance(m, _OutputLoss):
                value = super()._loss_and_metrics(y.arrays[k], y_pred[k], out_mask[k], sw, valid,
                                                  m.loss)
                n = jnp.sum(valid)
                out.append((state[0] + value * n, state[1] + n))
            else:
                mask = valid if out_mask[k] is None else out_mask[k] * valid[:, None]
                out.append(m.metric.update(state, y.arrays[k], y_pred[k], None, mask))
        return out
