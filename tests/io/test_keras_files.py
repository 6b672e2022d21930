"""`.keras` and `.weights.h5` files: unrolled <-> real Keras 3 (oracle 1), both directions.

Every check builds a model in one library, writes the file there, reads it in the other and
compares predictions (1e-5), or continues training in both and compares the trained weights.
"""

import json
import zipfile

import numpy as np
import pytest

import unrolled

TOL = 1e-5
# Keras's own save calls np.array(variable), which NumPy 2 answers with this warning.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

# (name, builder(layers module) -> layer list, input kind)
SPECS = {
    "seed": (lambda L: [L.Input(shape=(6, 2)), L.Masking(0.0), L.LSTM(4), L.Dense(2),
                        L.Activation("sigmoid")], "float"),
    "stacked_rnns": (lambda L: [L.Input(shape=(6, 2)), L.LSTM(4, return_sequences=True),
                                L.GRU(3, return_sequences=True), L.SimpleRNN(2),
                                L.Dropout(0.2), L.Dense(1)], "float"),
    "bidirectional": (lambda L: [L.Input(shape=(6, 2)), L.Masking(0.0),
                                 L.Bidirectional(L.LSTM(3, return_sequences=True)),
                                 L.Bidirectional(L.GRU(2), merge_mode="sum"), L.Dense(1)],
                      "float"),
    "embedding": (lambda L: [L.Input(shape=(6,)), L.Embedding(10, 4, mask_zero=True),
                             L.LSTM(3), L.Dense(1)], "int"),
}


def _data(kind, rng, n=5):
    if kind == "int":
        return rng.integers(0, 10, (n, 6)).astype("float32")
    x = rng.normal(size=(n, 6, 2)).astype("float32")
    x[0, 4:] = 0.0  # a padded tail, masked by Masking(0.0)
    return x


@pytest.mark.parametrize("name", sorted(SPECS))
def test_unrolled_file_loads_in_keras(name, keras, tmp_path, rng):
    build, kind = SPECS[name]
    model = unrolled.models.Sequential(build(unrolled.layers))
    path = tmp_path / "m.keras"
    model.save(path)
    x = _data(kind, rng)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x), atol=TOL)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_keras_file_loads_in_unrolled(name, keras, tmp_path, rng):
    build, kind = SPECS[name]
    model = keras.Sequential(build(keras.layers))
    path = tmp_path / "k.keras"
    model.save(path)
    x = _data(kind, rng)
    loaded = unrolled.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x, verbose=0), atol=TOL)
    assert [w.path for w in loaded.weights] == [w.path for w in model.weights]


def _seed_pair(keras, optimizer):
    build, _ = SPECS["seed"]
    u = unrolled.models.Sequential(build(unrolled.layers))
    u.compile(loss="binary_crossentropy", optimizer=optimizer(unrolled.optimizers),
              metrics=["categorical_accuracy"])
    return u


OPTIMIZERS = {
    "adam": lambda o: o.Adam(learning_rate=0.01),
    "adam_amsgrad": lambda o: o.Adam(learning_rate=0.01, amsgrad=True),
    "rmsprop_centered_momentum": lambda o: o.RMSprop(learning_rate=0.01, momentum=0.5,
                                                     centered=True),
    "sgd_momentum": lambda o: o.SGD(learning_rate=0.1, momentum=0.9),
}


@pytest.fixture(scope="module")
def train_data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(12, 6, 2)).astype("float32")
    y = rng.integers(0, 2, (12, 2)).astype("float32")
    return x, y


@pytest.mark.parametrize("opt", ["adam_amsgrad", "rmsprop_centered_momentum"])
def test_trained_unrolled_file_resumes_in_keras(opt, keras, tmp_path, train_data):
    """Save mid-training; real Keras resumes from the file to the same weights as the
    uninterrupted unrolled run (config, compile config and every optimizer slot must match).
    """
    x, y = train_data
    model = _seed_pair(keras, OPTIMIZERS[opt])
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "mid.keras"
    model.save(path)
    resumed = keras.models.load_model(path)
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    resumed.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for a, v in zip(model.get_weights(), resumed.weights, strict=True):
        np.testing.assert_allclose(np.asarray(v.value), a, atol=TOL)


@pytest.mark.parametrize("opt", ["adam", "sgd_momentum"])
def test_resume_from_file_equals_uninterrupted(opt, keras, tmp_path, train_data):
    """Invariant: save after 2 epochs, load, train 2 more == train 4 epochs without a break."""
    x, y = train_data
    model = _seed_pair(keras, OPTIMIZERS[opt])
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    model.save(tmp_path / "mid.keras")
    resumed = unrolled.models.load_model(tmp_path / "mid.keras")
    assert resumed.optimizer.iterations == model.optimizer.iterations == 6
    full = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    again = resumed.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    assert again == full
    for a, b in zip(resumed.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_trained_keras_file_resumes_in_unrolled(keras, tmp_path, train_data):
    x, y = train_data
    build, _ = SPECS["seed"]
    k = keras.Sequential(build(keras.layers))
    k.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(0.01),
              metrics=["categorical_accuracy"])
    k.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "k_mid.keras"
    k.save(path)
    u = unrolled.models.load_model(path)
    k_hist = k.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    u_hist = u.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(u_hist["loss"], k_hist["loss"], atol=TOL)
    for a, v in zip(u.get_weights(), k.weights, strict=True):
        np.testing.assert_allclose(a, np.asarray(v.value), atol=TOL)


def test_compile_config_is_keras_readable(keras, tmp_path):
    model = _seed_pair(keras, OPTIMIZERS["adam"])
    path = tmp_path / "c.keras"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        config = json.loads(zf.read("config.json"))
    assert config["compile_config"]["optimizer"]["class_name"] == "Adam"
    loaded = keras.models.load_model(path)
    assert loaded.optimizer.learning_rate.numpy() == pytest.approx(0.01)
    assert type(loaded.loss).__name__ == "BinaryCrossentropy"


@pytest.mark.parametrize("writer", ["unrolled", "keras"])
def test_weights_h5_cross_load(writer, keras, tmp_path, rng):
    build, kind = SPECS["bidirectional"]
    u = unrolled.models.Sequential(build(unrolled.layers))
    k = keras.Sequential(build(keras.layers))
    path = tmp_path / "w.weights.h5"
    src, dst = (u, k) if writer == "unrolled" else (k, u)
    src.save_weights(path)
    dst.load_weights(path)
    x = _data(kind, rng)
    np.testing.assert_allclose(u.predict(x), k.predict(x, verbose=0), atol=TOL)


def test_load_weights_into_other_architecture_names_layer(tmp_path):
    build, _ = SPECS["seed"]
    small = unrolled.models.Sequential(build(unrolled.layers))
    path = tmp_path / "w.weights.h5"
    small.save_weights(path)
    L = unrolled.layers
    other = unrolled.models.Sequential([L.Input(shape=(6, 2)), L.LSTM(5), L.Dense(2)])
    with pytest.raises(ValueError, match=r"w\.weights\.h5.*lstm_cell/kernel.*\(2, 16\).*\(2, 20\)"):
        other.load_weights(path)


def test_unknown_layer_in_file_is_named(tmp_path):
    build, _ = SPECS["seed"]
    path = tmp_path / "m.keras"
    unrolled.models.Sequential(build(unrolled.layers)).save(path)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][2]["class_name"] = "FancyAttention"
    members["config.json"] = json.dumps(config).encode()
    bad = tmp_path / "bad.keras"
    with zipfile.ZipFile(bad, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    with pytest.raises(ValueError, match=r"bad\.keras.*FancyAttention.*Supported layers"):
        unrolled.models.load_model(bad)


@pytest.mark.parametrize("name", ["m.h5", "m.txt", "m"])
def test_save_needs_keras_extension(name, tmp_path):
    build, _ = SPECS["seed"]
    model = unrolled.models.Sequential(build(unrolled.layers))
    with pytest.raises(ValueError, match=r"ends in '\.keras'"):
        model.save(tmp_path / name)
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        model.save_weights(tmp_path / name)


def test_save_unbuilt_model_and_overwrite_false(tmp_path):
    model = unrolled.models.Sequential([unrolled.layers.Dense(2)])
    with pytest.raises(ValueError, match="not been built"):
        model.save(tmp_path / "m.keras")
    model.build((None, 3))
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError, match="overwrite=False"):
        model.save(tmp_path / "m.keras", overwrite=False)


def test_load_without_compile_and_missing_file(tmp_path, keras):
    model = _seed_pair(keras, OPTIMIZERS["adam"])
    model.save(tmp_path / "m.keras")
    assert not getattr(unrolled.models.load_model(tmp_path / "m.keras", compile=False),
                       "compiled", False)
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        unrolled.models.load_model(tmp_path / "nope.keras")


def test_nan_weights_are_refused(tmp_path):
    build, _ = SPECS["seed"]
    model = unrolled.models.Sequential(build(unrolled.layers))
    weights = [w.copy() for w in model.get_weights()]
    weights[0][0, 0] = np.nan
    model.set_weights(weights)
    with pytest.raises(ValueError, match=r"nan\.keras.*lstm_cell/kernel.*NaN"):
        model.save(tmp_path / "nan.keras")  # refused at save, as it would be at load
    (tmp_path / "nan.keras").write_bytes(unrolled.io.keras_format.to_bytes(model))
    with pytest.raises(ValueError, match=r"nan\.keras.*NaN"):
        unrolled.models.load_model(tmp_path / "nan.keras")
