"""Legacy full-model ``.h5`` files (Keras 2 layout written by hand with h5py; Keras 3's own
``model.save('x.h5')``). Oracle: real Keras 3 with the same weights; for Keras 2 files its LSTM
and Dense get Keras 2's hard sigmoid, ``clip(0.2 x + 0.5, 0, 1)``, as a custom activation.
"""

import json
import zipfile

import h5py
import numpy as np
import pytest

import unrolled
from unrolled.ops.activations import hard_sigmoid_keras2

TOL = 1e-5
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

_GLOROT = {"class_name": "VarianceScaling",
           "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None}}
_ZEROS = {"class_name": "Zeros", "config": {}}


def _keras2_layers():
    """A Keras 2.2.4 Sequential config: hard_sigmoid was then the LSTM's default gate."""
    return [
        {"class_name": "Masking", "config": {"name": "masking_1", "trainable": True,
                                             "batch_input_shape": [None, 6, 2],
                                             "dtype": "float32", "mask_value": 0.0}},
        {"class_name": "LSTM", "config": {
            "name": "lstm_1", "trainable": True, "return_sequences": False,
            "return_state": False, "go_backwards": False, "stateful": False, "unroll": False,
            "units": 4, "activation": "tanh", "recurrent_activation": "hard_sigmoid",
            "use_bias": True, "kernel_initializer": _GLOROT,
            "recurrent_initializer": {"class_name": "Orthogonal",
                                      "config": {"gain": 1.0, "seed": None}},
            "bias_initializer": _ZEROS, "unit_forget_bias": True, "kernel_regularizer": None,
            "recurrent_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None,
            "recurrent_constraint": None, "bias_constraint": None, "dropout": 0.0,
            "recurrent_dropout": 0.0, "implementation": 1}},
        {"class_name": "Dense", "config": {
            "name": "dense_1", "trainable": True, "units": 2, "activation": "hard_sigmoid",
            "use_bias": True, "kernel_initializer": _GLOROT, "bias_initializer": _ZEROS,
            "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "bias_constraint": None}},
    ]


def _keras2_weights(rng):
    return {"lstm_1": [("kernel:0", rng.normal(0, 1.5, (2, 16))),
                       ("recurrent_kernel:0", rng.normal(0, 1.5, (4, 16))),
                       ("bias:0", rng.normal(0, 1.0, (16,)))],
            "dense_1": [("kernel:0", rng.normal(0, 2.0, (4, 2))),
                        ("bias:0", rng.normal(0, 1.0, (2,)))]}


def write_keras2_h5(path, weights, layers=None, full_model=True):
    """Write the Keras 2 layout: model_config/training_config attrs + model_weights group."""
    with h5py.File(path, "w") as f:
        root = f
        if full_model:
            f.attrs["keras_version"] = b"2.2.4"
            f.attrs["backend"] = b"tensorflow"
            config = {"class_name": "Sequential",
                      "config": {"name": "sequential_1", "layers": layers or _keras2_layers()}}
            f.attrs["model_config"] = json.dumps(config).encode()
            f.attrs["training_config"] = json.dumps({
                "optimizer_config": {"class_name": "Adam", "config": {
                    "lr": 0.002, "beta_1": 0.9, "beta_2": 0.999, "decay": 0.0,
                    "epsilon": 1e-07, "amsgrad": False}},
                "loss": "binary_crossentropy", "metrics": ["accuracy"],
                "sample_weight_mode": None, "loss_weights": None}).encode()
            root = f.create_group("model_weights")
        root.attrs["layer_names"] = [b"masking_1", b"lstm_1", b"dense_1"]
        root.create_group("masking_1").attrs["weight_names"] = np.array([], dtype="S1")
        for layer, arrays in weights.items():
            g = root.create_group(layer)
            g.attrs["weight_names"] = [f"{layer}/{n}".encode() for n, _ in arrays]
            for n, a in arrays:
                g.create_dataset(f"{layer}/{n}", data=np.asarray(a, np.float32))


def _keras_oracle(keras, weights, recurrent_activation):
    L = keras.layers
    model = keras.Sequential([keras.Input((6, 2)), L.Masking(0.0),
                              L.LSTM(4, recurrent_activation=recurrent_activation),
                              L.Dense(2, activation=recurrent_activation)])
    model.set_weights([np.asarray(a, np.float32) for arrays in weights.values()
                       for _, a in arrays])
    return model


def _keras2_hard_sigmoid(keras):
    return lambda x: keras.ops.clip(0.2 * x + 0.5, 0.0, 1.0)


@pytest.fixture(scope="module")
def keras2_file(tmp_path_factory):
    rng = np.random.default_rng(3)
    weights = _keras2_weights(rng)
    path = tmp_path_factory.mktemp("legacy") / "keras2.h5"
    write_keras2_h5(path, weights)
    x = (3 * rng.normal(size=(5, 6, 2))).astype("float32")
    x[1, 3:] = 0.0
    return path, weights, x


def test_keras2_file_keeps_old_hard_sigmoid(keras2_file, keras):
    path, weights, x = keras2_file
    model = unrolled.models.load_model(path)
    oracle = _keras_oracle(keras, weights, _keras2_hard_sigmoid(keras))
    np.testing.assert_allclose(model.predict(x), oracle.predict(x, verbose=0), atol=TOL)
    keras3_meaning = _keras_oracle(keras, weights, "hard_sigmoid").predict(x, verbose=0)
    assert np.abs(keras3_meaning - model.predict(x)).max() > 1e-2  # the test can tell them apart
    assert model.optimizer.learning_rate == pytest.approx(0.002)  # Keras 2's `lr`


def test_keras2_weights_load_into_built_model(keras2_file, tmp_path, keras):
    path, weights, x = keras2_file
    L = unrolled.layers
    hs = hard_sigmoid_keras2
    model = unrolled.models.Sequential([L.Input((6, 2)), L.Masking(0.0),
                                        L.LSTM(4, recurrent_activation=hs),
                                        L.Dense(2, activation=hs)])
    weights_only = tmp_path / "weights_only.h5"
    write_keras2_h5(weights_only, weights, full_model=False)
    oracle = _keras_oracle(keras, weights, _keras2_hard_sigmoid(keras)).predict(x, verbose=0)
    for source in (path, weights_only):
        model.load_weights(source)
        np.testing.assert_allclose(model.predict(x), oracle, atol=TOL)
    with pytest.raises(ValueError, match=r"weights_only\.h5.*load_weights"):
        unrolled.models.load_model(weights_only)


def test_keras3_legacy_h5_uses_keras3_hard_sigmoid(keras, tmp_path, rng):
    L = keras.layers
    k = keras.Sequential([keras.Input((6, 2)), L.Masking(0.0),
                          L.LSTM(4, recurrent_activation="hard_sigmoid"), L.Dense(2)])
    k.set_weights([3 * np.asarray(w.value) for w in k.weights])
    k.compile(loss="binary_crossentropy", optimizer="adam")
    path = tmp_path / "k3.h5"
    k.save(path)
    x = (3 * rng.normal(size=(4, 6, 2))).astype("float32")
    model = unrolled.models.load_model(path)
    np.testing.assert_allclose(model.predict(x), k.predict(x, verbose=0), atol=TOL)


def test_unsupported_layer_is_named(tmp_path):
    layers = _keras2_layers()
    layers.insert(2, {"class_name": "Highway", "config": {"name": "highway_1"}})
    path = tmp_path / "highway.h5"
    write_keras2_h5(path, _keras2_weights(np.random.default_rng(0)), layers=layers)
    with pytest.raises(ValueError, match=r"highway\.h5.*'highway_1' \(Highway\).*Supported"):
        unrolled.models.load_model(path)


def test_keras2_model_resaved_as_keras_keeps_its_maths(keras2_file, tmp_path):
    path, _, x = keras2_file
    model = unrolled.models.load_model(path)
    model.save(tmp_path / "again.keras")
    with zipfile.ZipFile(tmp_path / "again.keras") as zf:
        assert "hard_sigmoid_keras2" in zf.read("config.json").decode()
    again = unrolled.models.load_model(tmp_path / "again.keras")
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


def test_legacy_weight_count_mismatch(keras2_file, tmp_path):
    _, weights, _ = keras2_file
    weights = dict(weights)
    weights["dense_1"] = weights["dense_1"][:1]
    path = tmp_path / "short.h5"
    write_keras2_h5(path, weights)
    with pytest.raises(ValueError, match=r"short\.h5.*'dense_1' has 1 arrays"):
        unrolled.models.load_model(path)
