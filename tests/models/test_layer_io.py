"""`layer.input`/`layer.output` and `model.input(s)`/`output(s)` of a functional graph.

Oracle: Keras 3 on the same graph (the first call's tensors, by layer; the model's tensors
with Keras's single/list rule; the same AttributeError for a layer never called).
"""

import pytest

from unrolled import layers


def _graph(lib):
    a, b = lib.Input((3, 2), name="a"), lib.Input((3, 2), name="b")
    lstm, dense = lib.layers.LSTM(4), lib.layers.Dense(1)
    ha, hb = lstm(a), lstm(b)  # one layer called twice: input/output are the first call's
    out = dense(lib.layers.Concatenate()([ha, hb]))
    return lib.Model([a, b], out), (a, b, ha, hb, out), (lstm, dense)


def test_layer_and_model_tensors_follow_keras(keras):
    import unrolled

    for lib in (keras, unrolled):
        model, (a, b, ha, hb, out), (lstm, dense) = _graph(lib)
        assert lstm.input is a and lstm.output is ha  # first call, not the second
        assert dense.output is out
        assert isinstance(model.input, list) and model.input[0] is a and model.input[1] is b
        assert model.output is out and model.outputs == [out]
        first = model.layers[0]
        assert first.output is a and list(first.input) == []  # an InputLayer
        single = lib.Model(a, lib.layers.Dense(2)(ha))
        assert single.input is a and tuple(single.output.shape) == (None, 2)
        fresh = lib.layers.Dense(2)
        with pytest.raises(AttributeError, match="has never been called and thus has no "
                                                 "defined input"):
            _ = fresh.input
        with pytest.raises(AttributeError, match="defined output"):
            _ = fresh.output


def test_a_layer_called_on_arrays_only_has_no_symbolic_input():
    import numpy as np

    dense = layers.Dense(2)
    dense(np.ones((1, 3), "float32"))
    with pytest.raises(AttributeError, match="never been called"):
        _ = dense.input
