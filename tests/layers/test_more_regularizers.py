"""Regularizers and constraints of Conv, ConvLSTM, Embedding and the normalizations, vs Keras 3.

Each case builds the same small model in Keras and unrolled with a weight regularizer and a
constraint on the layer under test, copies Keras's initial weights across (``set_weights``),
fits 2 epochs of SGD on tiny unshuffled data and compares the loss history, the final weights,
``losses`` and the regularizer/constraint entries of the layer configs.
"""

import numpy as np
import pytest

import unrolled
from unrolled import constraints, regularizers


def kw(model):
    """Keras's weights as arrays (its get_weights warns under NumPy 2)."""
    return [np.asarray(v.value) for v in model.weights]


def _conv(rank):
    def layer(lib, regs, cons):
        return getattr(lib.layers, f"Conv{rank}D")(
            2, 2, kernel_regularizer=regs.L2(0.05), bias_regularizer=regs.L1(0.1),
            activity_regularizer=regs.L2(0.01), kernel_constraint=cons.MaxNorm(0.4),
            bias_constraint=cons.NonNeg())
    return layer


def _conv_lstm(rank):
    def layer(lib, regs, cons):
        return getattr(lib.layers, f"ConvLSTM{rank}D")(
            2, 2, kernel_regularizer=regs.L2(0.05), recurrent_regularizer=regs.L1L2(0.01, 0.02),
            bias_regularizer=regs.L1(0.1), kernel_constraint=cons.UnitNorm(axis=0),
            recurrent_constraint=cons.MaxNorm(0.5), bias_constraint=cons.NonNeg())
    return layer


def _embedding(lib, regs, cons):
    return lib.layers.Embedding(7, 3, embeddings_regularizer=regs.L2(0.1),
                                embeddings_constraint=cons.MaxNorm(0.04, axis=1),
                                activity_regularizer=regs.L1(0.01))


def _batch_norm(lib, regs, cons):
    return lib.layers.BatchNormalization(
        gamma_regularizer=regs.L2(0.3), beta_regularizer=regs.L1(0.05),
        gamma_constraint=cons.MinMaxNorm(0.5, 0.9, axis=0), beta_constraint=cons.NonNeg())


def _layer_norm(lib, regs, cons):
    return lib.layers.LayerNormalization(
        gamma_regularizer=regs.L1L2(0.02, 0.3), beta_regularizer=regs.L2(0.05),
        gamma_constraint=cons.MaxNorm(1.2, axis=0), beta_constraint=cons.NonNeg())


CASES = {  # name: (layer factory, per-sample input shape, integer inputs, Dense before it)
    "Conv1D": (_conv(1), (5, 3), False, False),
    "Conv2D": (_conv(2), (4, 4, 2), False, False),
    "Conv3D": (_conv(3), (3, 3, 3, 1), False, False),
    "ConvLSTM1D": (_conv_lstm(1), (3, 4, 2), False, False),
    "ConvLSTM2D": (_conv_lstm(2), (2, 3, 3, 1), False, False),
    "ConvLSTM3D": (_conv_lstm(3), (2, 2, 2, 2, 1), False, False),
    "Embedding": (_embedding, (4,), True, False),
    "BatchNormalization": (_batch_norm, (4,), False, True),
    "LayerNormalization": (_layer_norm, (4,), False, True),
}


def _models(keras, name):
    make, shape, ints, dense_first = CASES[name]

    def build(lib, regs, cons):
        first = [lib.layers.Dense(3)] if dense_first else []
        return lib.Sequential([lib.Input(shape, dtype="int32" if ints else "float32"), *first,
                               make(lib, regs, cons), lib.layers.Flatten(),
                               lib.layers.Dense(1)])

    k = build(keras, keras.regularizers, keras.constraints)
    u = build(unrolled, regularizers, constraints)
    u.set_weights(kw(k))
    rng = np.random.default_rng(0)
    x = (rng.integers(0, 7, size=(12, *shape)).astype("int32") if ints
         else rng.normal(size=(12, *shape)).astype("float32"))
    y = rng.normal(size=(12, 1)).astype("float32")
    return k, u, x, y


@pytest.mark.parametrize("name", list(CASES))
def test_fit_with_regularizers_and_constraints_as_keras(keras, name):
    k, u, x, y = _models(keras, name)
    np.testing.assert_allclose([float(v) for v in u.losses], [float(v) for v in k.losses],
                               rtol=1e-5)
    k.compile(keras.optimizers.SGD(0.1), "mse")
    u.compile(unrolled.optimizers.SGD(0.1), "mse")
    hk = k.fit(x, y, batch_size=6, epochs=2, verbose=0, shuffle=False).history
    hu = u.fit(x, y, batch_size=6, epochs=2, verbose=0, shuffle=False).history
    np.testing.assert_allclose(hu["loss"], hk["loss"], rtol=1e-5)
    for a, b in zip(u.get_weights(), kw(k), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose([float(v) for v in u.losses], [float(v) for v in k.losses],
                               rtol=1e-5)
    lk, lu = k.layers[-3], u.layers[-3]
    ck, cu = lk.get_config(), lu.get_config()
    keys = [key for key in ck if "regularizer" in key or "constraint" in key]
    assert len(keys) >= 3
    assert any(ck[key] is not None for key in keys)
    for key in keys:
        assert cu[key] == ck[key], key
    # the config rebuilds the layer with the same options
    again = type(lu).from_config(cu).get_config()
    assert {key: again[key] for key in keys} == {key: ck[key] for key in keys}
