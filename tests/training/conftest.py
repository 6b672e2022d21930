"""Helpers for training-option tests: the same small model in unrolled and real Keras 3."""

import numpy as np
import pytest

TOL = 1e-5
N, T, F = 16, 5, 2


def assert_close(actual, expected, tol=TOL, err_msg=""):
    np.testing.assert_allclose(np.asarray(actual, "float64"), np.asarray(expected, "float64"),
                               rtol=tol, atol=tol, err_msg=err_msg)


@pytest.fixture(scope="module")
def data():
    """A fixed small regression/classification set: x (N, T, F), one-hot y (N, 3), ints."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(N, T, F)).astype("float32")
    classes = (np.digitize(x[:, :, 0].sum(1), [-1.0, 1.0])).astype("int64")
    return x, np.eye(3, dtype="float32")[classes], classes


def flat(x):
    """(N, T, F) -> (N, T*F) for the Dense-only model."""
    return x.reshape(len(x), -1)


@pytest.fixture(scope="module")
def make_pair(keras, sequential_pair, keras_weights):
    """``make_pair(specs=None)``: (unrolled, keras) models with Keras's initial weights in both."""

    def make(specs=None, input_shape=(T, F)):
        if specs == "dense":  # cheap to compile: for tests of model-agnostic options
            specs, input_shape = [("Dense", {"units": 4}), ("Dense", {"units": 3})], (T * F,)
        specs = specs or [("LSTM", {"units": 3}), ("Dense", {"units": 3})]
        u_model, k_model = sequential_pair(specs, input_shape)
        u_model.set_weights(keras_weights(k_model))
        return u_model, k_model

    return make


@pytest.fixture(scope="module")
def fit_both(keras_weights):
    """``fit_both(u, k, x, y, **fit_kwargs)`` -> (u_history, k_history, k_weights)."""

    def run(u_model, k_model, x, y, **kwargs):
        kwargs = {"batch_size": 8, "epochs": 2, "shuffle": False, "verbose": 0, **kwargs}
        h_u = u_model.fit(x, y, **kwargs)
        h_k = k_model.fit(x, y, **kwargs)
        return h_u, h_k, keras_weights(k_model)

    return run
