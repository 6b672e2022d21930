"""GRU and GRUCell: Keras layout and paths (oracle 1), gradients (oracle 3), configs."""

import jax
import numpy as np
import pytest

import unrolled
from unrolled.ops.gru import gru


@pytest.mark.parametrize("reset_after", [True, False])
def test_weights_layout_and_paths_match_keras(keras, reset_after):
    k_model = keras.Sequential([keras.Input((4, 3)), keras.layers.GRU(5, reset_after=reset_after)])
    u_model = unrolled.models.Sequential([unrolled.layers.Input(shape=(4, 3)),
                                          unrolled.layers.GRU(5, reset_after=reset_after)])
    assert [w.path for w in u_model.weights] == [w.path for w in k_model.weights]
    assert [w.shape for w in u_model.weights] == [tuple(w.shape) for w in k_model.weights]
    assert u_model.count_params() == k_model.count_params()


@pytest.mark.parametrize("reset_after", [True, False])
def test_rnn_of_gru_cell_matches_keras(keras, reset_after):
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    k_layer = keras.layers.RNN(keras.layers.GRUCell(3, reset_after=reset_after),
                               return_sequences=True)
    u_layer = unrolled.layers.RNN(unrolled.layers.GRUCell(3, reset_after=reset_after),
                                  return_sequences=True)
    k_out = np.asarray(k_layer(x))
    u_layer(x)
    u_layer.set_weights([np.asarray(w.value) for w in k_layer.weights])
    assert [w.path for w in u_layer.weights] == [w.path for w in k_layer.weights]
    np.testing.assert_allclose(u_layer(x), k_out, atol=1e-5)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gradient_matches_float64_finite_differences(x64, reset_after):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 2))
    kernel, rec = rng.normal(size=(2, 6)) * 0.5, rng.normal(size=(2, 6)) * 0.5
    bias = rng.normal(size=(2, 6) if reset_after else (6,))
    mask = np.array([[True, False, True], [False, True, True]])

    def loss(k):
        return gru(x, k, rec, bias, reset_after=reset_after, mask=mask)[1].sum()

    grad = np.asarray(jax.grad(loss)(kernel))
    eps, numeric = 1e-6, np.zeros_like(kernel)
    for idx in np.ndindex(kernel.shape):
        d = np.zeros_like(kernel)
        d[idx] = eps
        numeric[idx] = (loss(kernel + d) - loss(kernel - d)) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_config_round_trip_and_keras_keys(keras):
    layer = unrolled.layers.GRU(3, reset_after=False, go_backwards=True, dropout=0.25)
    config = layer.get_config()
    again = unrolled.layers.GRU.from_config(config)
    assert again.get_config() == config
    k_keys = set(keras.layers.GRU(3).get_config())
    assert set(config) == k_keys
    x = np.ones((1, 2, 4), "float32")
    layer(x)
    again(x)
    again.set_weights(layer.get_weights())
    np.testing.assert_array_equal(again(x), layer(x))


def test_recurrent_dropout_switches_to_implementation_1_as_keras():
    assert unrolled.layers.GRUCell(2, recurrent_dropout=0.1).implementation == 1
