"""Pure step builders: train, eval and predict steps from a forward and the compiled parts.

Every builder returns a jitted function of arrays only (no model, no ``self``): one compiled
variant per batch shape. ``forward`` is the model's pure forward (`training.spec`). The
epoch state ``es`` keeps the loss and metric totals on the device, with a NaN flag: a step
whose loss is not finite, or whose update would make a weight non-finite (an overflowing step
with a finite loss), leaves the weights as they were, and so does every later step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from unrolled.ops.compile import jit, to_device


def _jit(step, out_shardings):
    """Jit ``step``; under a distribution with ``out_shardings`` (None: exactly ``jit(step)``)."""
    return jit(step) if out_shardings is None else jit(step, out_shardings=out_shardings)


def _run(forward, loss_forward, tv, ntv, x, training, key):
    """Run the forward; returns ``(y_pred, out_mask, new_ntv, added losses)``.

    Without a ``loss_forward`` (or when the model adds no losses) the list is empty and the
    traced program is the plain forward's.
    """
    if loss_forward is None:
        return (*forward(tv, ntv, x, training, key), [])
    return loss_forward(tv, ntv, x, training, key)


def _total(value, added):
    """Keras's ``compute_loss``: the compiled loss plus the added losses, summed as one stack."""
    return jnp.sum(jnp.stack([value, *added])) if added else value


def make_train_step(forward, loss, metrics, tx, loss_forward=None, constraints=(),
                    out_shardings=None):
    """``step(tv, ntv, opt_state, es, x, y, sw, valid, key) -> (tv, ntv, opt_state, es)``.

    ``out_shardings`` (a distribution's; `training.distributed`) places the results on the
    mesh; the inputs arrive placed, so XLA takes their shardings and inserts the collectives.

    ``loss_forward`` (`training.spec.ModelSpec`) adds the model's losses to the loss;
    ``constraints`` (``(index, fn)`` pairs) project weights after the update, as Keras's
    optimizer does. Neither adds anything to the program of a model without them.
    """

    def step(tv, ntv, opt_state, es, x, y, sw, valid, key):
        sw = sw * valid
        key = jax.random.fold_in(key, es["step"])  # a fresh key per batch, derived on device

        def loss_fn(tv):
            y_pred, out_mask, new_ntv, added = _run(forward, loss_forward, tv, ntv, x, True, key)
            value = _total(loss(y, y_pred, out_mask, sw, valid), added)
            return value, (y_pred, out_mask, new_ntv)

        (value, (y_pred, out_mask, new_ntv)), grads = jax.value_and_grad(
            loss_fn, has_aux=True)(tv)
        updates, new_opt = tx.update(grads, opt_state, tv)
        new_tv = optax.apply_updates(tv, updates)
        if constraints:
            new_tv = list(new_tv)
            for i, constraint in constraints:
                new_tv[i] = jnp.asarray(constraint(new_tv[i]), new_tv[i].dtype)
        finite = jnp.isfinite(value)
        for w in jax.tree.leaves(new_tv):  # an update may overflow although the loss is finite
            finite = finite & jnp.all(jnp.isfinite(w))
        ok = finite & ~es["nan"]
        keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)  # noqa: E731
        n_real = jnp.sum(valid)
        es = {
            "loss": (es["loss"][0] + value * n_real, es["loss"][1] + n_real),
            "metrics": metrics.update(es["metrics"], y, y_pred, out_mask, sw, valid),
            "nan": es["nan"] | ~finite,
            "nan_step": jnp.where(~finite & ~es["nan"], es["step"], es["nan_step"]),
            "step": es["step"] + 1,
        }
        return keep(new_tv, tv), keep(new_ntv, ntv), keep(new_opt, opt_state), es

    return _jit(step, out_shardings)


def make_eval_step(forward, loss, metrics, loss_forward=None, out_shardings=None):
    """``step(tv, ntv, es, x, y, sw, valid) -> es`` (the states are read, not carried)."""

    def step(tv, ntv, es, x, y, sw, valid):
        sw = sw * valid
        y_pred, out_mask, _, added = _run(forward, loss_forward, tv, ntv, x, False, None)
        value = _total(loss(y, y_pred, out_mask, sw, valid), added)
        n_real = jnp.sum(valid)
        return {
            "loss": (es["loss"][0] + value * n_real, es["loss"][1] + n_real),
            "metrics": metrics.update(es["metrics"], y, y_pred, out_mask, sw, valid),
            "nan": es["nan"], "nan_step": es["nan_step"], "step": es["step"] + 1,
        }

    return _jit(step, out_shardings)


def make_predict_step(forward, out_shardings=None):
    """``step(tv, ntv, states, x) -> (y_pred, new_states)``; ``states`` may be empty."""

    def step(tv, ntv, states, x):
        y_pred, _, new = forward(tv, [*ntv, *states], x, False, None)
        return y_pred, new[len(ntv):]

    return _jit(step, out_shardings)


def fresh_epoch_state(metrics) -> dict:
    """Return zero totals for an epoch (host zeros: eager jnp.zeros compiles per dtype)."""
    zero = to_device(np.zeros((), np.float32))
    int_zero = to_device(np.zeros((), np.int32))
    return {"loss": (zero, zero), "metrics": metrics.init(),
            "nan": to_device(np.zeros((), bool)), "nan_step": int_zero, "step": int_zero}


def logs_of(es, metrics, prefix: str = "") -> dict[str, float]:
    """Fetch an epoch state and return Keras's logs ``{name: value}``, sorted by name."""
    es = jax.device_get(es)
    total, count = es["loss"]
    logs = {prefix + "loss": float(total / count) if count else 0.0}
    for m, s in zip(metrics.metrics, es["metrics"], strict=True):
        logs[prefix + m.name] = float(m.result_of(s))
    return dict(sorted(logs.items()))
