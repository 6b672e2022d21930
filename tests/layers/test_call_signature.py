"""Keras passes ``training`` and ``mask`` to ``call`` only when its signature takes them.

Oracle: real Keras 3 (JAX backend) on the same custom layer: eager call, inside a model, and in
`predict`, with ``call(self, x)``, ``call(self, x, training=None)`` and ``call(self, x, **kwargs)``.
"""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import unrolled  # noqa: E402

X = np.random.default_rng(0).normal(size=(3, 4, 2)).astype("float32")


def make(lib, kind):
    class Plain(lib.layers.Layer):
        def call(self, x):
            return x * 2.0 + 1.0

    class WithTraining(lib.layers.Layer):
        def call(self, x, training=None):
            return x * 3.0 if training else x - 1.0

    class Anything(lib.layers.Layer):
        def call(self, x, **kwargs):
            return x * 0.5 + float("mask" in kwargs)

    return {"plain": Plain, "training": WithTraining, "kwargs": Anything}[kind]()


@pytest.mark.filterwarnings("ignore:Layer .* was passed an input with a mask")
@pytest.mark.parametrize("kind", ["plain", "training", "kwargs"])
def test_eager_and_in_a_model_as_keras(kind):
    ours, theirs = make(unrolled, kind), make(keras, kind)
    np.testing.assert_allclose(ours(X), np.asarray(theirs(X)), rtol=1e-6)

    def model(lib, layer):
        return lib.models.Sequential([lib.layers.Input(shape=(4, 2)), lib.layers.Masking(0.0),
                                      layer])

    got = model(unrolled, make(unrolled, kind)).predict(X, verbose=0)
    want = model(keras, make(keras, kind)).predict(X, verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-6)
