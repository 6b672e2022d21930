"""Keras's public names in unrolled (oracle 1: real Keras 3's names, functions and aliases)."""

import numpy as np
import pytest

import unrolled
from unrolled import initializers, preprocessing, saving, utils

RAGGED = [[711, 632, 71], [73, 8, 3215, 55, 927], [83, 91, 1, 645, 1253, 927], []]


def test_top_level_names_are_keras_names(keras):
    for name in ("Layer", "Model", "Sequential", "Input"):
        assert hasattr(keras, name), name
    assert unrolled.Layer is unrolled.layers.Layer
    assert unrolled.Model is unrolled.models.Model
    assert unrolled.Sequential is unrolled.models.Sequential
    assert unrolled.Input is unrolled.layers.Input
    for module in ("ops", "saving", "preprocessing", "utils"):
        assert hasattr(keras, module) and hasattr(unrolled, module), module


@pytest.mark.parametrize("kw", [{}, {"padding": "post"}, {"maxlen": 4, "truncating": "post"},
                                {"maxlen": 2, "value": -1, "padding": "post"}])
def test_pad_sequences_under_both_keras_names(keras, kw):
    want = keras.preprocessing.sequence.pad_sequences(RAGGED, **kw)
    for ours in (preprocessing.sequence.pad_sequences, utils.pad_sequences):
        got = ours(RAGGED, **kw)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_to_categorical(keras):
    y = np.array([[2], [0], [1], [2]])
    np.testing.assert_array_equal(utils.to_categorical(y, 4), keras.utils.to_categorical(y, 4))


# --- timeseries_dataset_from_array. Keras's implementation needs TensorFlow (tf.data) or grain,
# neither of which the test extra installs, so the oracle is Keras's documented semantics written
# as a NumPy loop (its docstring's formulas) plus the docstring's own examples.
def reference_windows(data, targets, length, stride, rate, start=0, end=None):
    end = len(data) if end is None else end
    xs, ys, i = [], [], 0
    while True:
        first = start + i * stride
        if first + (length - 1) * rate >= end:
            break
        if targets is not None and first >= min(end, len(targets)):
            break
        xs.append(data[first:first + length * rate:rate])
        ys.append(None if targets is None else targets[first])
        i += 1
    return xs, ys


@pytest.mark.parametrize("kw", [
    {"sequence_length": 5}, {"sequence_length": 4, "sequence_stride": 3, "batch_size": 4},
    {"sequence_length": 3, "sampling_rate": 2, "batch_size": 5},
    {"sequence_length": 3, "start_index": 4, "end_index": 30, "batch_size": 7},
])
def test_timeseries_windows_match_keras_semantics(kw):
    data = np.arange(40 * 2, dtype="float32").reshape(40, 2)
    targets = np.arange(100, 137)
    ds = utils.timeseries_dataset_from_array(data, targets, **kw)
    kw = dict(kw)
    batch = kw.pop("batch_size", 128)
    xs, ys = reference_windows(data, targets, kw["sequence_length"],
                               kw.get("sequence_stride", 1), kw.get("sampling_rate", 1),
                               kw.get("start_index", 0), kw.get("end_index"))
    batches = list(ds)
    assert len(batches) == len(ds) == -(-len(xs) // batch)
    assert all(len(x) == batch for x, _ in batches[:-1])
    np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), np.stack(xs))
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), np.array(ys))


def test_timeseries_docstring_examples():
    # keras.utils.timeseries_dataset_from_array's docstring, examples 1 and 3.
    data = np.arange(100)
    ds = utils.timeseries_dataset_from_array(data, None, sequence_length=10, sampling_rate=2)
    x = ds.take(1)[0]
    np.testing.assert_array_equal(x[0], np.arange(0, 20, 2))
    np.testing.assert_array_equal(x[1], np.arange(1, 21, 2))
    ds = utils.timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10)
    inputs, targets = next(iter(ds))
    np.testing.assert_array_equal(inputs[0], data[:10])
    assert targets[0] == data[10]


def test_timeseries_shuffle_with_seed():
    data = np.arange(60)
    plain = utils.timeseries_dataset_from_array(data, data, 4, batch_size=8)
    a = utils.timeseries_dataset_from_array(data, data, 4, batch_size=8, shuffle=True, seed=5)
    b = utils.timeseries_dataset_from_array(data, data, 4, batch_size=8, shuffle=True, seed=5)
    c = utils.timeseries_dataset_from_array(data, data, 4, batch_size=8, shuffle=True, seed=6)
    order = np.arange(len(plain.start_positions))
    np.random.RandomState(5).shuffle(order)  # Keras's shuffle of the start positions
    xa = np.concatenate([x for x, _ in a])
    np.testing.assert_array_equal(xa, np.concatenate([x for x, _ in plain])[order])
    np.testing.assert_array_equal(xa, np.concatenate([x for x, _ in b]))
    assert not np.array_equal(xa, np.concatenate([x for x, _ in c]))


@pytest.mark.parametrize("kw, match", [
    ({"sampling_rate": 0}, "sampling_rate"), ({"sequence_stride": 50}, "sequence_stride"),
    ({"start_index": 60}, "start_index"), ({"start_index": 5, "end_index": 3}, "end_index"),
])
def test_timeseries_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        utils.timeseries_dataset_from_array(np.arange(50), None, 3, **kw)


# --- saving: keras.saving's registry rules.
def test_register_keras_serializable_as_keras(keras):
    class Cell:
        def get_config(self):
            return {}

    ours = saving.register_keras_serializable(package="pkg", name="MyCell")(Cell)
    theirs = keras.saving.register_keras_serializable(package="pkg", name="MyCell")(Cell)
    assert ours is theirs is Cell
    assert saving.get_registered_name(Cell) == keras.saving.get_registered_name(Cell)
    assert saving.get_custom_objects()["pkg>MyCell"] is Cell
    assert utils.get_custom_objects() is saving.get_custom_objects()
    assert saving.get_registered_object("pkg>MyCell") is Cell
    assert saving.get_registered_object("nothing") is None
    with saving.custom_object_scope({"Other": dict}):
        assert saving.get_registered_object("Other") is dict
    assert saving.get_registered_object("Other") is None

    class NoConfig:
        pass

    with pytest.raises(ValueError, match="get_config"):
        keras.saving.register_keras_serializable()(NoConfig)
    with pytest.raises(ValueError, match="get_config"):
        saving.register_keras_serializable()(NoConfig)


def test_save_model_load_model_round_trip_read_by_keras(keras, tmp_path):
    model = unrolled.Sequential([unrolled.Input((4, 2)), unrolled.layers.LSTM(3)])
    path = tmp_path / "m.keras"
    saving.save_model(model, path)
    x = np.random.default_rng(0).normal(size=(2, 4, 2)).astype("float32")
    np.testing.assert_allclose(saving.load_model(path).predict(x, verbose=0),
                               model.predict(x, verbose=0), rtol=0, atol=0)
    np.testing.assert_allclose(np.asarray(keras.saving.load_model(path)(x)),
                               model.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(TypeError, match="unexpected arguments"):
        saving.save_model(model, path, save_format="tf")


# --- initializer names: every alias Keras 3 accepts resolves to the same class and config.
def test_initializer_aliases_as_keras(keras):
    from keras.src.initializers import ALL_OBJECTS_DICT

    names = sorted(n for n in ALL_OBJECTS_DICT if "stft" not in n.lower()
                   and n.lower() != "initializer")
    assert {"uniform", "normal", "zero", "one", "zeros", "ones", "constant", "identity",
            "he_normal", "random_uniform", "random_normal"} <= set(names)
    for name in names:
        # The class Keras maps the name to (keras.initializers.get("constant") itself raises a
        # KeyError in Keras 3.15 for want of a value; the class is what the name means).
        want, got = ALL_OBJECTS_DICT[name](), initializers.get(name)
        assert type(got).__name__ == type(want).__name__.removesuffix("Initializer"), name
        common = set(got.get_config()) & set(want.get_config())
        assert {k: got.get_config()[k] for k in common} == \
            {k: want.get_config()[k] for k in common}, name
    for name in ("zero", "one", "zeros", "ones", "constant", "identity", "IdentityInitializer"):
        np.testing.assert_array_equal(np.asarray(initializers.get(name)((3, 3))),
                                      np.asarray(ALL_OBJECTS_DICT[name]()((3, 3))))
    assert isinstance(initializers.get(initializers.Zeros), initializers.Zeros)
    with pytest.raises(ValueError, match="Unknown initializer 'unifrom'"):
        initializers.get("unifrom")


def test_activation_functions_by_name_match_keras(keras):
    x = np.linspace(-4.0, 4.0, 17, dtype="float32").reshape(1, 17)
    shared = [n for n in unrolled.activations.__all__ if n not in ("get", "names")]
    assert {"relu", "sigmoid", "tanh", "softmax"} <= set(shared)
    # our one extra: Keras 2's hard sigmoid, kept by name so Keras-2 files keep their maths
    assert [n for n in shared if not hasattr(keras.activations, n)] == ["hard_sigmoid_keras2"]
    np.testing.assert_allclose(np.asarray(unrolled.activations.hard_sigmoid_keras2(x)),
                               np.clip(0.2 * x + 0.5, 0.0, 1.0), rtol=1e-6, atol=1e-7)
    for name in (n for n in shared if n != "hard_sigmoid_keras2"):
        np.testing.assert_allclose(np.asarray(getattr(unrolled.activations, name)(x)),
                                   np.asarray(getattr(keras.activations, name)(x)),
                                   rtol=1e-6, atol=1e-6, err_msg=name)
    dense = unrolled.layers.Dense(2, activation=unrolled.activations.relu)
    assert dense.get_config()["activation"] == "relu"
