"""Every RNN option against real Keras 3 (oracle 1, 1e-5) plus invariants (oracle 4).

Same weights (Keras's, copied with set_weights) and inputs -> same outputs, for LSTM, GRU (both
reset_after conventions) and SimpleRNN, with masks that have holes, left padding and a fully
masked row.
"""

import numpy as np
import pytest

import unrolled

KINDS = {
    "lstm": ("LSTM", {}),
    "gru": ("GRU", {}),
    "gru_reset_before": ("GRU", {"reset_after": False}),
    "simple_rnn": ("SimpleRNN", {}),
}
OPTIONS = {  # combined so the grid stays small; every option appears at least once
    "last": {},
    "sequences_zero_output": {"return_sequences": True, "zero_output_for_mask": True},
    "backwards": {"go_backwards": True, "return_sequences": True},
    "unroll_state": {"unroll": True, "return_state": True},
    "relu_hard_sigmoid_no_bias": {"activation": "relu", "use_bias": False,
                                  "return_sequences": True},
}
B, T, F, U = 3, 5, 2, 3
MASK = np.array([[1, 0, 1, 0, 1],   # holes
                 [0, 0, 1, 1, 1],   # left padding
                 [0, 0, 0, 0, 0]],  # fully masked row
                bool)


def _x(seed=0):
    return np.random.default_rng(seed).normal(size=(B, T, F)).astype("float32")


def _pair(keras, name, kwargs, batch_shape=None):
    """The same layer in Keras (random init) and unrolled, with Keras's weights copied over."""
    if name in ("LSTM", "GRU") and kwargs.get("activation") == "relu":
        kwargs = {**kwargs, "recurrent_activation": "hard_sigmoid"}
    k_layer = getattr(keras.layers, name)(**kwargs)
    u_layer = getattr(unrolled.layers, name)(**kwargs)
    shape = batch_shape or (B, T, F)
    k_layer.build(shape)
    u_layer._maybe_build(shape)
    u_layer.set_weights([np.asarray(w.value) for w in k_layer.weights])
    return k_layer, u_layer


def _np(out):
    return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else [np.asarray(out)]


def _assert_same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("option", OPTIONS)
def test_masked_outputs_match_keras(keras, kind, option):
    name, base = KINDS[kind]
    k_layer, u_layer = _pair(keras, name, {"units": U, **base, **OPTIONS[option]})
    x = _x()
    _assert_same(_np(u_layer(x, mask=MASK)), _np(k_layer(x, mask=MASK)))


@pytest.mark.parametrize("kind", KINDS)
def test_unmasked_initial_state_and_return_state_match_keras(keras, kind, rng):
    name, base = KINDS[kind]
    k_layer, u_layer = _pair(keras, name, {"units": U, "return_state": True,
                                           "return_sequences": True, **base})
    n_states = 2 if name == "LSTM" else 1
    init = [rng.normal(size=(B, U)).astype("float32") for _ in range(n_states)]
    x = _x(1)
    _assert_same(_np(u_layer(x, initial_state=init)), _np(k_layer(x, initial_state=init)))
    _assert_same(_np(u_layer(x, initial_state=init, mask=MASK)),
                 _np(k_layer(x, initial_state=init, mask=MASK)))


@pytest.mark.parametrize("kind", KINDS)
def test_stateful_calls_and_resets_match_keras(keras, kind):
    name, base = KINDS[kind]
    k_layer, u_layer = _pair(keras, name, {"units": U, "stateful": True, **base})
    x1, x2 = _x(2), _x(3)
    for _ in range(2):
        got = [u_layer(x1), u_layer(x2, mask=MASK)]
        want = [k_layer(x1), k_layer(x2, mask=MASK)]
        _assert_same([np.asarray(g) for g in got], [np.asarray(w) for w in want])
        _assert_same([s.numpy() for s in u_layer.states],
                     [np.asarray(s.value) for s in k_layer.states])
        u_layer.reset_states()
        k_layer.reset_states()
    assert all(not s.numpy().any() for s in u_layer.states)
    assert [w.path for w in u_layer.weights] == [w.path for w in k_layer.weights]


def test_stateful_predict_carries_state_across_batches(keras):
    """Invariant: predict in batches of 2 equals consecutive eager calls (Keras-TF semantics).

    Keras 3 on JAX does not carry the state inside predict (its states are not traced); the
    documented Keras contract -- sample i of batch k+1 continues sample i of batch k -- is
    what unrolled implements, so the oracle is the eager call sequence, itself checked
    against Keras above.
    """
    model = unrolled.models.Sequential([unrolled.layers.Input(batch_shape=(2, T, F)),
                                        unrolled.layers.GRU(U, stateful=True)])
    x = np.concatenate([_x(4)[:2], _x(5)[:2]])
    predicted = model.predict(x, batch_size=2, verbose=0)
    after_predict = model.layers[0].states[0].numpy()
    model.layers[0].reset_state()
    eager = np.concatenate([model(x[:2]), model(x[2:])])
    np.testing.assert_allclose(predicted, eager, atol=1e-6)
    np.testing.assert_allclose(after_predict, model.layers[0].states[0].numpy(), atol=1e-6)
    assert model.weights == model.layers[0].weights  # states are not weights (as Keras)


@pytest.mark.parametrize("name", ["SimpleRNN", "GRU", "LSTM"])
def test_dropout_is_off_in_inference_and_matches_keras(keras, name):
    k_layer, u_layer = _pair(keras, name, {"units": U, "dropout": 0.5,
                                           "recurrent_dropout": 0.5, "return_sequences": True})
    x = _x(6)
    _assert_same(_np(u_layer(x, mask=MASK)), _np(k_layer(x, mask=MASK)))


def test_input_dropout_mask_is_drawn_once_per_call():
    """Invariant: with identical steps and no recurrence, every step sees the same mask."""
    rate = 0.5
    layer = unrolled.layers.SimpleRNN(
        4, activation="linear", dropout=rate, return_sequences=True, seed=3,
        kernel_initializer="identity", recurrent_initializer="zeros")
    x = np.tile(np.arange(1, 5, dtype="float32"), (8, 6, 1))  # (8, 6, 4), same at every step
    out = layer(x, training=True)
    np.testing.assert_allclose(out, np.broadcast_to(out[:, :1], out.shape))
    kept = out[:, 0] != 0
    np.testing.assert_allclose(out[:, 0][kept], (x[:, 0] / (1 - rate))[kept], rtol=1e-6)
    assert 0 < kept.mean() < 1
    second = layer(x, training=True)
    assert not np.array_equal(second, out)  # a new mask for the next call


def test_recurrent_dropout_mask_is_reused_at_every_step():
    """Invariant: h_t = (m * h_{t-1}) @ I with the same m, so h_t = m**t elementwise."""
    rate = 0.5
    layer = unrolled.layers.SimpleRNN(
        6, activation="linear", recurrent_dropout=rate, return_sequences=True, seed=5,
        kernel_initializer="zeros", recurrent_initializer="identity")
    x = np.zeros((4, 3, 2), "float32")
    out = layer(x, initial_state=[np.ones((4, 6), "float32")], training=True)
    m = out[:, 0]
    np.testing.assert_allclose(out[:, 1], m * m, rtol=1e-6)
    np.testing.assert_allclose(out[:, 2], m * m * m, rtol=1e-6)
    assert set(np.unique(m)) <= {0.0, 1 / (1 - rate)}


@pytest.mark.parametrize("implementation", [1, 2])
def test_implementation_is_accepted_with_same_numbers(keras, implementation):
    k_layer, u_layer = _pair(keras, "GRU", {"units": U, "implementation": implementation})
    x = _x(7)
    _assert_same(_np(u_layer(x)), _np(k_layer(x)))


@pytest.mark.parametrize("make, call, message", [
    (lambda: unrolled.layers.LSTM(U), {"initial_state": [np.zeros((B, U))]}, "expects 2"),
    (lambda: unrolled.layers.GRU(U), {"initial_state": [np.zeros((B, U + 1))]},
     "expected shape"),
    (lambda: unrolled.layers.SimpleRNN(U), {"mask": np.ones((B, T + 1), bool)},
     "mask expected shape"),
])
def test_bad_call_arguments_are_explained(make, call, message):
    with pytest.raises(ValueError, match=message):
        make()(_x(), **call)


def test_stateful_needs_a_fixed_batch_size():
    with pytest.raises(ValueError, match="fixed batch size.*batch_shape"):
        unrolled.models.Sequential([unrolled.layers.Input(shape=(T, F)),
                                    unrolled.layers.LSTM(U, stateful=True)])
    layer = unrolled.layers.SimpleRNN(U, stateful=True)
    layer(_x())
    with pytest.raises(ValueError, match="stateful with batch size 3, but received a batch of 2"):
        layer(_x()[:2])


@pytest.mark.parametrize("kwargs, message", [
    ({"units": 0}, "positive integer"),
    ({"units": U, "implementation": 3}, "implementation"),
    ({"units": U, "dropout": 1.5}, "dropout"),
    ({"units": U, "activation": "nope"}, "Unknown activation"),
])
@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN"])
def test_bad_configurations_are_explained(name, kwargs, message):
    if name == "SimpleRNN" and "implementation" in kwargs:
        kwargs = {**kwargs, "units": "3"}
        message = "positive integer"
    with pytest.raises(ValueError, match=message):
        getattr(unrolled.layers, name)(**kwargs)
