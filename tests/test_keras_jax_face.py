"""Keras's JAX face (issue 12 item 4), each against real Keras 3 on the same weights.

`stateless_call`, `trainable_variables`/`non_trainable_variables`, `Variable` as an array,
optimizers' and metrics' stateless methods, a custom `train_step(state, data)` and optax
optimizers and schedules in `compile`.
"""


import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import unrolled

X = np.random.default_rng(0).random((10, 5, 3), dtype=np.float32)
Y = np.random.default_rng(1).random((10, 1), dtype=np.float32)


def values(variables):
    return [v.value for v in variables]


def weights_of(model):
    """NumPy copies of the weights (Keras's get_weights warns under NumPy 2)."""
    return [np.array(w.value) for w in model.weights]


def pair(keras, layers=("lstm", "dense")):
    """The same small Sequential in Keras and unrolled, with Keras's weights in both."""
    def build(mod):
        stack = {"lstm": lambda: mod.layers.LSTM(4),
                 "lstm_dropout": lambda: mod.layers.LSTM(4, dropout=0.2),
                 "dropout": lambda: mod.layers.Dropout(0.3),
                 "bn": lambda: mod.layers.BatchNormalization(),
                 "dense": lambda: mod.layers.Dense(1)}
        return mod.Sequential([mod.Input((5, 3)), *(stack[name]() for name in layers)])

    k, u = build(keras), build(unrolled)
    u.set_weights(weights_of(k))
    return k, u


def test_variable_lists_are_keras_lists(keras):
    k, u = pair(keras, ("lstm_dropout", "dropout", "bn", "dense"))
    for name in ("trainable_variables", "non_trainable_variables"):
        assert [v.path for v in getattr(u, name)] == [v.path for v in getattr(k, name)], name
    assert all(a is b for a, b in zip(u.trainable_variables, u.trainable_weights, strict=True))
    weights = {id(w) for w in u.non_trainable_weights}
    assert [v for v in u.non_trainable_variables if id(v) in weights] == u.non_trainable_weights
    lstm = u.layers[0]
    assert [v.path for v in lstm.trainable_variables] == \
        [v.path for v in k.layers[0].trainable_variables]


def test_stateless_call_matches_keras_under_jit_and_grad(keras):
    k, u = pair(keras, ("lstm", "bn", "dense"))
    ktv, kntv = values(k.trainable_variables), values(k.non_trainable_variables)
    utv, untv = values(u.trainable_variables), values(u.non_trainable_variables)
    want, _ = k.stateless_call(ktv, kntv, X)
    got, new = jax.jit(lambda tv, ntv, x: u.stateless_call(tv, ntv, x))(utv, untv, X)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert len(new) == len(untv)

    def loss(model, tv, ntv):
        y, ntv = model.stateless_call(tv, ntv, X, training=True)
        return jnp.mean((y - Y) ** 2), ntv

    (lk, nk), gk = jax.value_and_grad(lambda tv: loss(k, tv, kntv), has_aux=True)(ktv)
    (lu, nu), gu = jax.jit(jax.value_and_grad(lambda tv: loss(u, tv, untv), has_aux=True))(utv)
    np.testing.assert_allclose(lu, lk, rtol=1e-6)
    for a, b in zip(gu, gk, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # the batch statistics come back as the new non-trainable values, as Keras's
    for a, b in zip(nu[1:], nk[1:], strict=True):  # [0] is the LSTM's seed state
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(weights_of(u)[3], weights_of(k)[3])  # model unchanged


def test_stateless_call_dropout_draws_fresh_masks_from_the_seed_state(keras):
    _, u = pair(keras, ("lstm_dropout", "dropout", "dense"))
    call = jax.jit(lambda tv, ntv: u.stateless_call(tv, ntv, X, training=True))
    tv = values(u.trainable_variables)
    y1, ntv1 = call(tv, values(u.non_trainable_variables))
    y2, ntv2 = call(tv, ntv1)
    y1b, _ = call(tv, values(u.non_trainable_variables))
    assert not np.allclose(y1, y2)  # the state advanced, so new masks
    np.testing.assert_array_equal(y1, y1b)  # same state, same masks: pure
    assert [int(s[1]) for s in ntv2[:2]] == [2, 2]


def test_jax_custom_training_loop_matches_keras(keras):
    """Keras's guide "Writing a training loop from scratch in JAX", on both models."""
    k, u = pair(keras)
    out = {}
    for mod, model in ((keras, k), (unrolled, u)):
        optimizer = mod.optimizers.Adam(learning_rate=1e-2)
        loss_fn = mod.losses.MeanSquaredError()

        def compute_loss_and_updates(tv, ntv, x, y, model=model, loss_fn=loss_fn):
            y_pred, ntv = model.stateless_call(tv, ntv, x)
            return loss_fn(y, y_pred), ntv

        grad_fn = jax.value_and_grad(compute_loss_and_updates, has_aux=True)

        @jax.jit
        def train_step(state, data, grad_fn=grad_fn, optimizer=optimizer):
            tv, ntv, opt_vars = state
            (loss, ntv), grads = grad_fn(tv, ntv, *data)
            tv, opt_vars = optimizer.stateless_apply(opt_vars, grads, tv)
            return loss, (tv, ntv, opt_vars)

        optimizer.build(model.trainable_variables)
        state = (values(model.trainable_variables), values(model.non_trainable_variables),
                 values(optimizer.variables))
        losses = []
        for step in range(6):
            batch = slice(2 * (step % 5), 2 * (step % 5) + 2)
            loss, state = train_step(state, (X[batch], Y[batch]))
            losses.append(float(loss))
        for var, value in zip(model.trainable_variables, state[0], strict=True):
            var.assign(value)
        for var, value in zip(model.non_trainable_variables, state[1], strict=True):
            var.assign(value)
        out[mod.__name__] = losses, weights_of(model)
    np.testing.assert_allclose(out["unrolled"][0], out["keras"][0], rtol=1e-5)
    for a, b in zip(out["unrolled"][1], out["keras"][1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


OPERATIONS = ["k + 1", "1 - k", "k * 2", "k / 2", "2 / (k + 3)", "k ** 2", "k % 0.3",
              "k // 0.1", "abs(k)", "-k", "+k", "k < 0", "k >= 0", "x @ k", "k[1]",
              "np.asarray(k)", "jnp.asarray(k)", "jnp.array(k)", "float(b[0])", "int(b[0] + 2)",
              "k.ndim", "jax.jit(lambda x: x @ k)(x)"]


@pytest.mark.parametrize("expr", OPERATIONS)
def test_variable_as_an_array_like_keras(keras, expr):
    layers = {}
    for mod in (keras, unrolled):
        layer = mod.layers.Dense(2)
        layer.build((None, 3))
        layers[mod.__name__] = layer
    unrolled_layer = layers["unrolled"]
    unrolled_layer.set_weights(weights_of(layers["keras"]))
    unrolled_layer.bias.assign(np.array([0.7, -1.2], np.float32))
    layers["keras"].bias.assign(np.array([0.7, -1.2], np.float32))
    x = np.ones((1, 3), np.float32)
    results = {name: eval(expr, {"np": np, "jnp": jnp, "jax": jax,  # noqa: S307
                                 "k": layer.kernel, "b": layer.bias, "x": x})
               for name, layer in layers.items()}
    np.testing.assert_allclose(np.asarray(results["unrolled"]), np.asarray(results["keras"]),
                               rtol=1e-6)


def test_jnp_function_on_a_variable_behaves_as_keras(keras):
    """``jnp.dot(x, kernel)``: JAX 0.10 refuses ``__jax_array__`` objects inside jnp
    functions; whatever this JAX does, unrolled's variable does what Keras's does."""
    x = np.ones((1, 3), np.float32)
    outcome = {}
    for mod in (keras, unrolled):
        layer = mod.layers.Dense(2, kernel_initializer="ones")
        layer.build((None, 3))
        try:
            outcome[mod.__name__] = np.asarray(jnp.dot(x, layer.kernel))
        except (TypeError, ValueError) as error:
            outcome[mod.__name__] = type(error)
    if isinstance(outcome["keras"], type):
        assert outcome["unrolled"] is outcome["keras"]
    else:
        np.testing.assert_array_equal(outcome["unrolled"], outcome["keras"])


def custom_model_class(base):
    """The subclass of Keras's guide "Customizing what happens in fit() with JAX", verbatim."""

    class CustomModel(base):
        def compute_loss_and_updates(self, trainable_variables, non_trainable_variables, x, y,
                                     training=False):
            y_pred, non_trainable_variables = self.stateless_call(
                trainable_variables, non_trainable_variables, x, training=training)
            loss = self.compute_loss(x, y, y_pred)
            return loss, (y_pred, non_trainable_variables)

        def train_step(self, state, data):
            (trainable_variables, non_trainable_variables, optimizer_variables,
             metrics_variables) = state
            x, y = data
            grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
            (loss, (y_pred, non_trainable_variables)), grads = grad_fn(
                trainable_variables, non_trainable_variables, x, y, training=True)
            trainable_variables, optimizer_variables = self.optimizer.stateless_apply(
                optimizer_variables, grads, trainable_variables)
            new_metrics_vars, logs = [], {}
            for metric in self.metrics:
                this_metric_vars = metrics_variables[
                    len(new_metrics_vars):len(new_metrics_vars) + len(metric.variables)]
                if metric.name == "loss":
                    this_metric_vars = metric.stateless_update_state(this_metric_vars, loss)
                else:
                    this_metric_vars = metric.stateless_update_state(this_metric_vars, y,
                                                                     y_pred)
                logs[metric.name] = metric.stateless_result(this_metric_vars)
                new_metrics_vars += this_metric_vars
            state = (trainable_variables, non_trainable_variables, optimizer_variables,
                     new_metrics_vars)
            return logs, state

    return CustomModel


def test_custom_train_step_fit_matches_keras(keras):
    out, weights = {}, None
    for mod in (keras, unrolled):
        inputs = mod.Input(shape=(5, 3))
        model = custom_model_class(mod.Model)(inputs, mod.layers.Dense(1)(
            mod.layers.LSTM(4)(inputs)))
        if weights is None:
            weights = weights_of(model)
        else:
            model.set_weights(weights)
        model.compile(optimizer="adam", loss="mse", metrics=["mae"])
        history = model.fit(X, Y, epochs=3, batch_size=4, verbose=0, shuffle=False)
        out[mod.__name__] = history.history, weights_of(model), model.optimizer.iterations
    assert set(out["unrolled"][0]) == set(out["keras"][0]) == {"loss", "mae"}
    for key, want in out["keras"][0].items():
        np.testing.assert_allclose(out["unrolled"][0][key], want, rtol=1e-5)
    for a, b in zip(out["unrolled"][1], out["keras"][1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert int(out["unrolled"][2]) == int(out["keras"][2]) == 9


def test_default_train_step_is_kept_when_not_overridden():
    model = unrolled.Sequential([unrolled.Input((5, 3)), unrolled.layers.Dense(1)])
    assert not model._has_custom_train_step()
    inputs = unrolled.Input((5, 3))
    custom = custom_model_class(unrolled.Model)(inputs, unrolled.layers.Dense(1)(inputs))
    assert custom._has_custom_train_step()
    assert isinstance(custom, unrolled.models.functional.Functional)


def fit_both(keras, keras_optimizer, unrolled_optimizer):
    """Fit the same LSTM from the same weights in Keras and unrolled; return both weights."""
    out = []
    for model, optimizer in zip(pair(keras), (keras_optimizer, unrolled_optimizer),
                                strict=True):
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(X, Y, epochs=2, batch_size=4, verbose=0, shuffle=False)
        out.append(weights_of(model))
    return out


def test_optax_transformation_in_compile_matches_keras_sgd(keras):
    want, got = fit_both(keras, keras.optimizers.SGD(0.1, momentum=0.9),
                         optax.sgd(0.1, momentum=0.9))
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_optax_schedule_as_learning_rate_matches_keras_schedule(keras):
    decay = {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5}
    schedule = optax.exponential_decay(0.1, transition_steps=3, decay_rate=0.5)
    want, got = fit_both(
        keras, keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(**decay)),
        unrolled.optimizers.SGD(schedule))
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_optax_state_round_trips_through_weights_file(keras, tmp_path):
    _, u = pair(keras)
    u.compile(optimizer=optax.adam(1e-2), loss="mse")
    u.fit(X, Y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    path = str(tmp_path / "m.weights.h5")
    u.save_weights(path)
    _, v = pair(keras)
    v.compile(optimizer=optax.adam(1e-2), loss="mse")
    v.load_weights(path)
    assert v.optimizer.iterations == u.optimizer.iterations == 3
    for a, b in zip(jax.tree.leaves(v._opt_state), jax.tree.leaves(u._opt_state),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    for model in (u, v):  # and both continue identically
        model.fit(X, Y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    for a, b in zip(weights_of(u), weights_of(v), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.warns(UserWarning, match="saved uncompiled"):
        u.save(str(tmp_path / "m.keras"))
    assert not unrolled.models.load_model(str(tmp_path / "m.keras")).compiled
