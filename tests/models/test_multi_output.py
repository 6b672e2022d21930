"""Training with several outputs against Keras 3 (oracle 1), tolerance 1e-5.

The same two-output model (a softmax head on the last state, a per-step regression head on the
masked sequence) is built in both libraries with the same weights, compiled with the same
per-output losses, loss weights and metrics, and trained 3 epochs with ``shuffle=False``: the
history (same keys, same values), the trained weights and ``evaluate`` must agree.
"""

import numpy as np
import pytest

import unrolled

TOL = 1e-5
N, T = 10, 5


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=TOL, atol=TOL)


def two_heads(lib):
    """Masking -> LSTM sequences -> (LSTM -> Dense softmax 'dense', per-step Dense 'dense_1')."""
    L = lib.layers
    inp = lib.Input(shape=(T, 3))
    seq = L.LSTM(4, return_sequences=True)(L.Masking(0.0)(inp))
    label = L.Dense(2, activation="softmax")(L.LSTM(3)(seq))
    return lib.Model(inp, [label, L.Dense(1)(seq)])


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(N, T, 3)).astype("float32")
    x[0, 3:] = 0.0  # padded tail: masked steps drop out of the per-step loss
    x[4, :2] = 0.0
    y1 = np.eye(2, dtype="float32")[rng.integers(0, 2, N)]
    return x, [y1, rng.normal(size=(N, T, 1)).astype("float32")]


def pair(keras):
    k_model, u_model = two_heads(keras), two_heads(unrolled)
    assert u_model.output_names == list(k_model.output_names)
    u_model.set_weights([np.asarray(w.value) for w in k_model.weights])
    return u_model, k_model


CASES = {
    "lists": dict(loss=["categorical_crossentropy", "mse"], loss_weights=[1.0, 0.3],
                  metrics=[["accuracy", "categorical_accuracy"], []]),
    "dicts": dict(loss={"dense": "categorical_crossentropy", "dense_1": "mae"},
                  loss_weights={"dense": 0.5, "dense_1": 2.0}, metrics={"dense": "accuracy"}),
    "one_loss_for_all": dict(loss="mse"),
    "loss_on_one_output": dict(loss=["categorical_crossentropy", None], metrics=[["mse"], []]),
}


def test_fit_matches_keras(keras, data):
    """3 epochs, per-output losses with weights and metrics, validation data."""
    x, ys = data
    u_model, k_model = pair(keras)
    for model in (u_model, k_model):
        model.compile(optimizer="adam", **CASES["lists"])
    kw = dict(epochs=3, batch_size=4, shuffle=False, verbose=0,
              validation_data=(x[:6], [y[:6] for y in ys]))
    k_hist, u_hist = k_model.fit(x, ys, **kw).history, u_model.fit(x, ys, **kw).history
    assert sorted(u_hist) == sorted(k_hist)
    assert {"dense_loss", "dense_1_loss", "dense_accuracy", "val_dense_1_loss"} <= set(k_hist)
    for key in k_hist:
        close(u_hist[key], k_hist[key])
    for u_w, k_w in zip(u_model.weights, k_model.weights, strict=True):
        close(u_w.numpy(), k_w.value)
    close(u_model.evaluate(x, ys, verbose=0), k_model.evaluate(x, ys, verbose=0))


@pytest.mark.parametrize("case", sorted(CASES))
def test_evaluate_matches_keras(keras, clear_sessions, data, case):
    """Every way of giving losses, weights and metrics: same values, same names, same order."""
    clear_sessions()
    x, ys = data
    u_model, k_model = pair(keras)
    for model in (u_model, k_model):
        model.compile(optimizer="sgd", **CASES[case])
    close(u_model.evaluate(x, ys, verbose=0), k_model.evaluate(x, ys, verbose=0))
    k_logs = k_model.evaluate(x, ys, verbose=0, return_dict=True)
    u_logs = u_model.evaluate(x, ys, verbose=0, return_dict=True)
    assert sorted(u_logs) == sorted(k_logs)


def test_metrics_on_a_masked_sequence_output_match_keras_evaluate(keras, data):
    """Per-step metrics with a mask, checked through evaluate (Keras's fit-time logs of masked
    per-step metrics differ from its own evaluate, for one output as well: see the report)."""
    x, ys = data
    u_model, k_model = pair(keras)
    spec = dict(loss=["categorical_crossentropy", "mse"], metrics=[[], ["mae", "mse"]])
    for model in (u_model, k_model):
        model.compile(optimizer="sgd", **spec)
    close(u_model.evaluate(x, ys, verbose=0), k_model.evaluate(x, ys, verbose=0))


def test_dict_labels_equal_list_labels(data):
    x, ys = data
    model = two_heads(unrolled)
    model.compile(optimizer="sgd", loss=["categorical_crossentropy", "mse"])
    as_list = model.evaluate(x, ys, verbose=0)
    as_dict = model.evaluate(x, {"dense_1": ys[1], "dense": ys[0]}, verbose=0)
    close(as_dict, as_list)
    before = model.get_weights()
    model.train_on_batch(x, {"dense": ys[0], "dense_1": ys[1]})
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights(), strict=True))


@pytest.mark.parametrize("spec, message", [
    (dict(loss=["mse"]), r"loss has 1 entries but the model has 2 outputs"),
    (dict(loss={"dense": "mse", "head": "mse"}), r"outputs \['head'\].*'dense', 'dense_1'"),
    (dict(loss="mse", loss_weights=0.5), r"loss_weights as a list"),
    (dict(loss="mse", metrics=["mae"]), r"metrics has 1 entries but the model has 2"),
    (dict(loss="mse", metrics=[["mae"], ["no_such_metric"]]), r"Unknown metric 'no_such"),
    (dict(loss=[None, None]), r"every output's loss is None"),
])
def test_bad_compile_arguments_are_explained(spec, message):
    with pytest.raises(ValueError, match=message):
        two_heads(unrolled).compile(optimizer="sgd", **spec)


@pytest.mark.parametrize("labels, message", [
    (lambda ys: ys[0], r"2 outputs \['dense', 'dense_1'\]; received one array"),
    (lambda ys: [ys[0]], r"received 1 label arrays"),
    (lambda ys: {"dense": ys[0]}, r"lacks outputs \['dense_1'\]"),
    (lambda ys: [ys[0], ys[1][:, :, 0:1].repeat(2, axis=2)], r"output 'dense_1'.*do not fit"),
    (lambda ys: [ys[0][:5], ys[1]], r"output 'dense'.*10 samples but y has 5"),
])
def test_bad_labels_are_explained(data, labels, message):
    x, ys = data
    model = two_heads(unrolled)
    model.compile(optimizer="sgd", loss=["categorical_crossentropy", "mse"])
    with pytest.raises(ValueError, match=message):
        model.fit(x, labels(ys), verbose=0)


def test_single_output_accepts_per_output_forms(data):
    """A one-output model takes ``loss=[...]``/``{name: ...}`` as Keras does; same numbers."""
    x, ys = data
    inp = unrolled.Input(shape=(T, 3))
    model = unrolled.Model(inp, unrolled.layers.Dense(2, name="head")(unrolled.layers.LSTM(3)(inp)))
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    plain = model.evaluate(x, ys[0], verbose=0)
    model.compile(optimizer="sgd", loss={"head": "categorical_crossentropy"},
                  metrics={"head": ["accuracy"]})
    close(model.evaluate(x, ys[0], verbose=0), plain)
    model.compile(optimizer="sgd", loss=["categorical_crossentropy"])
    close(model.evaluate(x, ys[0], verbose=0), plain[0])
