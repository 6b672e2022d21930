"""Custom layers and subclassed models written the Keras way, against real Keras 3 (oracle 1).

Sub-layers and variables assigned as attributes (also in lists and dicts) are tracked as Keras
tracks them: the same weights in the same order, the same trainable split, the same outputs, and
a subclassed model trains to the same loss history from the same initial weights.
"""

import numpy as np
import pytest

import unrolled

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


def kw(model):
    """Keras's weights as arrays (its get_weights warns under NumPy 2)."""
    return [np.asarray(v.value) for v in model.weights]


def _two_dense_layer(lib):
    class TwoDense(lib.layers.Layer):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.first = lib.layers.Dense(units, activation="tanh")
            self.second = lib.layers.Dense(2)

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(2,), initializer="ones", name="scale")
            self.count = self.add_weight(shape=(), initializer="zeros", name="count",
                                         trainable=False)
            self.first.build(input_shape)
            self.second.build((*input_shape[:-1], self.units))

        def call(self, inputs):
            return self.second(self.first(inputs)) * self.scale

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return TwoDense


def _blocks_layer(lib):
    class Blocks(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.blocks = [lib.layers.Dense(4), lib.layers.Dense(3)]
            self.heads = {"a": lib.layers.Dense(2), "b": lib.layers.Dense(1)}

        def call(self, inputs):
            for block in self.blocks:
                inputs = block(inputs)
            return self.heads["a"](inputs) + self.heads["b"](inputs)

    return Blocks


def _same_weights(k_layer, u_layer):
    assert [w.shape for w in u_layer.weights] == [tuple(w.shape) for w in k_layer.weights]
    assert [w.name for w in u_layer.weights] == [w.name for w in k_layer.weights]
    assert [w.name for w in u_layer.trainable_weights] == \
        [w.name for w in k_layer.trainable_weights]
    assert [w.name for w in u_layer.non_trainable_weights] == \
        [w.name for w in k_layer.non_trainable_weights]


@pytest.mark.parametrize("make", [_two_dense_layer, _blocks_layer])
def test_attribute_tracking_orders_weights_as_keras(keras, make, rng):
    x = rng.normal(size=(5, 4)).astype("float32")
    k_layer, u_layer = make(keras)(), make(unrolled)()
    want = np.asarray(k_layer(x))
    u_layer(x)
    _same_weights(k_layer, u_layer)
    assert [w.path for w in u_layer.weights] == [w.path for w in k_layer.weights]
    u_layer.set_weights(kw(k_layer))
    np.testing.assert_allclose(u_layer(x), want, rtol=1e-6, atol=1e-6)
    for a, b in zip(u_layer.get_weights(), kw(k_layer), strict=True):
        np.testing.assert_array_equal(a, b)


def test_frozen_sub_layer_weights_are_not_trainable(keras, rng):
    x = rng.normal(size=(5, 4)).astype("float32")
    k_layer, u_layer = _two_dense_layer(keras)(), _two_dense_layer(unrolled)()
    k_layer(x)
    u_layer(x)
    k_layer.first.trainable = False
    u_layer.first.trainable = False
    _same_weights(k_layer, u_layer)


def test_sub_layers_appended_by_hand_still_count():
    class ByHand(unrolled.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._sublayers.append(unrolled.layers.Dense(2, name="inner"))

        def call(self, inputs):
            return self._sublayers[0](inputs)

    layer = ByHand()
    layer(np.ones((1, 3), "float32"))
    assert [w.path for w in layer.weights] == ["by_hand/inner/kernel", "by_hand/inner/bias"]


def _net(lib):
    class Net(lib.Model):
        def __init__(self, units=4, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.lstm = lib.layers.LSTM(units, return_sequences=True)
            self.pool = lib.layers.GlobalAveragePooling1D()
            self.head = lib.layers.Dense(1)

        def call(self, inputs, training=False):
            return self.head(self.pool(self.lstm(inputs, training=training)))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return Net


@pytest.mark.parametrize("build", ["call", "build"])
def test_subclassed_model_fits_as_keras(keras, rng, build):
    x = rng.normal(size=(21, 6, 3)).astype("float32")
    y = rng.normal(size=(21, 1)).astype("float32")
    k, u = _net(keras)(), _net(unrolled)()
    k(x[:2])  # Keras's build() of a subclassed model without build() builds nothing
    if build == "call":
        u(x[:2])
    else:
        u.build((None, 6, 3))
    assert [w.path for w in u.weights] == [w.path for w in k.weights]
    assert [la.name for la in u.layers] == [la.name for la in k.layers]
    u.set_weights(kw(k))
    np.testing.assert_allclose(u.predict(x, verbose=0), k.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)
    k.compile("adam", "mse")
    u.compile("adam", "mse")
    hk = k.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False).history
    hu = u.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False).history
    np.testing.assert_allclose(hu["loss"], hk["loss"], rtol=2e-6)
    for a, b in zip(u.get_weights(), kw(k), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _small_net(lib):
    class Small(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.lstm = lib.layers.LSTM(4)
            self.head = lib.layers.Dense(1)

        def call(self, inputs):
            return self.head(self.lstm(inputs))

    return Small


def test_subclassed_model_summary_rows_as_keras(keras, rng):
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    k, u = _small_net(keras)(), _small_net(unrolled)()
    k(x)
    u(x)
    lines = {}
    for name, model in (("k", k), ("u", u)):
        out = []
        model.summary(print_fn=lambda s, out=out, **_: out.append(s))
        lines[name] = [ln for ln in "\n".join(out).splitlines() if ln.startswith("│")
                       or "params" in ln]
    assert lines["u"] == lines["k"]


@pytest.mark.parametrize("kind", ["custom_layer", "subclassed_model"])
def test_keras_files_of_custom_classes_round_trip(keras, tmp_path, rng, kind):
    x = rng.normal(size=(5, 6, 3)).astype("float32")

    def make(lib):
        if kind == "custom_layer":
            cls = lib.saving.register_keras_serializable(package="tests")(_two_dense_layer(lib))
            return lib.Sequential([lib.Input((6, 3)), lib.layers.LSTM(4), cls(3)])
        return lib.saving.register_keras_serializable(package="tests")(_net(lib))(units=5)

    keep, outs = {}, {}
    for name, lib in (("keras", keras), ("unrolled", unrolled)):
        model = make(lib)
        model(x)
        if name == "unrolled":
            model.set_weights(kw(keep["keras"]))
        keep[name] = model
        outs[name] = np.asarray(model.predict(x, verbose=0))
        model.save(str(tmp_path / f"{name}.keras"))
    np.testing.assert_allclose(outs["unrolled"], outs["keras"], rtol=1e-5, atol=1e-6)
    for source in ("keras", "unrolled"):
        path = str(tmp_path / f"{source}.keras")
        mine, theirs = unrolled.models.load_model(path), keras.models.load_model(path)
        assert type(mine).__name__ == type(theirs).__name__
        np.testing.assert_allclose(mine.predict(x, verbose=0), outs["keras"], rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(theirs.predict(x, verbose=0), outs["keras"], rtol=1e-5,
                                   atol=1e-6)
        _same_weights(theirs, mine)
