"""Bad arguments at the API boundary: a clear error or warning, never a crash or a silent loss.

Issue 15, classes 6 (errors) and 7 (warnings where Keras is silent). Each test asserts the type
and that the message names the problem. Where Keras is the reference (a batch size larger than
the data is one short batch), real Keras 3 is the oracle.
"""

import numpy as np
import pytest

import unrolled
from unrolled import layers, models, utils

T, F = 5, 2


def _model(loss="mse", units=1, time=T):
    model = models.Sequential([layers.Input((time, F)), layers.LSTM(3), layers.Dense(units)])
    model.compile(optimizer="adam", loss=loss)
    return model


@pytest.fixture
def xy(rng):
    return rng.normal(size=(6, T, F)).astype("float32"), rng.normal(size=(6, 1)).astype("float32")


# ------------------------------------------------------------------------------ 6. API errors
def test_batch_size_larger_than_the_data_is_one_short_batch_as_keras(keras, rng):
    # Keras slices one batch of the 6 rows; padding it to 100 rows would put 94 repeated rows
    # into BatchNormalization's statistics. The moving mean after one step is Keras's.
    x = rng.normal(size=(6, T, F)).astype("float32")
    y = rng.normal(size=(6, 1)).astype("float32")
    ours = models.Sequential([layers.Input((T, F)), layers.BatchNormalization(),
                              layers.LSTM(3), layers.Dense(1)])
    theirs = keras.Sequential([keras.Input((T, F)), keras.layers.BatchNormalization(),
                               keras.layers.LSTM(3), keras.layers.Dense(1)])
    for model in (ours, theirs):
        model.compile(optimizer="sgd", loss="mse")
    h_u = ours.fit(x, y, batch_size=100, epochs=1, verbose=0, shuffle=False)
    h_k = theirs.fit(x, y, batch_size=100, epochs=1, verbose=0, shuffle=False)
    assert h_u.params["steps"] == h_k.params["steps"] == 1
    want = np.asarray(theirs.layers[0].moving_mean.value)
    np.testing.assert_allclose(ours.layers[0].moving_mean.numpy(), want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(want, 0.01 * x.mean(axis=(0, 1)), rtol=1e-5, atol=1e-7)


def test_batch_size_larger_than_the_data_trains_as_batch_size_n(xy):
    x, y = xy
    a, b = _model(), _model()
    b.set_weights(a.get_weights())
    a.fit(x, y, batch_size=1000, epochs=2, verbose=0, shuffle=False)
    b.fit(x, y, batch_size=len(x), epochs=2, verbose=0, shuffle=False)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, 8.0, True, "32"])
@pytest.mark.parametrize("method", ["predict", "fit", "evaluate"])
def test_bad_batch_size_is_refused(xy, method, batch_size):
    x, y = xy
    model = _model()
    args = (x,) if method == "predict" else (x, y)
    with pytest.raises(ValueError, match=rf"{method}: batch_size must be a positive integer.*"
                                         rf"received {batch_size!r}"):
        getattr(model, method)(*args, batch_size=batch_size, verbose=0)


def test_nan_in_validation_data_is_reported_before_epoch_1(xy):
    x, y = xy
    model = _model()

    class Count(unrolled.callbacks.Callback):
        epochs = 0

        def on_epoch_begin(self, epoch, logs=None):
            Count.epochs += 1

    bad_x = x.copy()
    bad_x[1, 2, 0] = np.nan
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"fit \(validation_data\) contains 1 non-finite.*NaN "
                                         r"at index \(1, 2, 0\)"):
        model.fit(x, y, epochs=3, verbose=0, validation_data=(bad_x, y), callbacks=[Count()])
    assert Count.epochs == 0
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"labels y passed to fit \(validation_data\)"):
        model.fit(x, y, verbose=0, validation_data=(x, np.full_like(y, np.inf)))
    with pytest.raises(ValueError, match=r"validation_data must be a tuple \(x_val, y_val\).*"
                                         r"received tuple of length 1"):
        model.fit(x, y, verbose=0, validation_data=(x,))


def test_validation_data_still_validates(xy):
    x, y = xy
    history = _model().fit(x, y, epochs=2, verbose=0, validation_data=(x[:3], y[:3]),
                           validation_batch_size=2)
    assert len(history.history["val_loss"]) == 2


def test_predict_on_zero_samples_returns_empty_outputs_of_the_output_shape():
    model = _model(units=4)
    out = model.predict(np.zeros((0, T, F), "float32"), verbose=0)
    assert out.shape == (0, 4) and out.dtype == np.float32
    inp = layers.Input((None, F))
    seq = layers.LSTM(3, return_sequences=True)(inp)
    two = models.Model(inp, [layers.Dense(2)(seq), layers.Dense(5)(layers.LSTM(2)(seq))])
    outs = two.predict(np.zeros((0, 7, F), "float32"), verbose=0)
    assert [o.shape for o in outs] == [(0, 7, 2), (0, 5)]


def test_zero_length_sequences_are_refused():
    with pytest.raises(ValueError, match=r"Input: every dimension.*\(None, 0, 2\).*at least one "
                                         "time step"):
        layers.Input((0, F))
    variable = _model(time=None)
    with pytest.raises(ValueError, match=r"predict: received inputs of shape \(3, 0, 2\).*"
                                         "zero-length sequences"):
        variable.predict(np.zeros((3, 0, F), "float32"), verbose=0)
    with pytest.raises(ValueError, match=r"fit: received inputs of shape \(3, 0, 2\)"):
        variable.fit(np.zeros((3, 0, F)), np.zeros((3, 1)), verbose=0)
    with pytest.raises(ValueError, match=r"'lstm.*' received sequences of 0 time steps"):
        layers.LSTM(2)(np.zeros((1, 0, F), "float32"))


@pytest.mark.parametrize("value", ["a", None, [0.0], True])
def test_masking_needs_a_number(value):
    with pytest.raises(ValueError, match=rf"Masking: mask_value must be a number.*{value!r}"
                       .replace("[", r"\[").replace("]", r"\]")):
        layers.Masking(value)


@pytest.mark.parametrize("name, value", [("epochs", 2.5), ("epochs", -1), ("epochs", "3"),
                                         ("initial_epoch", 1.5), ("epochs", True)])
def test_epochs_must_be_integers(xy, name, value):
    x, y = xy
    with pytest.raises(ValueError, match=rf"fit: {name} must be a non-negative integer.*"
                                         rf"{name}={value!r}"):
        _model().fit(x, y, verbose=0, **{name: value})


# ------------------------------------------------------------- 7. warnings where Keras is silent
def test_class_weight_naming_an_absent_class_warns(xy):
    x, _ = xy
    y = np.array([0, 1, 0, 1, 1, 0], "float32")
    with pytest.warns(UserWarning, match=r"class_weight names class\(es\) \[2, 7\] that do not "
                                         r"occur in y \(classes present: \[0, 1\]\)"):
        _model("binary_crossentropy").fit(x, y, verbose=0,
                                          class_weight={0: 1.0, 1: 2.0, 2: 3.0, 7: 1.0})


def test_negative_weights_warn(xy):
    x, y = xy
    sw = np.array([1, 1, -0.5, 1, 1, 1], "float32")
    with pytest.warns(UserWarning, match=r"sample_weight holds 1 negative weight\(s\) \(first: "
                                         r"-0.5\).*weights >= 0"):
        _model().fit(x, y, sample_weight=sw, verbose=0)
    labels = np.array([0, 1, 0, 1, 1, 0], "float32")
    with pytest.warns(UserWarning, match=r"class_weight holds 1 negative weight"):
        _model("binary_crossentropy").fit(x, labels, class_weight={0: 1.0, 1: -2.0}, verbose=0)


def test_binary_crossentropy_labels_outside_0_1_warn(xy):
    x, _ = xy
    y = np.array([[-1], [1], [1], [-1], [1], [1]], "float32")
    with pytest.warns(UserWarning, match=r"fit: binary_crossentropy labels should be in \[0, 1\]"
                                         r".*found values in \[-1, 1\]"):
        _model("binary_crossentropy").fit(x, y, verbose=0)
    with pytest.warns(UserWarning, match=r"evaluate: binary_crossentropy labels"):
        _model("binary_crossentropy").evaluate(x, 2 * np.abs(y), verbose=0)


def test_fit_with_nothing_to_train_warns(xy):
    x, y = xy
    with pytest.warns(UserWarning, match=r"epochs=2 <= initial_epoch=2, so nothing trains"):
        history = _model().fit(x, y, epochs=2, initial_epoch=2, verbose=0)
    assert history.history == {}


def test_to_categorical_and_pad_sequences_refuse_negative_values():
    with pytest.raises(ValueError, match=r"negative class label -1"):
        utils.to_categorical([2, -1, 0])
    with pytest.raises(ValueError, match=r"maxlen must be a non-negative integer"):
        utils.pad_sequences([[1, 2]], maxlen=-2)


def test_a_huge_evaluation_batch_size_is_bounded_and_changes_no_number(xy):
    x, y = xy  # evaluate pads to a power of two >= the rows, not to batch_size
    model = _model()
    want = model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
    got = model.evaluate(x, y, batch_size=10**7, verbose=0, return_dict=True)
    assert got == pytest.approx(want, rel=1e-6)
    from unrolled.training.data import evaluation_batch_size
    assert [evaluation_batch_size(b, n) for b, n in ((8, 5), (10**7, 5), (4, 5), (64, 33))] \
        == [8, 8, 4, 64]
