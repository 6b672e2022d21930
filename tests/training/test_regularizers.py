"""Regularizers, constraints and added losses, against real Keras 3 (oracle 1).

Keras's ``compute_loss`` adds ``model.losses`` (weight regularizers on the current weights,
activity regularizers and ``add_loss`` values of the call) to the compiled loss, and its
optimizer projects every constrained weight after each update. Same initial weights (through
``set_weights``), same data, unshuffled: the loss history, the final weights and ``losses``
must agree to float32 rounding.
"""

import numpy as np
import pytest

import unrolled
from unrolled import constraints, layers, regularizers
from unrolled.layers.random import SeedGenerator
from unrolled.training.steps import fresh_epoch_state, make_train_step

RTOL = 2e-6


def kw(model):
    """Keras's weights as arrays (its get_weights warns under NumPy 2)."""
    return [np.asarray(v.value) for v in model.weights]


def _data(n=20, t=6, f=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, t, f)).astype("float32"),
            rng.normal(size=(n, 1)).astype("float32"))


@pytest.mark.parametrize(("name", "kw"), [
    ("L1", {"l1": 0.3}), ("L2", {"l2": 0.05}), ("L1L2", {"l1": 0.1, "l2": 0.2}), ("L1L2", {}),
    ("OrthogonalRegularizer", {"factor": 0.2}),
    ("OrthogonalRegularizer", {"factor": 0.1, "mode": "columns"}),
])
def test_regularizer_values_and_configs(keras, name, kw, rng):
    w = rng.normal(size=(4, 6)).astype("float32")
    k, u = getattr(keras.regularizers, name)(**kw), getattr(regularizers, name)(**kw)
    np.testing.assert_allclose(float(u(w)), float(k(keras.ops.convert_to_tensor(w))), rtol=RTOL)
    assert u.get_config() == k.get_config()
    assert regularizers.serialize(u) == keras.regularizers.serialize(k)


@pytest.mark.parametrize("name", ["l1", "l2", "l1l2", "L2", "orthogonal_regularizer"])
def test_regularizers_by_name(keras, name):
    assert type(regularizers.get(name)).__name__ == type(keras.regularizers.get(name)).__name__
    assert regularizers.get(name).get_config() == keras.regularizers.get(name).get_config()


@pytest.mark.parametrize(("name", "kw"), [
    ("MaxNorm", {"max_value": 0.7}), ("MaxNorm", {"max_value": 1.5, "axis": 1}),
    ("NonNeg", {}), ("UnitNorm", {}), ("UnitNorm", {"axis": 1}),
    ("MinMaxNorm", {"min_value": 0.5, "max_value": 0.9, "rate": 0.7}),
])
def test_constraint_values_and_configs(keras, name, kw, rng):
    w = rng.normal(size=(4, 6)).astype("float32")
    k, u = getattr(keras.constraints, name)(**kw), getattr(constraints, name)(**kw)
    np.testing.assert_allclose(np.asarray(u(w)), np.asarray(k(w)), rtol=RTOL, atol=1e-7)
    assert u.get_config() == k.get_config()
    assert constraints.serialize(u) == keras.constraints.serialize(k)
    for alias in ("max_norm", "non_neg", "unit_norm", "min_max_norm"):
        assert type(constraints.get(alias)).__name__ == \
            type(keras.constraints.get(alias)).__name__


def test_unknown_names_say_what_exists():
    with pytest.raises(ValueError, match="Unknown regularizer 'l22'.*Did you mean 'l2'"):
        regularizers.get("l22")
    with pytest.raises(ValueError, match="Unknown constraint 'maxnorm'.*Did you mean"):
        constraints.get("maxnorm")
    with pytest.raises(ValueError, match="non-negative"):
        regularizers.L2(-1.0)


def _lstm_models(keras, activity=False, extra=None):
    extra = extra or {}

    def build(lib, regs, cons):
        act = {"activity_regularizer": regs.L1(0.01)} if activity else {}
        return lib.Sequential([
            lib.Input((6, 3)),
            lib.layers.LSTM(4, kernel_regularizer=regs.L2(0.05),
                            recurrent_constraint=cons.MaxNorm(0.5), **act, **extra),
            lib.layers.Dense(1, bias_regularizer="l1", kernel_constraint=cons.NonNeg()),
        ])

    k = build(keras, keras.regularizers, keras.constraints)
    u = build(unrolled, regularizers, constraints)
    u.set_weights(kw(k))
    return k, u


@pytest.mark.parametrize(("batch_size", "activity", "optimizer"), [
    (10, False, "adam"), (8, False, "sgd"),  # 8: a partial last batch (padded here)
    (8, True, "adam"),  # the activity loss sees the rows: the short last batch runs short
])
def test_fit_adds_regularization_and_applies_constraints_as_keras(keras, batch_size, activity,
                                                                   optimizer):
    x, y = _data()
    k, u = _lstm_models(keras, activity)
    np.testing.assert_allclose([float(v) for v in u.losses], [float(v) for v in k.losses],
                               rtol=RTOL)
    k.compile(optimizer, "mse")
    u.compile(optimizer, "mse")
    hk = k.fit(x, y, batch_size=batch_size, epochs=3, verbose=0, shuffle=False).history
    hu = u.fit(x, y, batch_size=batch_size, epochs=3, verbose=0, shuffle=False).history
    np.testing.assert_allclose(hu["loss"], hk["loss"], rtol=RTOL)
    for a, b in zip(u.get_weights(), kw(k), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # the constraints hold after training (Keras's projection ran after each update)
    rec = u.layers[0].cell.recurrent_kernel.numpy()
    assert np.sqrt((rec ** 2).sum(axis=0)).max() <= 0.5 + 1e-6
    assert u.layers[1].kernel.numpy().min() >= 0.0
    np.testing.assert_allclose(u.evaluate(x, y, batch_size=batch_size, verbose=0),
                               k.evaluate(x, y, batch_size=batch_size, verbose=0), rtol=RTOL)
    np.testing.assert_allclose([float(v) for v in u.losses], [float(v) for v in k.losses],
                               rtol=1e-5)


def test_activity_regularizer_losses_of_an_eager_call(keras):
    x, _ = _data(5)
    k, u = _lstm_models(keras, activity=True, extra={"return_sequences": True})
    k(x)
    u(x)
    got, want = [float(v) for v in u.losses], [float(v) for v in k.losses]
    assert len(got) == len(want) == 3
    np.testing.assert_allclose(got, want, rtol=RTOL)
    layer_u, layer_k = u.layers[0], k.layers[0]
    layer_u(x)
    layer_k(x)
    np.testing.assert_allclose([float(v) for v in layer_u.losses],
                               [float(v) for v in layer_k.losses], rtol=RTOL)


def _loss_layer(base, ops):
    class ActivityPenalty(base):
        def __init__(self, rate, **kwargs):
            super().__init__(**kwargs)
            self.rate = rate

        def call(self, inputs):
            self.add_loss(self.rate * ops.mean(ops.square(inputs)))
            return inputs

        def get_config(self):
            return {**super().get_config(), "rate": self.rate}

    return ActivityPenalty


def test_add_loss_enters_fit_and_evaluate_as_keras(keras):
    x, y = _data(21)

    def build(lib, ops):
        return lib.Sequential([lib.Input((6, 3)), lib.layers.LSTM(4),
                               _loss_layer(lib.layers.Layer, ops)(0.5), lib.layers.Dense(1)])

    k, u = build(keras, keras.ops), build(unrolled, unrolled.ops)
    u.set_weights(kw(k))
    k.compile("adam", "mse")
    u.compile("adam", "mse")
    hk = k.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False).history
    hu = u.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False).history
    np.testing.assert_allclose(hu["loss"], hk["loss"], rtol=RTOL)
    np.testing.assert_allclose(u.evaluate(x, y, verbose=0), k.evaluate(x, y, verbose=0),
                               rtol=RTOL)
    for a, b in zip(u.get_weights(), kw(k), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    k(x[:4])
    u(x[:4])
    np.testing.assert_allclose([float(v) for v in u.losses], [float(v) for v in k.losses],
                               rtol=RTOL)


def test_configs_are_keras_configs(keras):
    k, u = _lstm_models(keras, activity=True)
    for lk, lu in zip(k.layers, u.layers, strict=True):
        ck, cu = lk.get_config(), lu.get_config()
        for key in ck:
            if "regularizer" in key or "constraint" in key:
                assert cu[key] == ck[key], key


@pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
def test_keras_file_with_regularizers_and_constraints_loads(keras, tmp_path):
    x, y = _data(12)
    k, _ = _lstm_models(keras, activity=True)
    k.compile("adam", "mse")
    k.fit(x, y, batch_size=4, epochs=1, verbose=0)
    path = str(tmp_path / "reg.keras")
    k.save(path)
    u = unrolled.models.load_model(path)
    np.testing.assert_allclose(u.predict(x, verbose=0), k.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose([float(v) for v in u.losses], [float(v) for v in k.losses],
                               rtol=1e-5)
    assert u.layers[0].cell.recurrent_constraint.get_config() == {"max_value": 0.5, "axis": 0}
    # and back: unrolled's file loads in Keras with the same penalties
    u.save(str(tmp_path / "again.keras"))
    back = keras.models.load_model(str(tmp_path / "again.keras"))
    np.testing.assert_allclose([float(v) for v in back.losses], [float(v) for v in k.losses],
                               rtol=1e-5)
    assert back.layers[0].get_config()["kernel_regularizer"] == \
        k.layers[0].get_config()["kernel_regularizer"]


def test_a_model_without_penalties_compiles_the_same_step():
    x, y = _data(8)
    model = unrolled.Sequential([layers.Input((6, 3)), layers.LSTM(4), layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(x, y, epochs=1, verbose=0)
    spec, trainer = model._training_spec(), model._trainer
    plain = make_train_step(spec.forward, trainer.loss, trainer.metrics, trainer._tx)
    with_losses = make_train_step(spec.forward, trainer.loss, trainer.metrics, trainer._tx,
                                  spec.loss_forward, spec.constraints)
    ones = np.ones(8, np.float32)
    call = ([w.value for w in spec.trainable], [w.value for w in spec.non_trainable],
            trainer.opt_state, fresh_epoch_state(trainer.metrics), x, y, ones, ones,
            SeedGenerator(0).next())
    assert plain.lower(*call).as_text() == with_losses.lower(*call).as_text()
