"""fit options against real Keras 3 (oracle 1): sample_weight, class_weight, validation_freq,
sparse labels, and masked per-step losses of return_sequences=True models."""

import numpy as np
import pytest

from conftest import assert_close, flat

SEQ_SPECS = [("Masking", {"mask_value": 0.0}),
             ("LSTM", {"units": 3, "return_sequences": True}), ("Dense", {"units": 3}),
             ("Activation", {"activation": "softmax"})]


def compare(u_model, k_model, h_u, h_k, k_weights):
    assert set(h_u.history) == set(h_k.history)
    for key, values in h_k.history.items():
        assert_close(h_u.history[key], values, err_msg=key)
    for a, b in zip(u_model.get_weights(), k_weights, strict=True):
        assert_close(a, b)


@pytest.mark.parametrize("option", ["sample_weight", "class_weight_onehot", "class_weight_sparse"])
def test_weights_match_keras(keras, make_pair, fit_both, data, option):
    x, y, classes = data
    x = flat(x)
    sparse = option == "class_weight_sparse"
    loss = "sparse_categorical_crossentropy" if sparse else "categorical_crossentropy"
    u_model, k_model = make_pair("dense")
    u_model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    k_model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    kwargs = ({"sample_weight": np.linspace(0.1, 2, len(x)).astype("float32")}
              if option == "sample_weight" else {"class_weight": {0: 0.5, 1: 2.0, 2: 1.5}})
    labels = classes if sparse else y
    compare(u_model, k_model, *fit_both(u_model, k_model, x, labels, batch_size=5, **kwargs))


def test_validation_freq(keras, make_pair, fit_both, data):
    x, y, _ = data
    x = flat(x)
    u_model, k_model = make_pair("dense")
    u_model.compile(optimizer="sgd", loss="categorical_crossentropy")
    k_model.compile(optimizer="sgd", loss="categorical_crossentropy")
    h_u, h_k, _ = fit_both(u_model, k_model, x[:10], y[:10], epochs=4, validation_freq=2,
                           validation_data=(x[10:], y[10:]))
    assert len(h_u.history["val_loss"]) == len(h_k.history["val_loss"]) == 2
    assert_close(h_u.history["val_loss"], h_k.history["val_loss"])


@pytest.mark.parametrize("loss", ["mse", "sparse_categorical_crossentropy"])
def test_masked_per_step_loss(keras, make_pair, fit_both, data, loss):
    """Masking -> LSTM(return_sequences) -> Dense: the loss averages over valid steps only."""
    x, _, _ = data
    x = x.copy()
    for row, length in enumerate([5, 3, 1, 4] * 4):
        x[row, length:] = 0.0
    x[5] = 0.0  # a fully masked sample
    steps = (np.digitize(x[:, :, 0], [-0.5, 0.5])).astype("int64")
    y = steps if loss != "mse" else np.eye(3, dtype="float32")[steps]
    u_model, k_model = make_pair(SEQ_SPECS)
    u_model.compile(optimizer="adam", loss=loss)
    k_model.compile(optimizer="adam", loss=loss)
    h_u, h_k, k_weights = fit_both(u_model, k_model, x, y, batch_size=6)
    compare(u_model, k_model, h_u, h_k, k_weights)
    assert_close(u_model.evaluate(x, y, verbose=0), k_model.evaluate(x, y, verbose=0))


def test_class_weight_missing_class_warns_and_weighs_one(keras, make_pair, fit_both, data):
    x, y, _ = data
    x = flat(x)
    u_model, k_model = make_pair("dense")
    u_model.compile(optimizer="sgd", loss="categorical_crossentropy")
    k_model.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.warns(UserWarning, match=r"no entry for class\(es\) \[2\]"):
        h_u = u_model.fit(x, y, class_weight={0: 3.0, 1: 0.5}, shuffle=False, verbose=0)
    h_k = k_model.fit(x, y, class_weight={0: 3.0, 1: 0.5}, shuffle=False, verbose=0)
    assert_close(h_u.history["loss"], h_k.history["loss"])


@pytest.mark.parametrize("kwargs, match", [
    ({"class_weight": {0: 1.0}, "sample_weight": np.ones(16)}, "not both"),
    ({"class_weight": {"cat": 1.0}}, "integer class indices"),
    ({"validation_freq": 0}, "validation_freq"),
    ({"y": np.full(16, 3)}, r"\[0, 3\)"),
    ({"y": np.zeros((16, 2))}, r"integer class labels of shape \(None,\)"),
])
def test_errors(make_pair, data, kwargs, match):
    x, _, classes = data
    u_model, _ = make_pair("dense")
    u_model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    kwargs = {"y": classes, **kwargs}
    with pytest.raises(ValueError, match=match):
        u_model.fit(flat(x), verbose=0, **kwargs)
