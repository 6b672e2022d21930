"""Functional models in ``.keras`` files, both ways, against Keras 3 (oracle 1), 1e-5.

Three graphs (two inputs with a shared layer and two outputs; a seq2seq encoder-decoder passing
``initial_state=[h, c]`` with variable lengths; an Embedding(mask_zero) text model on int32 ids)
are built in both libraries. Keras's ``get_config`` of the same graph is the oracle for the
graph part of the config; files written by one library are read by the other and must give the
same predictions.
"""

import json
import zipfile

import numpy as np
import pytest

import unrolled
from unrolled.io.serialization import UnreadableFileError

TOL = 1e-5
B, T = 4, 6
# Keras's own save calls np.array(variable), which NumPy 2 answers with this warning.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


def two_inputs_shared(lib):
    L = lib.layers
    a, b = lib.Input(shape=(T, 3), name="a"), lib.Input(shape=(T, 3), name="b")
    shared = L.LSTM(4)
    x = L.Concatenate()([shared(a), shared(L.Masking(0.0)(b))])
    return lib.Model([a, b], [L.Dense(1, activation="sigmoid")(x), L.Dense(3)(x)])


def seq2seq(lib):
    L = lib.layers
    enc, dec = lib.Input(shape=(None, 3)), lib.Input(shape=(None, 2))
    _, h, c = L.LSTM(5, return_state=True)(enc)
    seq = L.LSTM(5, return_sequences=True)(dec, initial_state=[h, c])
    return lib.Model([enc, dec], L.Dense(2)(seq))


def text(lib):
    L = lib.layers
    ids = lib.Input(shape=(T,), dtype="int32")
    x = L.LSTM(4)(L.Embedding(12, 3, mask_zero=True)(ids))
    return lib.Model(ids, L.Dense(2, activation="softmax")(x))


BUILDERS = [two_inputs_shared, seq2seq, text]


def inputs(builder, rng):
    if builder is text:
        ids = rng.integers(1, 12, size=(B, T))
        ids[0, 3:] = 0
        ids[1, :2] = 0
        return ids.astype("int32")
    if builder is seq2seq:
        return [rng.normal(size=(B, 7, 3)).astype("float32"),
                rng.normal(size=(B, 5, 2)).astype("float32")]
    x = rng.normal(size=(B, T, 3)).astype("float32")
    x[1, 4:] = 0.0  # masked tail in the second branch
    return [x, x[::-1].copy()]


def randomize(model, rng):
    model.set_weights([rng.normal(0, 0.5, size=np.shape(w)).astype("float32")
                       for w in model.get_weights()])


def assert_same_predictions(a, b):
    a = a if isinstance(a, list) else [a]
    b = b if isinstance(b, list) else [b]
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=TOL, atol=TOL)


def graph_part(config):
    """Names, classes, call histories (tensors reduced to keras_history) and the model's ends.

    Keras 3 also records the operations that compute masks (NotEqual, Any, ...) as graph nodes
    and passes their results as ``mask=``; unrolled computes masks inside its layers, so those
    entries and the ``mask`` arguments are left out of the comparison (loading Keras files with
    them is tested below).
    """

    def reduce(value):
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                return tuple(value["config"]["keras_history"])
            return {k: reduce(v) for k, v in value.items() if k not in ("training", "mask")}
        if isinstance(value, list):
            return [reduce(v) for v in value]
        return value

    config = json.loads(json.dumps(config))  # Keras returns tuples; compare as in the file
    layers = [(entry["name"], entry["class_name"], reduce(entry["inbound_nodes"]))
              for entry in config["layers"] if not entry["module"].startswith("keras.src.ops")]
    return layers, config["input_layers"], config["output_layers"]


@pytest.mark.parametrize("builder", BUILDERS)
def test_config_graph_equals_keras(keras, clear_sessions, builder):
    clear_sessions()
    k_config = builder(keras).get_config()
    clear_sessions()
    assert graph_part(builder(unrolled).get_config()) == graph_part(k_config)


@pytest.mark.parametrize("builder", BUILDERS)
def test_unrolled_file_loads_in_keras(keras, tmp_path, rng, builder):
    model = builder(unrolled)
    randomize(model, rng)
    model.save(tmp_path / "u.keras")
    loaded = keras.models.load_model(tmp_path / "u.keras")
    x = inputs(builder, rng)
    assert_same_predictions(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("builder", BUILDERS)
def test_keras_file_loads_in_unrolled(keras, tmp_path, rng, builder):
    k_model = builder(keras)
    k_model.set_weights([rng.normal(0, 0.5, size=np.shape(w.value)).astype("float32")
                         for w in k_model.weights])
    k_model.save(tmp_path / "k.keras")
    model = unrolled.models.load_model(tmp_path / "k.keras")
    assert [x.name for x in model.layers] == [x.name for x in k_model.layers]
    x = inputs(builder, rng)
    assert_same_predictions(model.predict(x, verbose=0), k_model.predict(x, verbose=0))


def test_from_config_rebuilds_the_same_graph(rng):
    """Invariant: from_config(get_config()) with the same weights predicts the same."""
    model = two_inputs_shared(unrolled)
    randomize(model, rng)
    clone = type(model).from_config(model.get_config())
    assert [x.name for x in clone.layers] == [x.name for x in model.layers]
    assert len(clone.get_layer("lstm")._inbound_nodes) == 2  # still shared
    clone.set_weights(model.get_weights())
    x = inputs(two_inputs_shared, rng)
    assert_same_predictions(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_multi_output_compile_config_round_trips_through_keras(keras, tmp_path, rng):
    """Per-output losses, loss weights and metrics survive unrolled -> Keras -> unrolled."""
    model = two_inputs_shared(unrolled)
    model.compile(optimizer="adam", loss=["binary_crossentropy", "mse"], loss_weights=[1.0, 0.5],
                  metrics=[["accuracy"], ["mae"]])
    x = inputs(two_inputs_shared, rng)
    ys = [rng.integers(0, 2, size=(B, 1)).astype("float32"), rng.normal(size=(B, 3))]
    model.save(tmp_path / "u.keras")
    k_model = keras.models.load_model(tmp_path / "u.keras")
    expected = k_model.evaluate(x, ys, verbose=0)
    np.testing.assert_allclose(model.evaluate(x, ys, verbose=0), expected, rtol=TOL, atol=TOL)
    k_model.save(tmp_path / "k.keras")
    again = unrolled.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(again.evaluate(x, ys, verbose=0), expected, rtol=TOL, atol=TOL)


def _rewrite_config(src, dst, edit):
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    edit(config["config"])
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _history_of(config, layer_name):
    entry = next(e for e in config["layers"] if e["name"] == layer_name)
    return entry["inbound_nodes"][0]["args"][0]["config"]["keras_history"]


@pytest.mark.parametrize("edit, message", [
    (lambda c: _history_of(c, "dense").__setitem__(0, "ghost"), r"layer 'ghost'.*does not define"),
    (lambda c: _history_of(c, "dense").__setitem__(2, 7), r"output 7 of layer 'lstm_1'"),
    (lambda c: _history_of(c, "lstm").__setitem__(slice(0, 3), ["dense", 0, 0]),
     r"cannot be rebuilt.*\['dense', 'lstm', 'lstm_1'\]"),
    (lambda c: c.__setitem__("output_layers", [["dense", 3, 0]]), r"refer to a call of layer"),
    (lambda c: c["layers"][1].__setitem__("class_name", "Attention"), r"'Attention'"),
    (lambda c: c.pop("input_layers"), r"lacks 'input_layers'"),
])
def test_damaged_functional_config_is_refused(tmp_path, edit, message):
    model = seq2seq(unrolled)
    model.save(tmp_path / "m.keras")
    _rewrite_config(tmp_path / "m.keras", tmp_path / "bad.keras", edit)
    with pytest.raises(UnreadableFileError, match=message):
        unrolled.models.load_model(tmp_path / "bad.keras")
