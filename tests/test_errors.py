"""Bad input gets clear errors: the exception type, and a message naming what was expected and
what was given (issue 2, "Bad input"; DESIGN.md: messages say what was wrong, what was expected
and what to do). Oracle: the spec; the regexes are deliberately loose.
"""

import re

import numpy as np
import pytest

from unrolled import layers, losses, models, optimizers

T, F, UNITS = 5, 3, 4


def seed_model(features=F, outputs=1, activation="sigmoid"):
    """Masking(0.) -> LSTM(4) -> Dense(outputs) [-> Activation], built for (T, features)."""
    model = models.Sequential()
    model.add(layers.Input(shape=(T, features)))
    model.add(layers.Masking(0.0))
    model.add(layers.LSTM(UNITS))
    model.add(layers.Dense(outputs))
    if activation is not None:
        model.add(layers.Activation(activation))
    return model


def compiled_model(**kwargs):
    model = seed_model(**kwargs)
    model.compile(loss="binary_crossentropy", optimizer="adam")
    return model


def data(rng, n=8, features=F, outputs=1):
    x = rng.normal(size=(n, T, features)).astype("float32")
    y = rng.integers(0, 2, size=(n, outputs)).astype("float32")
    return x, y


def assert_mentions(message, *patterns):
    """Every regex in ``patterns`` occurs in ``message`` (case-insensitive)."""
    for pattern in patterns:
        assert re.search(pattern, message, flags=re.IGNORECASE), (pattern, message)


def test_lstm_rejects_2d_input(rng):
    """Spec: LSTM on a rank-2 array names the expected rank 3 and the given shape."""
    x = rng.normal(size=(7, 5)).astype("float32")
    with pytest.raises(ValueError, match="(?i)expect") as info:
        layers.LSTM(UNITS)(x)
    assert_mentions(str(info.value), r"3|three", r"\(7, 5\)|\b2")


@pytest.mark.parametrize("method", ["predict", "fit", "evaluate"])
def test_wrong_feature_count_for_built_model(rng, method):
    """Spec: a model built for 3 features given 5 names both counts."""
    model = compiled_model()
    x, y = data(rng, features=5)
    with pytest.raises(ValueError, match="(?i)expect") as info:
        if method == "predict":
            model.predict(x, verbose=0)
        else:
            getattr(model, method)(x, y, verbose=0)
    assert_mentions(str(info.value), r"\b3\b", r"\b5\b")


def test_fit_labels_that_do_not_fit_the_output(rng):
    """Spec: (N, 3) labels for an (N, 1) output name both shapes.

    (Keras itself would broadcast here; (N,) or (N, 1, 1) labels Keras squeezes/expands, so
    those are not errors.)
    """
    model = compiled_model()
    x, _ = data(rng)
    y = np.zeros((8, 3), dtype="float32")
    with pytest.raises(ValueError, match="(?i)label|target|y\\b|shape") as info:
        model.fit(x, y, epochs=1, verbose=0)
    assert_mentions(str(info.value), r"\b1\)", r"\b3\)")


def test_fit_labels_with_another_sample_count(rng):
    """Spec: 8 inputs and 6 labels name both counts."""
    model = compiled_model()
    x, _ = data(rng)
    y = np.zeros((6, 1), dtype="float32")
    with pytest.raises(ValueError) as info:
        model.fit(x, y, epochs=1, verbose=0)
    assert_mentions(str(info.value), r"\b8\b", r"\b6\b")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("method", ["fit", "predict", "evaluate"])
def test_non_finite_inputs_are_rejected(rng, method, bad):
    """Spec: NaN/inf anywhere in x raises ValueError naming the bad value."""
    model = compiled_model()
    x, y = data(rng)
    x[3, 2, 1] = bad
    pattern = "(?i)nan" if np.isnan(bad) else "(?i)inf|nan|finite"
    with pytest.raises(ValueError, match=pattern):
        if method == "predict":
            model.predict(x, verbose=0)
        else:
            getattr(model, method)(x, y, verbose=0)


UNKNOWN_LAYER_ARGS = {
    "lstm_activation": (lambda: layers.LSTM(UNITS, activation="tahn"), "tahn", "tanh"),
    "lstm_recurrent_activation": (
        lambda: layers.LSTM(UNITS, recurrent_activation="sigmiod"),
        "sigmiod",
        "sigmoid",
    ),
    "dense_activation": (lambda: layers.Dense(2, activation="rleu"), "rleu", "relu"),
    "activation_layer": (lambda: layers.Activation("sigmodi"), "sigmodi", "sigmoid"),
    "kernel_initializer": (
        lambda: layers.LSTM(UNITS, kernel_initializer="glorot_unifrom"),
        "glorot_unifrom",
        "glorot_uniform",
    ),
    "recurrent_initializer": (
        lambda: layers.LSTM(UNITS, recurrent_initializer="orthogonl"),
        "orthogonl",
        "orthogonal",
    ),
}


@pytest.mark.parametrize(
    ("make", "given", "valid"), UNKNOWN_LAYER_ARGS.values(), ids=UNKNOWN_LAYER_ARGS.keys()
)
def test_unknown_layer_names_list_valid_names(rng, make, given, valid):
    """Spec: an unknown activation/initializer name raises ValueError naming it and listing
    valid names (at construction or, at the latest, when the layer first runs)."""
    with pytest.raises(ValueError) as info:
        layer = make()
        x = rng.normal(size=(2, T, F)).astype("float32")
        layer(x if isinstance(layer, layers.LSTM) else x[:, 0])
    assert_mentions(str(info.value), re.escape(given), re.escape(valid))


UNKNOWN_COMPILE_ARGS = {
    "loss": ({"loss": "binary_crossentropi"}, "binary_crossentropi", "binary_crossentropy"),
    "optimizer": ({"optimizer": "adma"}, "adma", "adam"),
    "metric": ({"metrics": ["acuracy"]}, "acuracy", "accuracy"),
}


@pytest.mark.parametrize(
    ("override", "given", "valid"), UNKNOWN_COMPILE_ARGS.values(), ids=UNKNOWN_COMPILE_ARGS.keys()
)
def test_unknown_compile_names_list_valid_names(rng, override, given, valid):
    """Spec: unknown loss/optimizer/metric names raise ValueError naming the name and listing
    valid ones (in compile or, at the latest, when fit first needs them)."""
    model = seed_model()
    x, y = data(rng)
    kwargs = {"loss": "binary_crossentropy", "optimizer": "adam", **override}
    with pytest.raises(ValueError) as info:
        model.compile(**kwargs)
        model.fit(x, y, epochs=1, verbose=0)
    assert_mentions(str(info.value), re.escape(given), re.escape(valid))


def test_model_set_weights_wrong_count():
    """Spec: 4 arrays for a model with 5 weights names both counts."""
    model = seed_model()
    weights = model.get_weights()
    assert len(weights) == 5
    with pytest.raises(ValueError) as info:
        model.set_weights(weights[:-1])
    assert_mentions(str(info.value), r"\b5\b", r"\b4\b")


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_model_set_weights_wrong_shape(index):
    """Spec: an array of the wrong shape names the expected and the given shape."""
    model = seed_model()
    weights = model.get_weights()
    expected = tuple(weights[index].shape)
    given = (expected[0] + 1, *expected[1:])
    weights[index] = np.zeros(given, dtype="float32")
    with pytest.raises(ValueError) as info:
        model.set_weights(weights)
    assert_mentions(str(info.value), re.escape(str(expected)), re.escape(str(given)))


def test_layer_set_weights_wrong_shape_and_count(rng):
    """Spec: the eager layer's set_weights checks count and shapes like the model's."""
    layer = layers.LSTM(UNITS)
    layer(rng.normal(size=(2, T, F)).astype("float32"))
    kernel, recurrent, bias = layer.get_weights()
    with pytest.raises(ValueError) as info:
        layer.set_weights([kernel, recurrent])
    assert_mentions(str(info.value), r"\b3\b", r"\b2\b")
    with pytest.raises(ValueError) as info:
        layer.set_weights([kernel, recurrent, np.zeros(3, dtype="float32")])
    assert_mentions(str(info.value), re.escape(str((4 * UNITS,))), re.escape("(3,)"))


def test_predict_on_unbuilt_model_says_how_to_build(rng):
    """Spec (issue 2): predict on a model with no input shape says to call build() or to pass
    an input shape (Input / input_shape=)."""
    model = models.Sequential()
    model.add(layers.LSTM(UNITS))
    model.add(layers.Dense(1))
    x, _ = data(rng)
    with pytest.raises(ValueError, match=r"(?i)build|input_shape|Input\("):
        model.predict(x, verbose=0)


def test_nan_loss_stops_fit_naming_epoch_and_batch(rng, capsys):
    """Spec: a NaN loss stops training with a message naming the epoch and the batch.

    Construction (checked in real Keras, where TerminateOnNaN reports "Batch 1"): the first
    batch of 8 is all zeros, so it is fully masked, h = 0 and the loss is finite; in the second
    batch the saturated LSTM meets a Dense kernel of 3e38, the logits overflow to +inf and
    binary_crossentropy(from_logits=True) with label 1 is inf - inf = NaN. The inputs, labels and
    weights are all finite, so no up-front check can catch it.
    """
    model = seed_model(activation=None)
    model.set_weights(
        [
            np.zeros((F, 4 * UNITS), "float32"),
            np.zeros((UNITS, 4 * UNITS), "float32"),
            np.full((4 * UNITS,), 10.0, "float32"),
            np.full((UNITS, 1), 3e38, "float32"),
            np.zeros((1,), "float32"),
        ]
    )
    model.compile(loss=losses.BinaryCrossentropy(from_logits=True), optimizer="adam")
    x, _ = data(rng, n=16)
    x[:8] = 0.0
    y = np.ones((16, 1), dtype="float32")
    epochs = 3
    try:
        history = model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0)
    except Exception as error:  # an exception is one way to stop; a printed message another
        message = f"{type(error).__name__}: {error}"
    else:
        captured = capsys.readouterr()
        message = captured.out + captured.err
        assert len(history.epoch) < epochs or len(history.history["loss"]) < epochs, message
    assert_mentions(message, "nan", r"epoch\D{0,20}[01]\b", r"batch\D{0,20}[12]\b")


def test_an_overflowing_update_keeps_the_last_finite_weights(rng):
    """Spec (issue 15 class 2): when an update overflows a weight although the loss is finite,
    fit stops and the weights are those after the last finite batch, as the message says.

    Construction: SGD with learning rate 1e30 on inputs of 1e10 gives a Dense gradient of ~1e10
    and an update of ~1e40, past float32's 3.4e38; the loss of that batch is finite.
    """
    model = models.Sequential([layers.Input((3,)), layers.Dense(1)])
    before = [w.copy() for w in model.get_weights()]
    model.compile(loss="mse", optimizer=optimizers.SGD(learning_rate=1e30))
    x = np.full((8, 3), 1e10, "float32")
    y = np.zeros((8, 1), "float32")
    with pytest.raises(FloatingPointError, match=r"weight after the update.*epoch 1.*batch 1"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    after = model.get_weights()
    assert all(np.all(np.isfinite(w)) for w in after)
    for a, b in zip(after, before, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(FloatingPointError, match="weight after the update"):
        model.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)
