"""unrolled compiles its own steps with `unrolled.ops.compile.compiler_options()`.

Oracle: invariant. The options change how XLA's backend optimises, not the maths: a train step
and a predict pass compiled with them equal the same functions under plain `jax.jit` to float32
rounding (rtol 1e-6: LLVM may vectorise a sum in another order, measured 1 ulp).
"""

import jax
import jax.numpy as jnp
import numpy as np

from unrolled import layers, models
from unrolled.ops import compile as ucompile


def test_options_apply_on_cpu_only_and_jit_forwards_arguments():
    expected = ucompile.CPU_COMPILER_OPTIONS if jax.default_backend() == "cpu" else {}
    assert ucompile.compiler_options() == expected

    @ucompile.jit(static_argnums=1)
    def power(a, n):
        return a ** n

    np.testing.assert_array_equal(power(jnp.arange(4.0), 3), [0.0, 1.0, 8.0, 27.0])


def test_train_and_predict_steps_equal_default_compilation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 9, 3)).astype("float32")
    x[np.arange(9)[None, :] >= rng.integers(1, 10, size=16)[:, None]] = 0.0
    y = np.eye(2, dtype="float32")[rng.integers(0, 2, size=16)]
    model = models.Sequential([layers.Input(shape=(9, 3)), layers.Masking(0.0), layers.LSTM(6),
                               layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model._ensure_metrics((None, 2))
    model._prepare_optimizer()
    step = model._train_fn  # jitted with unrolled's options
    default = jax.jit(step.__wrapped__)
    tv = [w.value for w in model.trainable_weights]
    ntv = [w.value for w in model.non_trainable_weights]
    args = (tv, ntv, model._opt_state, model._fresh_epoch_state(), x, y,
            np.ones(16, "float32"), np.ones(16, "float32"), jax.random.PRNGKey(1))
    for a, b in zip(jax.tree.leaves(step(*args)), jax.tree.leaves(default(*args)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    predict = model._make_predict_fn()
    np.testing.assert_allclose(predict(tv, ntv, x), jax.jit(predict.__wrapped__)(tv, ntv, x),
                               rtol=1e-6, atol=1e-9)
