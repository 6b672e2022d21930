"""ConvLSTM, Conv and BatchNormalization models in `.keras` / `.weights.h5` files (oracle 1).

Keras saves, unrolled loads (`load_model`; `load_weights` gives Keras's weights exactly) and
predicts the same (1e-5); unrolled saves, unrolled reads back the same configs and weights and
Keras predicts the same from unrolled's file; `summary` counts parameters as Keras.
"""

import numpy as np
import pytest

import unrolled

TOL = 1e-5
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

SPECS = {
    "conv_lstm2d": ((2, 5, 5, 1), lambda L: [
        L.ConvLSTM2D(2, 3, padding="same", return_sequences=True),
        L.BatchNormalization(),
        L.TimeDistributed(L.Conv2D(2, 2)),
        L.ConvLSTM2D(2, (2, 1), data_format="channels_last"),
        L.Flatten(), L.Dense(1)]),
    "conv_lstm1d_3d": ((2, 3, 3, 4, 1), lambda L: [
        L.ConvLSTM3D(2, 2, padding="same", go_backwards=True),
        L.Conv3D(2, 2), L.BatchNormalization(axis=-1, momentum=0.5), L.Flatten(),
        L.Dense(1)]),
    "conv_lstm1d": ((3, 6, 2), lambda L: [
        L.ConvLSTM1D(2, 3, return_sequences=True), L.ConvLSTM1D(3, 2, strides=2),
        L.Conv1D(2, 2, padding="causal"), L.Flatten(), L.Dense(1)]),
}


def _models(lib, name):
    shape, build = SPECS[name]
    return lib.models.Sequential([lib.layers.Input(shape=shape), *build(lib.layers)])


def _randomize(model, rng):
    """Weights away from their initial values (positive moving variances)."""
    model.set_weights([np.abs(rng.normal(size=np.shape(w.value))).astype("float32") + 0.5
                       if "variance" in w.path else
                       rng.normal(0, 0.5, np.shape(w.value)).astype("float32")
                       for w in model.weights])


@pytest.mark.parametrize("name", sorted(SPECS))
def test_files_cross_between_keras_and_unrolled(keras, tmp_path, rng, name):
    k_model = _models(keras, name)
    _randomize(k_model, rng)
    x = rng.normal(size=(2, *SPECS[name][0])).astype("float32")
    want = k_model.predict(x, verbose=0)
    k_model.save(tmp_path / "k.keras")
    k_model.save_weights(tmp_path / "k.weights.h5")
    loaded = unrolled.models.load_model(tmp_path / "k.keras")
    assert [w.path for w in loaded.weights] == [w.path for w in k_model.weights]
    np.testing.assert_allclose(loaded.predict(x), want, rtol=TOL, atol=TOL)
    fresh = _models(unrolled, name)
    fresh.load_weights(tmp_path / "k.weights.h5")
    for u_w, k_w in zip(fresh.weights, k_model.weights, strict=True):
        np.testing.assert_array_equal(u_w.numpy(), np.asarray(k_w.value), err_msg=u_w.path)
    lines = []
    fresh.summary(print_fn=lines.append)
    for layer in k_model.layers:  # every row shows Keras's parameter count
        assert f"{layer.count_params():,}" in lines[0], layer.name
    assert f"Total params: {k_model.count_params():,}" in lines[0]
    # unrolled's own file: unrolled and Keras read it back
    loaded.save(tmp_path / "u.keras")
    again = unrolled.models.load_model(tmp_path / "u.keras")
    assert [layer.get_config() for layer in again.layers] == \
        [layer.get_config() for layer in loaded.layers]
    for u_w, k_w in zip(again.weights, k_model.weights, strict=True):
        np.testing.assert_array_equal(u_w.numpy(), np.asarray(k_w.value), err_msg=u_w.path)
    k_again = keras.models.load_model(tmp_path / "u.keras")
    np.testing.assert_allclose(k_again.predict(x, verbose=0), want, rtol=TOL, atol=TOL)
