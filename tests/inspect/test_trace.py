"""trace() against real Keras 3 (oracle 1) and the model's own forward pass (oracle 4)."""

import numpy as np
import pytest
from inspect_helpers import lstm_model, masked_batch, randomize

from unrolled import inspect, layers, models

ATOL = 1e-6


def keras_run(keras, name, unrolled_layer, x, mask, **kwargs):
    """The same layer in Keras with the same weights, called with the same mask."""
    layer = getattr(keras.layers, name)(unrolled_layer.cell.units, return_sequences=True,
                                        return_state=True, **kwargs)
    layer(x[:1], mask=mask[:1])
    layer.set_weights(unrolled_layer.get_weights())
    return [np.asarray(a) for a in layer(x, mask=mask)]


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("units", [1, 4])
def test_lstm_trace_equals_keras(keras, rng, go_backwards, units):
    x = masked_batch(rng, 4, 6, 2)
    x[3] = 0.0  # a fully masked row
    model = lstm_model(units, return_sequences=True, go_backwards=go_backwards)
    tr = inspect.trace(model, x)
    seq, h, c = keras_run(keras, "LSTM", model.layers[1], x, x.any(-1),
                          go_backwards=go_backwards)
    np.testing.assert_allclose(tr.hidden, seq, atol=ATOL)  # carried h at masked steps too
    np.testing.assert_allclose(tr.hidden[:, -1], h, atol=ATOL)
    np.testing.assert_allclose(tr.cell[:, -1], c, atol=ATOL)
    np.testing.assert_allclose(tr.output, model.predict(x, verbose=0), atol=ATOL)
    order = slice(None, None, -1) if go_backwards else slice(None)
    np.testing.assert_array_equal(tr.mask, x.any(-1)[:, order])


def test_lstm_gates_rebuild_the_states(rng):
    """c_t = f*c_(t-1) + i*c~ and h_t = o*tanh(c_t) at valid steps; carried at masked ones."""
    x = masked_batch(rng, 3, 6, 2)
    tr = inspect.trace(lstm_model(3), x)
    c_prev = np.concatenate([np.zeros_like(tr.cell[:, :1]), tr.cell[:, :-1]], axis=1)
    h_prev = np.concatenate([np.zeros_like(tr.hidden[:, :1]), tr.hidden[:, :-1]], axis=1)
    c_new = tr.forget_gate * c_prev + tr.input_gate * tr.candidate
    keep = tr.mask[..., None]
    np.testing.assert_allclose(tr.cell, np.where(keep, c_new, c_prev), atol=ATOL)
    np.testing.assert_allclose(tr.hidden, np.where(keep, tr.output_gate * np.tanh(tr.cell),
                                                   h_prev), atol=ATOL)
    for name, z in tr.pre_activations.items():
        act = np.tanh(z) if name == "candidate" else 1 / (1 + np.exp(-z))
        np.testing.assert_allclose(tr.gates[name], act, atol=ATOL)


def test_stacked_layers_trace_each_layer_and_the_prediction(rng):
    x = masked_batch(rng, 3, 7, 2)
    model = models.Sequential([layers.Input(shape=(7, 2)), layers.Masking(0.0),
                               layers.LSTM(3, return_sequences=True), layers.LSTM(4),
                               layers.Dense(2)])
    randomize(model)
    first, second = inspect.trace(model, x, layer=1), inspect.trace(model, x, layer="lstm_1")
    np.testing.assert_allclose(second.inputs, first.output, atol=ATOL)
    w, b = model.layers[-1].get_weights()
    np.testing.assert_allclose(second.output @ w + b, model.predict(x, verbose=0), atol=ATOL)
    # return_sequences=False returns h at the last valid step
    last = [second.last_valid_step(i) for i in range(3)]
    np.testing.assert_allclose(second.output, second.hidden[np.arange(3), last], atol=ATOL)


@pytest.mark.parametrize("name, kwargs", [("GRU", {"reset_after": True}),
                                          ("GRU", {"reset_after": False}),
                                          ("SimpleRNN", {})])
def test_gru_and_simple_rnn_trace_equals_keras(keras, rng, name, kwargs):
    x = masked_batch(rng, 3, 5, 2)
    model = models.Sequential([layers.Input(shape=(5, 2)), layers.Masking(0.0),
                               getattr(layers, name)(3, return_sequences=True, **kwargs)])
    randomize(model)
    tr = inspect.trace(model, x)
    seq, *_ = keras_run(keras, name, model.layers[1], x, x.any(-1), **kwargs)
    np.testing.assert_allclose(tr.hidden, seq, atol=ATOL)
    np.testing.assert_allclose(tr.output, model.predict(x, verbose=0), atol=ATOL)
    expected = ["update_gate", "reset_gate", "candidate"] if name == "GRU" else ["candidate"]
    assert list(tr.gates) == expected


@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_trace_equals_keras(keras, rng, return_sequences):
    x = masked_batch(rng, 3, 5, 2)
    model = models.Sequential([layers.Input(shape=(5, 2)), layers.Masking(0.0),
                               layers.Bidirectional(layers.LSTM(
                                   2, return_sequences=return_sequences))])
    randomize(model)
    tr = inspect.trace(model, x)
    k_layer = keras.layers.Bidirectional(keras.layers.LSTM(2, return_sequences=return_sequences))
    k_layer(x[:1], mask=x[:1].any(-1))
    k_layer.set_weights(model.get_weights())
    expected = np.asarray(k_layer(x, mask=x.any(-1)))
    np.testing.assert_allclose(tr.output, expected, atol=ATOL)
    assert tr.backward.go_backwards and not tr.forward.go_backwards


def test_errors_say_what_is_wrong(rng):
    dense = models.Sequential([layers.Input(shape=(4, 2)), layers.Dense(3)])
    with pytest.raises(ValueError, match="no recurrent layer"):
        inspect.trace(dense, np.zeros((1, 4, 2), "float32"))
    model = lstm_model(2, t=4)
    with pytest.raises(ValueError, match="not a recurrent layer.*'lstm'"):
        inspect.trace(model, np.zeros((1, 4, 2), "float32"), layer="dense_99")
    with pytest.raises(ValueError, match=r"x\[None\]"):
        inspect.trace(model, np.zeros((4, 2), "float32"))
    with pytest.raises(ValueError, match="expects 2 features"):
        inspect.trace(model, np.zeros((1, 4, 3), "float32"))
    bad = np.zeros((1, 4, 2), "float32")
    bad[0, 1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        inspect.trace(model, bad)
    with pytest.raises(AttributeError, match="forget_gate"):
        inspect.trace(model, np.ones((1, 4, 2), "float32")).reset_gate  # noqa: B018
