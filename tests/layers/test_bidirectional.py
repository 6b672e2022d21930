"""Bidirectional against real Keras 3 (oracle 1, 1e-5): merge modes, masks, states, paths."""

import numpy as np
import pytest

import unrolled

MASK = np.array([[1, 1, 0, 1], [0, 0, 1, 1], [0, 0, 0, 0]], bool)


def _x():
    return np.random.default_rng(0).normal(size=(3, 4, 2)).astype("float32")


def _pair(keras, name, kwargs, **bi):
    k_layer = keras.layers.Bidirectional(getattr(keras.layers, name)(**kwargs), **bi)
    u_layer = unrolled.layers.Bidirectional(getattr(unrolled.layers, name)(**kwargs), **bi)
    k_layer.build((3, 4, 2))
    u_layer._maybe_build((3, 4, 2))
    assert [w.path for w in u_layer.weights] == [w.path for w in k_layer.weights]
    u_layer.set_weights([np.asarray(w.value) for w in k_layer.weights])
    return k_layer, u_layer


def _np(out):
    return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else [np.asarray(out)]


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul", None])
@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_masked_sequences_match_keras(keras, name, merge_mode):
    k_layer, u_layer = _pair(keras, name, {"units": 3, "return_sequences": True},
                             merge_mode=merge_mode)
    for got, want in zip(_np(u_layer(_x(), mask=MASK)), _np(k_layer(_x(), mask=MASK)),
                         strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_return_state_and_initial_state_halves_match_keras(keras):
    k_layer, u_layer = _pair(keras, "LSTM", {"units": 3, "return_state": True})
    init = [np.random.default_rng(i).normal(size=(3, 3)).astype("float32") for i in range(4)]
    got = _np(u_layer(_x(), initial_state=init, mask=MASK))
    want = _np(k_layer(_x(), initial_state=init, mask=MASK))
    assert len(got) == 5
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, atol=1e-5)


def test_custom_backward_layer_matches_keras(keras):
    outs = []
    for lib in (keras, unrolled):
        fwd = lib.layers.SimpleRNN(2, return_sequences=True)
        bwd = lib.layers.GRU(2, go_backwards=True, return_sequences=True)
        layer = lib.layers.Bidirectional(fwd, backward_layer=bwd)
        outs.append(layer)
    k_layer, u_layer = outs
    k_layer.build((3, 4, 2))
    u_layer._maybe_build((3, 4, 2))
    u_layer.set_weights([np.asarray(w.value) for w in k_layer.weights])
    np.testing.assert_allclose(u_layer(_x(), mask=MASK), k_layer(_x(), mask=MASK), atol=1e-5)


def test_stateful_bidirectional_resets():
    layer = unrolled.layers.Bidirectional(unrolled.layers.GRU(2, stateful=True))
    first = layer(_x())
    assert not np.allclose(layer(_x()), first)
    layer.reset_states()
    np.testing.assert_allclose(layer(_x()), first, atol=1e-6)
    with pytest.raises(AttributeError, match="not stateful"):
        unrolled.layers.Bidirectional(unrolled.layers.GRU(2)).reset_state()


@pytest.mark.parametrize("make, message", [
    (lambda L: L.Bidirectional(L.Dense(3)), "wraps a recurrent layer"),
    (lambda L: L.Bidirectional(L.LSTM(3), merge_mode="max"), "merge_mode"),
    (lambda L: L.Bidirectional(L.LSTM(3), backward_layer=L.LSTM(3)), "go_backwards"),
    (lambda L: L.Bidirectional(L.LSTM(3), backward_layer=L.LSTM(
        3, go_backwards=True, return_sequences=True)), "return_sequences"),
])
def test_bad_configurations_are_explained(make, message):
    with pytest.raises(ValueError, match=message):
        make(unrolled.layers)


def test_config_round_trip():
    layer = unrolled.layers.Bidirectional(unrolled.layers.LSTM(3, return_sequences=True),
                                          merge_mode="sum")
    again = unrolled.layers.Bidirectional.from_config(layer.get_config())
    assert again.get_config()["merge_mode"] == "sum"
    assert again.forward_layer.name == "forward_lstm"
    assert again.backward_layer.go_backwards
    layer(_x())
    again(_x())
    again.set_weights(layer.get_weights())
    np.testing.assert_array_equal(again(_x()), layer(_x()))
