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
from unrolled.training import steps


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
    trainer = model._trainer
    trainer.metrics.resolve([(None, 2)], [(None, 2)], trainer.loss)
    trainer.prepare(model._training_spec())
    step = trainer.train_step  # jitted with unrolled's options
    default = jax.jit(step.__wrapped__)
    tv = [w.value for w in model.trainable_weights]
    ntv = [w.value for w in model.non_trainable_weights]
    args = (tv, ntv, trainer.opt_state, steps.fresh_epoch_state(trainer.metrics), x, y,
            np.ones(16, "float32"), np.ones(16, "float32"), jax.random.PRNGKey(1))
    for a, b in zip(jax.tree.leaves(step(*args)), jax.tree.leaves(default(*args)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    predict = steps.make_predict_step(model._stateless_forward)
    np.testing.assert_allclose(predict(tv, ntv, [], x)[0],
                               jax.jit(predict.__wrapped__)(tv, ntv, [], x)[0],
                               rtol=1e-6, atol=1e-9)


class _Compiles:
    """Count XLA backend compilations in a block (JAX's monitoring event)."""

    def __enter__(self):
        self.count = 0

        def listen(event, duration, **kwargs):
            if event == "/jax/core/compile/backend_compile_duration":
                self.count += 1

        self._listen = listen
        jax.monitoring.register_event_duration_secs_listener(listen)
        return self

    def __exit__(self, *exc):
        jax.monitoring.unregister_event_duration_listener(self._listen)


def test_to_device_transfers_host_data_without_compiling():
    with _Compiles() as c:
        for shape in [(3,), (2, 5), (7, 1, 3)]:
            a = ucompile.to_device(np.arange(np.prod(shape), dtype=np.float64).reshape(shape))
            assert a.dtype == jnp.float32 and a.shape == shape  # canonicalized, as jnp.asarray
            np.testing.assert_array_equal(a, np.arange(np.prod(shape)).reshape(shape))
        assert ucompile.to_device(np.zeros((), bool)).dtype == jnp.bool_
        assert ucompile.to_device([1, 2], "int32").dtype == jnp.int32
        assert ucompile.to_device(0.5, "bfloat16").dtype == jnp.bfloat16
    assert c.count == 0


def test_to_device_passes_jax_arrays_through_and_casts():
    a = jnp.arange(3.0)
    assert ucompile.to_device(a) is a
    assert ucompile.to_device(a, "float32") is a
    b = ucompile.to_device(a, "int32")
    assert b.dtype == jnp.int32
    np.testing.assert_array_equal(b, [0, 1, 2])
