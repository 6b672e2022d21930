"""The step builders need nothing but a pure forward: no model, no layers.

Oracle: closed form. For a linear forward ``y = x W + b`` with mean squared error, one SGD step
is ``W -= lr * 2/(B*U) * x^T (y - t)`` (and ``b`` likewise), computed here in float64 NumPy;
float32 tolerance 1e-6. A padded row (validity 0) must not count. Non-trainable values (where
stateful RNN states travel) come back from the forward and out of every step. Two outputs
with loss weights give ``sum(w_k * loss_k)`` of the one-output losses.
"""

import jax
import numpy as np

from unrolled import optimizers
from unrolled.training import steps
from unrolled.training.compile_utils import CompileLoss, CompileMetrics
from unrolled.training.data import Arrays

B, F, U, LR = 6, 3, 2, 0.1


def linear(tv, ntv, x, training, rng):
    """A pure forward; its one non-trainable value counts the calls (as a state would)."""
    return x @ tv[0] + tv[1], None, [ntv[0] + 1.0]


def compiled(loss="mse", metrics=("mae",)):
    loss, metrics = CompileLoss(loss, None, ["out"], False), CompileMetrics(list(metrics),
                                                                           ["out"], False)
    metrics.resolve([(None, U)], [(None, U)], loss)
    return loss, metrics


def test_train_step_is_one_sgd_step_on_the_real_rows():
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(F, U)).astype("float32"), rng.normal(size=(U,)).astype("float32")
    x, t = rng.normal(size=(B, F)).astype("float32"), rng.normal(size=(B, U)).astype("float32")
    valid = np.ones(B, "float32")
    valid[-2:] = 0.0  # the padded tail of a last batch
    loss, metrics = compiled()
    tx = optimizers.SGD(learning_rate=LR).transformation()
    step = steps.make_train_step(linear, loss, metrics, tx)
    tv, ntv = [w, b], [np.zeros((), "float32")]
    new_tv, new_ntv, _, es = step(tv, ntv, tx.init(tv), steps.fresh_epoch_state(metrics), x, t,
                                  np.ones(B, "float32"), valid, jax.random.PRNGKey(0))
    real = valid > 0
    x64, t64 = x[real].astype(np.float64), t[real].astype(np.float64)
    err = x64 @ w + b - t64
    n = err.size
    np.testing.assert_allclose(new_tv[0], w - LR * 2.0 / n * x64.T @ err, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(new_tv[1], b - LR * 2.0 / n * err.sum(axis=0), rtol=1e-6,
                               atol=1e-6)
    np.testing.assert_allclose(new_ntv[0], 1.0)
    logs = steps.logs_of(es, metrics)
    np.testing.assert_allclose(logs["loss"], np.mean(err ** 2), rtol=1e-6)
    np.testing.assert_allclose(logs["mae"], np.mean(np.abs(err)), rtol=1e-6)


def test_predict_step_returns_the_new_states():
    step = steps.make_predict_step(linear)
    x = np.ones((B, F), "float32")
    y, states = step([np.eye(F, U, dtype="float32"), np.zeros(U, "float32")], [],
                     [np.full((), 4.0, "float32")], x)
    np.testing.assert_allclose(y, x @ np.eye(F, U))
    np.testing.assert_allclose(states[0], 5.0)


def test_two_outputs_weigh_their_one_output_losses():
    rng = np.random.default_rng(1)
    preds = [rng.normal(size=(B, U)).astype("float32"), rng.uniform(size=(B, 1)).astype("f4")]
    labels = [rng.normal(size=(B, U)).astype("float32"),
              rng.integers(0, 2, size=(B, 1)).astype("float32")]
    sw, valid = rng.uniform(size=B).astype("float32"), np.ones(B, "float32")
    both = CompileLoss({"a": "mse", "b": "binary_crossentropy"}, {"a": 0.3, "b": 2.0},
                       ["a", "b"], True)
    one = [CompileLoss(name, None, ["out"], False) for name in ("mse", "binary_crossentropy")]
    total = both(Arrays(labels), preds, [None, None], sw, valid)
    parts = [f(y, p, None, sw, valid) for f, y, p in zip(one, labels, preds, strict=True)]
    np.testing.assert_allclose(total, 0.3 * parts[0] + 2.0 * parts[1], rtol=1e-6)
