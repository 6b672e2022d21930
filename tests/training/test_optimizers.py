"""Optimizers and learning-rate schedules against real Keras 3 on JAX (oracle 1).

Same initial weights, same batches (fit with shuffle=False): the loss history and the weights
after 4 updates must match Keras to 1e-5.
"""

import numpy as np
import pytest

from conftest import assert_close, flat
from unrolled import optimizers
from unrolled.optimizers import schedules

CASES = [
    ("SGD", {"learning_rate": 0.1}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("RMSprop", {}),
    ("RMSprop", {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.5, "centered": True}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
    ("Adam", {"learning_rate": 0.05, "clipnorm": 0.1}),
    ("SGD", {"learning_rate": 0.5, "clipvalue": 0.01}),
    ("RMSprop", {"learning_rate": 0.01, "global_clipnorm": 0.2}),
    ("SGD", {"learning_rate": 0.1, "weight_decay": 0.05}),
]


@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{'-'.join(k)}" for n, k in CASES])
def test_optimizer_matches_keras(keras, make_pair, fit_both, data, name, kwargs):
    x, y, _ = data
    x = flat(x)
    u_model, k_model = make_pair("dense")
    u_model.compile(optimizer=getattr(optimizers, name)(**kwargs), loss="categorical_crossentropy")
    k_model.compile(optimizer=getattr(keras.optimizers, name)(**kwargs),
                    loss="categorical_crossentropy")
    h_u, h_k, k_weights = fit_both(u_model, k_model, x, y)
    assert_close(h_u.history["loss"], h_k.history["loss"])
    for a, b in zip(u_model.get_weights(), k_weights, strict=True):
        assert_close(a, b)
    assert u_model.optimizer.iterations == 4


@pytest.mark.parametrize("make", [
    lambda s: s.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5),
    lambda s: s.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5, staircase=True),
    lambda s: s.CosineDecay(0.1, decay_steps=7, alpha=0.1),
    lambda s: s.CosineDecay(0.0, decay_steps=6, warmup_target=0.2, warmup_steps=4),
], ids=["exp", "exp-staircase", "cosine", "cosine-warmup"])
def test_schedule_values_per_step(keras, make):
    ours, theirs = make(schedules), make(keras.optimizers.schedules)
    for step in range(14):
        assert_close(ours(step), theirs(step), tol=1e-7, err_msg=f"step {step}")


def test_schedule_drives_training_like_keras(keras, make_pair, fit_both, data):
    x, y, _ = data
    x = flat(x)
    u_model, k_model = make_pair("dense")
    u_model.compile(optimizer=optimizers.SGD(
        schedules.ExponentialDecay(0.5, decay_steps=2, decay_rate=0.3, staircase=True)),
        loss="categorical_crossentropy")
    k_model.compile(optimizer=keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(
        0.5, decay_steps=2, decay_rate=0.3, staircase=True)), loss="categorical_crossentropy")
    h_u, h_k, k_weights = fit_both(u_model, k_model, x, y)
    assert_close(h_u.history["loss"], h_k.history["loss"])
    for a, b in zip(u_model.get_weights(), k_weights, strict=True):
        assert_close(a, b)
    assert_close(u_model.optimizer.learning_rate, float(k_model.optimizer.learning_rate))
    with pytest.raises(TypeError, match="not settable"):
        u_model.optimizer.learning_rate = 0.1


def test_default_rmsprop_and_train_on_batch(keras, make_pair, data, keras_weights):
    """compile() without an optimizer is RMSprop, as Keras; 3 train_on_batch steps agree."""
    x, y, _ = data
    u_model, k_model = make_pair()
    u_model.compile(loss="mse")
    k_model.compile(loss="mse")
    assert isinstance(u_model.optimizer, optimizers.RMSprop)
    for step in range(3):
        batch = slice(4 * step, 4 * step + 4)
        assert_close(u_model.train_on_batch(x[batch], y[batch]),
                     k_model.train_on_batch(x[batch], y[batch]))
    for a, b in zip(u_model.get_weights(), keras_weights(k_model), strict=True):
        assert_close(a, b)


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "rmsprop", "adagrad", "RMSprop"])
def test_names_resolve_like_keras(keras, name):
    ours, theirs = optimizers.get(name), keras.optimizers.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    assert_close(ours.learning_rate, float(theirs.learning_rate))


def test_config_round_trip():
    opt = optimizers.SGD(schedules.CosineDecay(0.1, 10), momentum=0.5, clipnorm=1.0)
    again = optimizers.SGD.from_config(opt.get_config())
    assert again.get_config() == opt.get_config()


@pytest.mark.parametrize("call, match", [
    (lambda: optimizers.get("adamax"), r"Unknown optimizer 'adamax'.*'rmsprop'"),
    (lambda: optimizers.SGD(learning_rate=-0.1), "learning_rate.*non-negative"),
    (lambda: optimizers.SGD(momentum=1.5), r"momentum.*\[0, 1\]"),
    (lambda: optimizers.RMSprop(rho=-0.1), r"rho.*\[0, 1\]"),
    (lambda: optimizers.Adam(beta_1=2.0), r"beta_1.*\[0, 1\]"),
    (lambda: optimizers.Adagrad(initial_accumulator_value=-1), "initial_accumulator_value"),
    (lambda: optimizers.Adam(clipnorm=1.0, clipvalue=1.0), "at most one"),
    (lambda: optimizers.AdamW(weight_decay=None), "weight_decay"),
    (lambda: optimizers.Adam(use_ema=True), "use_ema"),
    (lambda: schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5), "decay_steps"),
])
def test_invalid_hyperparameters(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_learning_rate_setter_validates():
    opt = optimizers.Adam()
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = float("nan")
    assert np.float32(optimizers.Adam(learning_rate=0.1).learning_rate) == np.float32(0.1)
