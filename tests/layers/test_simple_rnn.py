"""SimpleRNN and SimpleRNNCell: Keras paths (oracle 1), step-by-step equals scan (oracle 4)."""

import numpy as np

import unrolled
from unrolled.ops.simple_rnn import simple_rnn, simple_rnn_step


def test_paths_and_cell_form_match_keras(keras):
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    k_layer = keras.layers.RNN(keras.layers.SimpleRNNCell(3, activation="relu"),
                               go_backwards=True)
    u_layer = unrolled.layers.RNN(unrolled.layers.SimpleRNNCell(3, activation="relu"),
                                  go_backwards=True)
    k_out = np.asarray(k_layer(x))
    u_layer(x)
    u_layer.set_weights([np.asarray(w.value) for w in k_layer.weights])
    assert [w.path for w in u_layer.weights] == [w.path for w in k_layer.weights]
    np.testing.assert_allclose(u_layer(x), k_out, atol=1e-5)


def test_scan_equals_python_loop_with_holes():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    k, rk, b = (rng.normal(size=s).astype("float32") for s in [(3, 4), (4, 4), (4,)])
    mask = np.array([[1, 0, 1, 1, 0], [0, 1, 1, 0, 1]], bool)
    last, seq, (h,) = simple_rnn(x, k, rk, b, mask=mask)
    state = np.zeros((2, 4), "float32")
    for t in range(5):
        new = np.asarray(simple_rnn_step(x[:, t] @ k + b, state, rk))
        state = np.where(mask[:, t:t + 1], new, state)
        np.testing.assert_allclose(seq[:, t], state, atol=1e-6)
    np.testing.assert_allclose(h, state, atol=1e-6)
    np.testing.assert_allclose(last, state, atol=1e-6)


def test_config_round_trip_and_keras_keys(keras):
    layer = unrolled.layers.SimpleRNN(3, activation="relu", return_sequences=True)
    config = layer.get_config()
    assert unrolled.layers.SimpleRNN.from_config(config).get_config() == config
    assert set(config) == set(keras.layers.SimpleRNN(3).get_config())
    cell = unrolled.layers.RNN([unrolled.layers.SimpleRNNCell(2), unrolled.layers.GRUCell(3)])
    again = unrolled.layers.RNN.from_config(cell.get_config())
    assert [type(c).__name__ for c in again.cell.cells] == ["SimpleRNNCell", "GRUCell"]
