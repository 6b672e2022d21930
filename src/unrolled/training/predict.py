"""`predict`: the model's outputs batch by batch, several batches per call where rows allow."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from unrolled.training import data, distributed
from unrolled.training.steps import make_predict_step

# `predict` runs up to this many rows per compiled call when the model's rows are independent at
# inference: several batches at once. On the benchmark machine a 512-row call gave 1.29x the
# samples/s of 32-row calls (16 units) and 1.48x that of 64-row calls (128 units); BENCHMARKS.md.
# The outputs equal batch-by-batch calls to float32 rounding (a matmul over more rows may block
# its sums differently; tests/models/test_predict_batching.py).
PREDICT_ROWS = 512


def batches_per_call(batch_size: int, rows_independent: bool) -> int:
    """How many batches one compiled predict call takes (1 unless rows are independent)."""
    if batch_size >= PREDICT_ROWS or not rows_independent:
        return 1
    return PREDICT_ROWS // batch_size


class Predictor:
    """Runs a model's pure forward for inference; one compiled variant per batch shape."""

    def __init__(self, forward):
        self.forward = forward
        self.step = make_predict_step(forward)

    def placement(self):
        """Return the current distribution's `distributed.Placement` (None without one)."""
        return distributed.current(self)

    def __call__(self, spec, x, batch_size: int | None):
        """Return the outputs for ``x`` as NumPy (a list of arrays for several outputs).

        Stateful RNN states are read before the first batch, carried from batch to batch and
        written back at the end.
        """
        batch_size = data.check_batch_size(batch_size, "predict")
        x = data.check_inputs(x, spec, "predict")
        n = x.shape[0]
        if n == 0:  # no rows: empty outputs of the model's output shapes, nothing runs
            empty = [np.zeros((0, *shape[1:]), np.float32) for shape in data.output_shapes(spec, x)]
            return empty if spec.multi_output else empty[0]
        batch_size = min(batch_size, n)
        placed = self.placement()
        if placed is not None:  # global batches, rows padded up to the replicas
            batches = placed.array_batches((x,), np.arange(n), placed.round_up(batch_size))
            outs = [out for out, _ in self.placed_outputs(placed, spec, batches)]
            if isinstance(outs[0], list):
                return [np.concatenate(parts, axis=0)[:n] for parts in zip(*outs, strict=True)]
            return np.concatenate(outs, axis=0)[:n]
        idx, _ = data.batches(n, batch_size, np.arange(n))
        n_weights = len(spec.non_trainable) - spec.n_states
        tv = [w.value for w in spec.trainable]
        ntv = [w.value for w in spec.non_trainable[:n_weights]]
        states = [w.value for w in spec.non_trainable[n_weights:]]
        # Several batches per call where rows are independent (see PREDICT_ROWS): whole groups
        # of `per_call` batches first, then the rest one batch at a time, so at most two batch
        # shapes are ever compiled and a short input compiles only the one-batch shape.
        per_call = batches_per_call(batch_size, spec.rows_independent)
        grouped = (len(idx) // per_call) * per_call if per_call > 1 else 0
        chunks = [idx[s:s + per_call].reshape(-1) for s in range(0, grouped, per_call)]
        chunks += list(idx[grouped:])
        outs = []
        for i in chunks:
            y, states = self.step(tv, ntv, states, x[i])
            outs.append(y)
        for var, value in zip(spec.non_trainable[n_weights:], states, strict=True):
            var._value = value
        if isinstance(outs[0], (list, tuple)):  # a model with several outputs: a list of arrays
            return [np.asarray(jnp.concatenate(parts, axis=0))[:n]
                    for parts in zip(*outs, strict=True)]
        return np.asarray(jnp.concatenate(outs, axis=0))[:n]

    def placed_outputs(self, placed, spec, batches):
        """Yield ``(outputs, valid)`` as NumPy for global ``(x, ..., valid)`` batches.

        The outputs come split over the batch axis and are gathered on every process; stateful
        RNN states are carried from batch to batch and written back at the end.
        """
        n_weights = len(spec.non_trainable) - spec.n_states
        step = placed.predict_step(spec, self.forward, n_weights)
        tv = [w.value for w in spec.trainable]
        ntv = [w.value for w in spec.non_trainable[:n_weights]]
        states = [w.value for w in spec.non_trainable[n_weights:]]
        for x, *_, valid in batches:
            y, states = step(tv, ntv, states, x)
            y = placed.fetch(list(y) if isinstance(y, (list, tuple)) else y)
            yield y, placed.fetch(valid)
        for var, value in zip(spec.non_trainable[n_weights:], states, strict=True):
            var._value = value
