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


def test_masks_travel_with_outputs_as_keras_mask(keras):
    """Keras attaches the mask to a layer's output (``_keras_mask``) and the next call uses it."""
    import numpy as np

    import unrolled

    x = np.ones((2, 4, 3), "float32")
    x[0, 2:] = 0.0  # sample 0: steps 2 and 3 are padding
    got, want = {}, {}
    for lib, out in ((keras, want), (unrolled, got)):
        masking = lib.layers.Masking(0.0)
        lstm = lib.layers.LSTM(2, return_sequences=True)
        dense = lib.layers.Dense(1)
        y = masking(x)
        z = lstm(y)
        out["masking"] = np.asarray(y._keras_mask)
        out["lstm"] = np.asarray(z._keras_mask)
        out["dense"] = np.asarray(dense(z)._keras_mask)  # Dense passes the mask on
        last = lib.layers.LSTM(2)
        out["last"] = getattr(last(y), "_keras_mask", None)  # no time axis left: no mask
        t = lib.Input((4, 3))
        symbolic = lstm(masking(t))
        out["symbolic"] = tuple(symbolic._keras_mask.shape)
    for key in ("masking", "lstm", "dense"):
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    np.testing.assert_array_equal(got["lstm"], [[True, True, False, False], [True] * 4])
    assert got["last"] is None and want["last"] is None
    assert got["symbolic"] == want["symbolic"] == (None, 4)
