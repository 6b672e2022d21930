"""Keras's stateless metric API: ``variables``, ``stateless_update_state``, ``stateless_result``.

A metric's state is a pytree of arrays (``(total, count)`` for a mean); its leaves are the
metric's ``variables`` and the stateless methods unflatten a list of values, run the pure
``update``/``result_of`` and flatten again, so the loops of Keras's JAX guides run on
unrolled's metrics. `CompiledMetrics` shows a compiled model's metrics as Keras's single
``compile_metrics`` entry of ``model.metrics`` (its result a dict by metric name).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from unrolled.layers.variables import Variable


class StatelessMetricMixin:
    """Keras's stateless methods over a metric's pure ``init``/``update``/``result_of``."""

    _face_variables: list | None = None

    def _face_state(self):
        return self._state

    def _set_face_state(self, state) -> None:
        self._state = state

    @property
    def variables(self) -> list:
        """The metric's state as variables (their values follow `update_state`)."""
        leaves = jax.tree.leaves(self._face_state())
        if self._face_variables is None or len(self._face_variables) != len(leaves):
            names = ("total", "count") if len(leaves) == 2 else \
                tuple(f"var_{i}" for i in range(len(leaves)))
            self._face_variables = [Variable(leaf, name=nm, path=f"{self.name}/{nm}",
                                             trainable=False)
                                    for nm, leaf in zip(names, leaves, strict=True)]
        else:
            for var, leaf in zip(self._face_variables, leaves, strict=True):
                var._value = leaf
        return list(self._face_variables)

    def _unflatten(self, values):
        treedef = jax.tree.structure(self._face_state())
        return treedef.unflatten([v.value if isinstance(v, Variable) else v for v in values])

    def stateless_update_state(self, metric_variables, *args, **kwargs) -> list:
        """Return the values of `variables` after one update (pure; jit-able)."""
        state = self.update(self._unflatten(metric_variables), *args, **kwargs)
        return jax.tree.leaves(state)

    def stateless_result(self, metric_variables):
        """Return the result for these values of `variables` (pure; jit-able)."""
        return self.result_of(self._unflatten(metric_variables))

    def stateless_reset_state(self) -> list:
        """Return the values of `variables` of a fresh metric."""
        return jax.tree.leaves(self.init())

    def assign_values(self, values) -> None:
        """Set the metric's state from values of `variables`."""
        self._set_face_state(self._unflatten(values))


class CompiledMetrics(StatelessMetricMixin):
    """A compiled model's metrics as Keras's ``compile_metrics`` (one output).

    ``stateless_update_state(values, y, y_pred, sample_weight=None)`` updates every compiled
    metric (unweighted, as compiled metrics are); ``stateless_result`` returns
    ``{metric name: value}``. Before the first `fit` resolves them it has no variables.
    """

    name = "compile_metrics"

    def __init__(self, compiled):
        self.compiled = compiled
        self._state = None

    def _face_state(self):
        if self.compiled.metrics is None:
            return []
        if self._state is None:
            self._state = self.compiled.init()
        return self._state

    def init(self):
        """Zero states of the compiled metrics."""
        return [] if self.compiled.metrics is None else self.compiled.init()

    def update(self, state, y, y_pred, sample_weight=None):
        """Pure update of every compiled metric with one batch."""
        if self.compiled.multi_output:
            raise ValueError("compile_metrics.stateless_update_state supports one output; with "
                             "several, update each metric of model.metrics yourself.")
        y_pred = jnp.asarray(y_pred)
        valid = jnp.ones((y_pred.shape[0],), jnp.float32)
        return self.compiled.update(state, jnp.asarray(y), y_pred, None, valid, valid)

    def result_of(self, state) -> dict:
        """``{name: value}`` of every compiled metric."""
        return {m.name: m.result_of(s) for m, s in zip(self.compiled.metrics, state,
                                                        strict=True)}

    def result(self) -> dict:
        """Return the current values, as Keras's ``compile_metrics.result()``."""
        return {k: float(v) for k, v in self.result_of(self._face_state()).items()}

    def reset_state(self) -> None:
        """Forget every accumulated batch."""
        self._state = self.init() if self.compiled.metrics is not None else None
