"""Compiled losses and metrics for a model with N outputs (one output is the N=1 case).

``compile`` takes ``loss`` as one loss for every output, a list (one per output, ``None`` for an
output without a loss) or a dict by output name (the name of the layer that produces the
output); ``loss_weights`` likewise; ``metrics`` as a list with one entry per output (a metric or
a list of metrics) or a dict by output name. A model with one output also takes its entry
alone, as Keras does. The training loss is ``sum(loss_weight_k * loss_k)``; each loss is Keras's
sum-over-batch-size mean of its output.

Logs use Keras 3's names: ``loss`` (the weighted total) and, with several outputs,
``<output>_loss`` for each output's unweighted loss (only when more than one output has a
loss) and ``<output>_<metric>`` for metrics; ``evaluate`` returns ``[loss, <output>_loss...,
then the metrics sorted by name]`` (one output: the metrics in compile order).
"""

from __future__ import annotations

import jax.numpy as jnp

from unrolled.ops import losses as ops_losses
from unrolled.training import losses as losses_module
from unrolled.training import metrics as metrics_module


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


def _as_list(value) -> list:
    return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]


def output_loss(loss, y, y_pred, out_mask, sw, valid):
    """Return one output's unweighted loss: the mean over real rows and unmasked steps."""
    values = loss.call(y, y_pred)
    own = loss.loss_mask(y, y_pred) if hasattr(loss, "loss_mask") else None
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
    return jnp.where(den > 0, num / jnp.where(den > 0, den, 1.0), 0.0)


class CompileLoss:
    """The per-output losses and loss weights of a compiled model.

    With several outputs it is also what ``model.loss`` shows (``name``, ``losses``,
    ``weights``); with one output ``model.loss`` is that output's `Loss`.
    """

    name = "multi_output_loss"

    def __init__(self, loss, loss_weights, output_names: list[str], multi_output: bool):
        self.output_names, self.multi_output = list(output_names), multi_output
        if not multi_output:
            loss, loss_weights = (_only_entry(v, self.output_names, what) for v, what in
                                  ((loss, "loss"), (loss_weights, "loss_weights")))
            self.losses = [None if loss is None else losses_module.get(loss)]
            self.weights = [1.0 if loss_weights is None else float(loss_weights)]
            self.given = loss is not None
            return
        self.losses = [None if lo is None else losses_module.get(lo)
                       for lo in _per_output(loss, self.output_names, "loss", broadcast=True)]
        if loss is not None and all(lo is None for lo in self.losses):
            raise ValueError("compile: every output's loss is None; give at least one output "
                             "a loss.")
        weights = _per_output(loss_weights, self.output_names, "loss_weights", broadcast=False)
        self.weights = [1.0 if w is None else float(w) for w in weights]
        self.given = loss is not None

    @property
    def model_loss(self):
        """Return what ``model.loss`` shows: the `Loss` (one output), this object, or None."""
        if not self.given:
            return None
        return self if self.multi_output else self.losses[0]

    def __call__(self, y, y_pred, out_mask, sw, valid):
        """Return the training loss ``sum(weight_k * loss_k)`` (jit-able)."""
        if not self.multi_output:
            value = output_loss(self.losses[0], y, y_pred, out_mask, sw, valid)
            return value if self.weights[0] == 1.0 else self.weights[0] * value
        total = jnp.zeros((), jnp.float32)
        for k, (loss, weight) in enumerate(zip(self.losses, self.weights, strict=True)):
            if loss is not None:
                value = output_loss(loss, y.arrays[k], y_pred[k], out_mask[k], sw, valid)
                total = total + weight * value
        return total


class OutputLoss:
    """A running mean of one output's unweighted loss, weighted by batch size (Keras's Mean)."""

    direction = "down"

    def __init__(self, name: str, index: int, loss):
        self.name, self.index, self.loss = name, index, loss

    def init(self):
        """Return the zero state ``(total, count)``."""
        zero = jnp.zeros((), jnp.float32)
        return (zero, zero)

    def result_of(self, state):
        """Return the mean of a state."""
        return jnp.where(state[1] > 0, state[0] / jnp.maximum(state[1], 1e-12), 0.0)


class OutputMetric:
    """A metric reading one output; logs as ``<output>_<metric name>`` (one output: its name)."""

    def __init__(self, name: str, index: int, metric):
        self.name, self.index, self.metric = name, index, metric
        self.direction = getattr(metric, "direction", None)

    def init(self):
        """Return the metric's zero state."""
        return self.metric.init()

    def result_of(self, state):
        """Return the metric's value for a state."""
        return self.metric.result_of(state)


class CompileMetrics:
    """The compiled metrics; resolved on the first data (``"accuracy"`` depends on shapes)."""

    def __init__(self, metrics, output_names: list[str], multi_output: bool):
        self.output_names, self.multi_output = list(output_names), multi_output
        if multi_output:
            per_output = _per_output(metrics, self.output_names, "metrics", broadcast=False)
            self.ids = [_as_list(m) for m in per_output]
        else:
            self.ids = [_as_list(_only_entry(metrics, self.output_names, "metrics"))]
        for ids in self.ids:
            for m in ids:
                metrics_module.check_name(m)
        self.metrics: list | None = None

    def resolve(self, label_shapes: list, output_shapes: list, loss: CompileLoss) -> None:
        """Resolve the metrics once, for labels and outputs of these shapes (batch axis None)."""
        if self.metrics is not None:
            return
        names = self.output_names
        trackers, wrapped, used = [], [], {}
        with_loss = [k for k, lo in enumerate(loss.losses) if lo is not None]
        if self.multi_output and len(with_loss) > 1:
            trackers = [OutputLoss(f"{names[k]}_loss", k, loss.losses[k]) for k in with_loss]
        for k, ids in enumerate(self.ids):
            loss_name = getattr(loss.losses[k], "name", None)
            for m in ids:
                metric = metrics_module.resolve(m, label_shapes[k], output_shapes[k], loss_name)
                if not self.multi_output:
                    wrapped.append(OutputMetric(metric.name, k, metric))
                    continue
                name = f"{names[k]}_{metric.name}"
                used[name] = used.get(name, 0) + 1
                wrapped.append(OutputMetric(name if used[name] == 1 else
                                            f"{name}_{used[name] - 1}", k, metric))
        if self.multi_output:
            wrapped.sort(key=lambda m: m.name)
        self.metrics = trackers + wrapped

    def init(self) -> list:
        """Return the zero state of every metric."""
        return [m.init() for m in self.metrics]

    def update(self, states, y, y_pred, out_mask, sw, valid) -> list:
        """Return the states after one batch (jit-able).

        Keras weights compiled `metrics` by neither sample_weight nor class_weight (only
        `weighted_metrics` would be), so ``sw`` is not applied; the padded rows of a partial
        batch are masked out by ``valid``.
        """
        ys, preds, masks = ((y.arrays, y_pred, out_mask) if self.multi_output
                            else ([y], [y_pred], [out_mask]))
        out = []
        for m, state in zip(self.metrics, states, strict=True):
            k = m.index
            if isinstance(m, OutputLoss):
                value = output_loss(m.loss, ys[k], preds[k], masks[k], sw, valid)
                n = jnp.sum(valid)
                out.append((state[0] + value * n, state[1] + n))
            else:
                mask = valid if masks[k] is None else masks[k] * valid[:, None]
                out.append(m.metric.update(state, ys[k], preds[k], None, mask))
        return out
