"""Keras 2's hard sigmoid inside `Bidirectional` and a plain `LSTM`, from Keras 2 files and back.

Oracle: a float64 NumPy LSTM (Keras's gate layout ``[i | f | c | o]``, a masked step carries
``h`` and ``c``) whose gates use Keras 2's hard sigmoid ``max(0, min(1, 0.2 x + 0.5))``; the
Keras 2 file is written by hand with h5py in Keras 2.2.4's layout (there is no Keras 2 here).
Each test also checks that Keras 3's hard sigmoid ``relu6(x + 3) / 6`` would give other numbers,
so losing the Keras 2 meaning anywhere makes it fail.
"""

import json
import zipfile

import h5py
import numpy as np
import pytest

import unrolled
from unrolled.ops.activations import hard_sigmoid_keras2

TOL = 1e-5
T, F, U = 6, 2, 3


def hs_keras2(x):
    return np.maximum(0.0, np.minimum(1.0, 0.2 * x + 0.5))


def hs_keras3(x):
    return np.clip(x + 3.0, 0.0, 6.0) / 6.0


def lstm_np(x, kernel, recurrent, bias, gate, mask=None, backwards=False):
    """Return the ``h`` of every processed step (processing order) and the last carried ``h``."""
    b, t, _ = x.shape
    u = recurrent.shape[0]
    h, c = np.zeros((b, u)), np.zeros((b, u))
    mask = np.ones((b, t), bool) if mask is None else mask
    hs = []
    for s in (range(t - 1, -1, -1) if backwards else range(t)):
        z = x[:, s] @ kernel + h @ recurrent + bias  # (B, 4u)
        i, f, g, o = np.split(z, 4, axis=1)
        c_new = gate(f) * c + gate(i) * np.tanh(g)
        h_new = gate(o) * np.tanh(c_new)
        keep = mask[:, s:s + 1]
        h, c = np.where(keep, h_new, h), np.where(keep, c_new, c)
        hs.append(h)
    return np.stack(hs, axis=1), h


# ------------------------------------------------------------------ Keras 2 .h5
def _lstm_config(name):
    return {"name": name, "trainable": True, "return_sequences": False, "return_state": False,
            "go_backwards": False, "stateful": False, "unroll": False, "units": U,
            "activation": "tanh", "recurrent_activation": "hard_sigmoid", "use_bias": True,
            "kernel_initializer": {"class_name": "VarianceScaling", "config": {
                "scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None}},
            "recurrent_initializer": {"class_name": "Orthogonal",
                                      "config": {"gain": 1.0, "seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}}, "unit_forget_bias": True,
            "kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None,
            "recurrent_constraint": None, "bias_constraint": None, "dropout": 0.0,
            "recurrent_dropout": 0.0, "implementation": 1}


def _keras2_bidirectional_layers():
    """Keras 2.2.4's Sequential config: Masking -> Bidirectional(LSTM) -> Dense."""
    return [
        {"class_name": "Masking", "config": {"name": "masking_1", "trainable": True,
                                             "batch_input_shape": [None, T, F],
                                             "dtype": "float32", "mask_value": 0.0}},
        {"class_name": "Bidirectional", "config": {
            "name": "bidirectional_1", "trainable": True, "merge_mode": "concat",
            "layer": {"class_name": "LSTM", "config": _lstm_config("lstm_1")}}},
        {"class_name": "Dense", "config": {
            "name": "dense_1", "trainable": True, "units": 2, "activation": "hard_sigmoid",
            "use_bias": True, "kernel_initializer": {"class_name": "Zeros", "config": {}},
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "bias_constraint": None}},
    ]


def _write_keras2_h5(path, weights):
    """Keras 2's layout: model_config/keras_version attrs + a model_weights group."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.2.4"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {
            "name": "sequential_1", "layers": _keras2_bidirectional_layers()}}).encode()
        root = f.create_group("model_weights")
        root.attrs["layer_names"] = [b"masking_1", *[n.encode() for n in weights]]
        root.create_group("masking_1").attrs["weight_names"] = np.array([], dtype="S1")
        for layer, arrays in weights.items():
            g = root.create_group(layer)
            g.attrs["weight_names"] = [f"{layer}/{n}".encode() for n, _ in arrays]
            for n, a in arrays:
                g.create_dataset(f"{layer}/{n}", data=np.asarray(a, np.float32))


@pytest.fixture(scope="module")
def keras2_bidirectional(tmp_path_factory):
    rng = np.random.default_rng(11)
    direction = {d: [rng.normal(0, 1.5, (F, 4 * U)), rng.normal(0, 1.5, (U, 4 * U)),
                     rng.normal(0, 1.0, (4 * U,))] for d in ("forward", "backward")}
    dense = [rng.normal(0, 2.0, (2 * U, 2)), rng.normal(0, 1.0, (2,))]
    names = ("kernel:0", "recurrent_kernel:0", "bias:0")
    weights = {
        "bidirectional_1": [(f"{d}_lstm_1/{n}", a) for d in ("forward", "backward")
                            for n, a in zip(names, direction[d], strict=True)],
        "dense_1": list(zip(("kernel:0", "bias:0"), dense, strict=True)),
    }
    path = tmp_path_factory.mktemp("keras2") / "bidirectional.h5"
    _write_keras2_h5(path, weights)
    x = (3 * rng.normal(size=(5, T, F))).astype("float32")
    x[1, 4:] = 0.0  # right padding
    x[2, :2] = 0.0  # left padding
    x[3, 3] = 0.0  # a hole
    return path, direction, dense, x


def _reference(direction, dense, x, gate):
    x64 = np.asarray(x, np.float64)
    f32 = [[np.asarray(w, np.float32).astype(np.float64) for w in ws] for ws in
           (direction["forward"], direction["backward"], dense)]
    mask = np.any(x64 != 0.0, axis=-1)  # Masking(0.0)
    _, h_fwd = lstm_np(x64, *f32[0], gate, mask)
    _, h_bwd = lstm_np(x64, *f32[1], gate, mask, backwards=True)
    kernel, bias = f32[2]
    return gate(np.concatenate([h_fwd, h_bwd], axis=-1) @ kernel + bias)


def test_keras2_bidirectional_lstm_keeps_keras2_hard_sigmoid(keras2_bidirectional):
    """Both directions (and the Dense) compute Keras 2's hard sigmoid, as Keras 2 did."""
    path, direction, dense, x = keras2_bidirectional
    model = unrolled.models.load_model(path)
    bi = model.layers[1]
    for rnn in (bi.forward_layer, bi.backward_layer):
        assert rnn.cell.recurrent_activation is hard_sigmoid_keras2
    expected = _reference(direction, dense, x, hs_keras2)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=TOL)
    keras3_meaning = _reference(direction, dense, x, hs_keras3)
    assert np.abs(keras3_meaning - expected).max() > 1e-2  # the test can tell them apart


def test_keras2_bidirectional_resaved_as_keras_keeps_its_maths(keras2_bidirectional, tmp_path):
    path, _, _, x = keras2_bidirectional
    model = unrolled.models.load_model(path)
    model.save(tmp_path / "again.keras")
    with zipfile.ZipFile(tmp_path / "again.keras") as zf:
        config = zf.read("config.json").decode()
    assert config.count('"hard_sigmoid_keras2"') == 3  # forward, backward, Dense
    again = unrolled.models.load_model(tmp_path / "again.keras")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


# ------------------------------------------------------------- our own round trip
def _model(layers, gate):
    return unrolled.models.Sequential([
        layers.Input((T, F)),
        layers.Bidirectional(layers.LSTM(U, recurrent_activation=gate, return_sequences=True)),
        layers.LSTM(2, recurrent_activation=gate)])


def _reference_of(model, x, gate):
    w = [np.asarray(a, np.float64) for a in model.get_weights()]
    x64 = np.asarray(x, np.float64)
    fwd, _ = lstm_np(x64, *w[0:3], gate)
    bwd, _ = lstm_np(x64, *w[3:6], gate, backwards=True)
    seq = np.concatenate([fwd, bwd[:, ::-1]], axis=-1)  # (B, T, 2u), input order
    return lstm_np(seq, *w[6:9], gate)[1]


@pytest.mark.parametrize("gate", [hard_sigmoid_keras2, "hard_sigmoid_keras2"],
                         ids=["function", "name"])
def test_hard_sigmoid_keras2_round_trips_by_name(gate, tmp_path, rng):
    """Bidirectional and a plain LSTM keep it through get_config and a .keras file."""
    model = _model(unrolled.layers, gate)
    model.set_weights([rng.normal(0, 1.5, w.shape).astype("float32")
                       for w in model.get_weights()])
    x = (3 * rng.normal(size=(4, T, F))).astype("float32")
    expected = _reference_of(model, x, hs_keras2)
    assert np.abs(_reference_of(model, x, hs_keras3) - expected).max() > 1e-2
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=TOL)
    model.save(tmp_path / "m.keras")
    again = unrolled.models.load_model(tmp_path / "m.keras")
    bi, lstm = again.layers
    for rnn in (bi.forward_layer, bi.backward_layer, lstm):
        assert rnn.get_config()["recurrent_activation"] == "hard_sigmoid_keras2"
        assert rnn.cell.recurrent_activation is hard_sigmoid_keras2
    np.testing.assert_allclose(again.predict(x, verbose=0), expected, atol=TOL)
    clone = unrolled.layers.Bidirectional.from_config(model.layers[0].get_config())
    assert clone.backward_layer.cell.recurrent_activation is hard_sigmoid_keras2
