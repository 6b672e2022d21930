"""Training against real Keras 3 on JAX (DESIGN.md oracle 1).

The seed model (Masking(0.) -> LSTM(16) -> Dense(2) -> Activation("sigmoid"), binary_crossentropy,
Adam, metrics=["accuracy"]) and small variants are built in both libraries with identical initial
weights (Keras's initial weights copied into unrolled) and trained on identical zero-padded data
with shuffle=False. Loss and metric histories, weights after training, evaluate and predict must
agree within ``atol = rtol = 1e-5`` unless a test says otherwise.
"""

import warnings

import numpy as np
import pytest

from unrolled import losses, metrics, optimizers

TOL = 1e-5
SEED = 1234
N, T, F = 30, 8, 2  # N=30 with batch_size=8: the last training batch is partial (6 samples)
# Other tests use 24 samples (whole batches) to keep compilations, and the suite, short.
N_WHOLE = 24

# unrolled-specific note (no Keras counterpart): 'accuracy' with binary_crossentropy on a
# two-column output resolves to categorical_accuracy (Keras 3's shape rule) and warns once.
ACCURACY_NOTE = r"(?s).*(categorical_accuracy.*binary_accuracy|binary_accuracy.*categorical_acc)"


def assert_close(actual, expected, tol=TOL, err_msg=""):
    np.testing.assert_allclose(
        np.asarray(actual, dtype="float64"),
        np.asarray(expected, dtype="float64"),
        rtol=tol,
        atol=tol,
        err_msg=err_msg,
    )


def assert_weights_close(u_model, k_weights):
    got = u_model.get_weights()
    assert len(got) == len(k_weights)
    for index, (a, b) in enumerate(zip(got, k_weights, strict=True)):
        assert np.shape(a) == np.shape(b), index
        assert_close(a, b, err_msg=f"weight {index}")


def assert_history_close(u_history, k_history):
    assert u_history.epoch == k_history.epoch
    assert set(u_history.history) == set(k_history.history)
    for key, values in k_history.history.items():
        assert len(u_history.history[key]) == len(values), key
        assert_close(u_history.history[key], values, err_msg=key)


def padded_data(rng, n=N, labels="onehot"):
    """Zero-padded variable-length sequences (mostly right-, some left-padded) and labels.

    labels: "onehot" (n, 2) float, or "binary" (n, 1) float.
    """
    x = rng.normal(size=(n, T, F)).astype("float32")
    lengths = rng.integers(1, T + 1, size=n)
    for row, length in enumerate(lengths):
        if row % 5 == 4:
            x[row, : T - length] = 0.0
        else:
            x[row, length:] = 0.0
    # labels learnable from the data, so accuracy moves during training
    classes = (x[:, :, 0].sum(axis=1) > 0).astype("int64")
    if labels == "onehot":
        return x, np.eye(2, dtype="float32")[classes]
    return x, classes[:, None].astype("float32")


def model_specs(units=16, outputs=2, activation="sigmoid"):
    specs = [
        ("Masking", {"mask_value": 0.0}),
        ("LSTM", {"units": units}),
        ("Dense", {"units": outputs}),
    ]
    if activation is not None:
        specs.append(("Activation", {"activation": activation}))
    return specs


@pytest.fixture(scope="module")
def model_pair(keras, keras_weights, sequential_pair, clear_sessions):
    """``model_pair(specs)``: (unrolled, keras) models with Keras's initial weights in both."""

    def build(specs, input_style="input"):
        clear_sessions()
        keras.utils.set_random_seed(SEED)
        u_model, k_model = sequential_pair(specs, (T, F), input_style=input_style)
        u_model.set_weights(keras_weights(k_model))
        return u_model, k_model

    return build


@pytest.fixture(scope="module")
def seed_run(keras, keras_weights, model_pair):
    """The seed model trained 3 epochs in both libraries, with everything the tests compare."""
    x, y = padded_data(np.random.default_rng(SEED))
    u_model, k_model = model_pair(model_specs(), input_style="input_shape")
    run = {"x": x, "y": y, "u_model": u_model, "k_model": k_model}
    run["paths"] = (
        [(w.name, w.path, tuple(w.shape)) for w in u_model.weights],
        [(w.name, w.path, tuple(w.shape)) for w in k_model.weights],
    )
    run["count_params"] = (u_model.count_params(), k_model.count_params())
    run["predict_before"] = (
        u_model.predict(x, batch_size=8, verbose=0),
        k_model.predict(x, batch_size=8, verbose=0),
    )
    compile_kwargs = {"loss": "binary_crossentropy", "optimizer": "adam", "metrics": ["accuracy"]}
    fit_kwargs = {"batch_size": 8, "epochs": 3, "shuffle": False, "verbose": 0}
    k_model.compile(**compile_kwargs)
    k_history = k_model.fit(x, y, **fit_kwargs)
    with warnings.catch_warnings():
        # only unrolled's 'accuracy' resolution note is ignored here; it has its own test
        warnings.filterwarnings("ignore", message=ACCURACY_NOTE, category=UserWarning)
        u_model.compile(**compile_kwargs)
        u_history = u_model.fit(x, y, **fit_kwargs)
        run["evaluate"] = (
            u_model.evaluate(x, y, batch_size=8, verbose=0),
            k_model.evaluate(x, y, batch_size=8, verbose=0),
        )
        run["evaluate_dict"] = (
            u_model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True),
            k_model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True),
        )
    run["history"] = (u_history, k_history)
    run["weights_after"] = keras_weights(k_model)
    run["predict_after"] = (
        u_model.predict(x, batch_size=8, verbose=0),
        k_model.predict(x, batch_size=8, verbose=0),
    )
    return run


def test_seed_model_weights_layout_matches_keras(seed_run):
    """Oracle: Keras's weight names, paths, shapes and count_params (exact)."""
    got, expected = seed_run["paths"]
    assert got == expected
    assert seed_run["count_params"][0] == seed_run["count_params"][1]


@pytest.mark.parametrize("when", ["predict_before", "predict_after"])
def test_seed_model_predict_matches_keras(seed_run, when):
    """Oracle: Keras predict before and after fit (batch_size=8, partial last batch); tol 1e-5."""
    got, expected = seed_run[when]
    assert isinstance(got, np.ndarray)
    assert got.shape == expected.shape == (N, 2)
    assert_close(got, expected)


def test_seed_model_fit_history_matches_keras(seed_run):
    """Oracle: Keras History (loss and 'accuracy' per epoch, epoch list); tol 1e-5."""
    u_history, k_history = seed_run["history"]
    assert set(k_history.history) == {"loss", "accuracy"}
    assert_history_close(u_history, k_history)


def test_seed_model_weights_after_fit_match_keras(seed_run):
    """Oracle: Keras weights after 3 epochs of Adam (12 steps, partial batches); tol 1e-5."""
    assert_weights_close(seed_run["u_model"], seed_run["weights_after"])


def test_seed_model_evaluate_matches_keras(seed_run):
    """Oracle: Keras evaluate as [loss, accuracy] and as a dict (batch_size=8); tol 1e-5."""
    got, expected = seed_run["evaluate"]
    assert len(got) == len(expected) == 2
    assert_close(got, expected)
    got, expected = seed_run["evaluate_dict"]
    assert set(got) == set(expected) == {"loss", "accuracy"}
    for key in expected:
        assert_close(got[key], expected[key], err_msg=key)


@pytest.mark.parametrize("validation", ["split", "data"])
def test_fit_validation_matches_keras(keras_weights, model_pair, rng, validation):
    """Oracle: Keras fit with validation_split=0.2 or validation_data; val_ keys tol 1e-5."""
    x, y = padded_data(rng, n=30, labels="binary")  # 24 train + 6 held out with "split"
    u_model, k_model = model_pair(model_specs(units=4, outputs=1))
    if validation == "split":  # Keras holds out the last 20% before any shuffling
        fit_kwargs = {"validation_split": 0.2}
    else:
        fit_kwargs = {"validation_data": padded_data(rng, n=8, labels="binary")}
    fit_kwargs.update(batch_size=8, epochs=2, shuffle=False, verbose=0)
    histories = []
    for model in (u_model, k_model):
        model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
        histories.append(model.fit(x, y, **fit_kwargs))
    assert set(histories[1].history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert_history_close(*histories)
    assert_weights_close(u_model, keras_weights(k_model))


def test_fit_initial_epoch_matches_keras(keras_weights, model_pair, rng):
    """Oracle: Keras fit(epochs=3, initial_epoch=1): History.epoch == [1, 2]; tol 1e-5."""
    x, y = padded_data(rng, n=N_WHOLE, labels="binary")
    u_model, k_model = model_pair(model_specs(units=4, outputs=1))
    histories = []
    for model in (u_model, k_model):
        model.compile(loss="binary_crossentropy", optimizer="adam")
        histories.append(
            model.fit(x, y, batch_size=8, epochs=3, initial_epoch=1, shuffle=False, verbose=0)
        )
    assert histories[1].epoch == [1, 2]
    assert_history_close(*histories)
    assert_weights_close(u_model, keras_weights(k_model))


def _one_step(model, x, y, step_via):
    if step_via == "train_on_batch":
        return float(np.ravel(np.asarray(model.train_on_batch(x, y), dtype="float64"))[0])
    history = model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return history.history["loss"][0]


@pytest.mark.parametrize("step_via", ["train_on_batch", "fit"])
def test_three_adam_steps_match_keras(keras, keras_weights, model_pair, rng, step_via):
    """Oracle: Keras, 3 single Adam steps on 3 batches; loss and weights after each, tol 1e-5.

    Via train_on_batch, and via one-batch fit calls (the optimizer state must carry over).
    """
    x, y = padded_data(rng, n=N_WHOLE)
    u_model, k_model = model_pair(model_specs())
    u_model.compile(loss="binary_crossentropy", optimizer=optimizers.Adam(learning_rate=0.01))
    k_model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(learning_rate=0.01))
    for step in range(3):
        batch = slice(8 * step, 8 * step + 8)
        expected = _one_step(k_model, x[batch], y[batch], step_via)
        got = _one_step(u_model, x[batch], y[batch], step_via)
        assert_close(got, expected, err_msg=f"loss at step {step}")
        assert_weights_close(u_model, keras_weights(k_model))


ACCURACY_CASES = {
    # id: (labels, output units, metric, unrolled warns about the 'accuracy' resolution)
    "accuracy-binary_(N,1)": ("binary", 1, "accuracy", False),
    "accuracy-onehot_(N,2)": ("onehot", 2, "accuracy", True),
    "binary_accuracy-(N,2)": ("onehot", 2, "binary_accuracy", False),
    "categorical_accuracy-(N,2)": ("onehot", 2, "categorical_accuracy", False),
}


@pytest.mark.parametrize(
    ("labels", "outputs", "metric", "warns"), ACCURACY_CASES.values(), ids=ACCURACY_CASES.keys()
)
def test_accuracy_metrics_match_keras(model_pair, rng, labels, outputs, metric, warns):
    """Oracle: Keras 3's metric resolution and values in evaluate (N=30, batch 8); tol 1e-5.

    'accuracy' on (N, 1) labels is binary accuracy; on one-hot (N, 2) labels it is categorical.
    (Metric values inside fit's History are compared by the seed-model test.)
    """
    x, y = padded_data(rng, labels=labels)
    u_model, k_model = model_pair(model_specs(units=4, outputs=outputs))
    compile_kwargs = {"loss": "binary_crossentropy", "optimizer": "adam", "metrics": [metric]}
    scores = []
    for model in (u_model, k_model):
        expectation = pytest.warns(UserWarning, match=ACCURACY_NOTE)
        if not warns or model is k_model:
            expectation = warnings.catch_warnings()  # any other warning stays an error
        with expectation:
            model.compile(**compile_kwargs)
            scores.append(model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True))
    u_scores, k_scores = scores
    assert set(k_scores) == {"loss", metric}
    assert set(u_scores) == set(k_scores)
    for key in k_scores:
        assert_close(u_scores[key], k_scores[key], err_msg=key)


def test_accuracy_note_warns_exactly_once(rng, model_pair):
    """unrolled-specific (no oracle): 'accuracy' + BCE on 2 columns warns once per model.

    The one UserWarning names the accuracy chosen and the one to ask for instead, across
    compile, two fits and an evaluate.
    """
    x, y = padded_data(rng)
    u_model, _ = model_pair(model_specs(units=4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        u_model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
        u_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        u_model.evaluate(x, y, batch_size=8, verbose=0)
        u_model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    user_warnings = [w for w in caught if issubclass(w.category, UserWarning)]
    assert len(user_warnings) == 1, [str(w.message) for w in user_warnings]
    message = str(user_warnings[0].message)
    assert "categorical_accuracy" in message
    assert "binary_accuracy" in message


def test_metric_functions_match_keras(keras, rng):
    """Oracle: keras.metrics.binary_accuracy / categorical_accuracy per sample; exact.

    Includes predictions exactly at the 0.5 threshold (Keras counts y_pred > 0.5 as 1).
    """
    y_true = rng.integers(0, 2, size=(12, 3)).astype("float32")
    y_pred = rng.uniform(size=(12, 3)).astype("float32")
    y_pred[:4, 0] = 0.5
    got = metrics.binary_accuracy(y_true, y_pred)
    np.testing.assert_array_equal(
        np.asarray(got), np.asarray(keras.metrics.binary_accuracy(y_true, y_pred))
    )
    onehot = np.eye(3, dtype="float32")[rng.integers(0, 3, size=12)]
    got = metrics.categorical_accuracy(onehot, y_pred)
    np.testing.assert_array_equal(
        np.asarray(got), np.asarray(keras.metrics.categorical_accuracy(onehot, y_pred))
    )


def bce_inputs(rng, kind):
    y_true = rng.integers(0, 2, size=(10, 3)).astype("float32")
    if kind == "logits":  # incl. large magnitudes, where a naive formula overflows
        y_pred = rng.normal(0.0, 5.0, size=(10, 3)).astype("float32")
        y_pred[0] = [-40.0, 40.0, 0.0]
        y_pred[1] = [40.0, -40.0, 100.0]
    else:  # probabilities incl. exactly 0 and 1: Keras clips to [1e-7, 1 - 1e-7]
        y_pred = rng.uniform(size=(10, 3)).astype("float32")
        y_pred[0] = [0.0, 1.0, 0.0]
        y_pred[1] = [1.0, 0.0, 1.0]
        y_true[:2] = [[0.0, 1.0, 1.0], [0.0, 1.0, 1.0]]
    return y_true, y_pred


@pytest.mark.parametrize("kind", ["logits", "clipped"])
def test_binary_crossentropy_matches_keras(keras, rng, kind):
    """Oracle: keras.losses.binary_crossentropy (per sample) and BinaryCrossentropy (mean).

    Tolerance 1e-5 relative and absolute; clipped values are about 16, so the float32 clipping
    rule itself is under test (1 - (1 - 1e-7) in float32 is 1.19e-7, not 1e-7).
    """
    y_true, y_pred = bce_inputs(rng, kind)
    from_logits = kind == "logits"
    got = losses.binary_crossentropy(y_true, y_pred, from_logits=from_logits)
    expected = keras.losses.binary_crossentropy(y_true, y_pred, from_logits=from_logits)
    assert np.shape(got) == np.shape(expected) == (10,)
    assert_close(got, expected)
    got = losses.BinaryCrossentropy(from_logits=from_logits)(y_true, y_pred)
    expected = keras.losses.BinaryCrossentropy(from_logits=from_logits)(y_true, y_pred)
    assert_close(got, expected)


def test_fit_bce_from_logits_matches_keras(keras, keras_weights, model_pair, rng):
    """Oracle: Keras fit with BinaryCrossentropy(from_logits=True) on a linear Dense(1) head."""
    x, y = padded_data(rng, n=N_WHOLE, labels="binary")
    u_model, k_model = model_pair(model_specs(units=4, outputs=1, activation=None))
    u_model.compile(loss=losses.BinaryCrossentropy(from_logits=True), optimizer="adam")
    k_model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True), optimizer="adam")
    histories = [
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        for model in (u_model, k_model)
    ]
    assert_history_close(*histories)
    assert_weights_close(u_model, keras_weights(k_model))
    assert_close(
        u_model.evaluate(x, y, batch_size=8, verbose=0),
        k_model.evaluate(x, y, batch_size=8, verbose=0),
    )


def test_adam_non_default_hyperparameters_match_keras(keras, keras_weights, model_pair, rng):
    """Oracle: Keras Adam(learning_rate, beta_1, beta_2, epsilon), 2 epochs; tol 1e-5.

    A large epsilon makes its placement (outside the square root, after bias correction of the
    step size) visible in the weights.
    """
    x, y = padded_data(rng, n=N_WHOLE, labels="binary")
    u_model, k_model = model_pair(model_specs(units=4, outputs=1))
    hyper = {"learning_rate": 0.02, "beta_1": 0.7, "beta_2": 0.95, "epsilon": 1e-3}
    u_model.compile(loss="binary_crossentropy", optimizer=optimizers.Adam(**hyper))
    k_model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(**hyper))
    histories = [
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        for model in (u_model, k_model)
    ]
    assert_history_close(*histories)
    assert_weights_close(u_model, keras_weights(k_model))
