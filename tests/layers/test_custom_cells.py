"""A custom cell written the Keras way (``ops.matmul(inputs, self.kernel)``, ``add_weight`` in
Keras's argument order) runs unchanged on unrolled's API. Oracle: the same cell in real Keras 3,
same inputs, 1e-6.
"""

import numpy as np
import pytest

import unrolled
from unrolled import ops


def _cell_class(base, ops_module):
    class OneState(base):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                          initializer="ones", name="kernel")
            # Keras's positional order: (shape, initializer)
            self.recurrent_kernel = self.add_weight((self.units, self.units), "identity",
                                                    name="recurrent_kernel")

        def call(self, inputs, states):
            h = ops_module.matmul(inputs, self.kernel)
            out = ops_module.tanh(h + ops_module.matmul(states[0], self.recurrent_kernel))
            return out, [out]

    return OneState


@pytest.mark.parametrize("return_sequences", [False, True])
def test_custom_cell_matches_keras(keras, return_sequences):
    x = np.linspace(-1, 1, 2 * 5 * 3, dtype="float32").reshape(2, 5, 3)
    k_cell = _cell_class(keras.layers.Layer, keras.ops)(4)
    u_cell = _cell_class(unrolled.layers.Layer, ops)(4)
    want = np.asarray(keras.layers.RNN(k_cell, return_sequences=return_sequences)(x))
    layer = unrolled.layers.RNN(u_cell, return_sequences=return_sequences)
    got = layer(x)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert [w.path for w in layer.weights] == ["rnn/one_state/kernel",
                                               "rnn/one_state/recurrent_kernel"]


def test_variable_arithmetic_reads_the_current_value():
    var = unrolled.layers.Variable(np.array([[1.0, 2.0], [3.0, 4.0]], "float32"), name="w")
    a = np.array([[1.0, 0.0]], "float32")
    np.testing.assert_array_equal(np.asarray(a @ var), [[1.0, 2.0]])
    np.testing.assert_array_equal(np.asarray(var @ a.T), [[1.0], [3.0]])
    np.testing.assert_array_equal(np.asarray(var * 2 - 1), [[1.0, 3.0], [5.0, 7.0]])
    np.testing.assert_array_equal(np.asarray(ops.add(var, var)), [[2.0, 4.0], [6.0, 8.0]])


def test_add_weight_rejects_unknown_regularizers_and_missing_shape():
    layer = unrolled.layers.Layer()
    with pytest.raises(ValueError, match="needs a shape"):
        layer.add_weight(initializer="zeros")
    with pytest.raises(ValueError, match="Unknown regularizer 'l3'"):
        layer.add_weight(shape=(2,), regularizer="l3")
    with pytest.raises(ValueError, match="Unknown constraint"):
        layer.add_weight(shape=(2,), constraint="max_nrom")
