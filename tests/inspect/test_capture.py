"""trace() records through the model's own forward pass (oracle 4: trace equals forward).

Every test compares with ``assert_array_equal``: the traced layer's output and states are the
arrays the model itself computes, bit for bit, whatever the graph around the layer.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from inspect_helpers import masked_batch, randomize

import unrolled
from unrolled import inspect, layers, models
from unrolled.layers.capture import Capture, requested


def functional_concat():
    """Two inputs concatenated, then Masking -> LSTM; outputs: the LSTM's and a Dense head."""
    a, b = unrolled.Input(shape=(6, 2)), unrolled.Input(shape=(6, 1))
    x = layers.Masking(0.0)(layers.Concatenate()([a, b]))
    seq = layers.LSTM(3, return_sequences=True, name="lstm")(x)
    model = unrolled.Model([a, b], [seq, layers.Dense(2)(seq)])
    randomize(model)
    return model


def test_functional_model_with_concatenate(rng):
    """The model inspect.trace could not run before (a merge layer takes a list)."""
    model = functional_concat()
    x = masked_batch(rng, 4, 6, 3)
    xs = [x[..., :2], x[..., 2:]]
    tr = inspect.trace(model, xs)
    seq, _ = model.predict(xs, verbose=0)
    np.testing.assert_array_equal(tr.output, seq)
    np.testing.assert_array_equal(tr.hidden, seq)  # the carried h is the emitted output
    np.testing.assert_array_equal(tr.inputs, np.concatenate(xs, -1))
    np.testing.assert_array_equal(tr.mask, x.any(-1))


def test_functional_model_with_add_and_two_heads(rng):
    x_in = unrolled.Input(shape=(5, 2))
    seq = layers.GRU(3, return_sequences=True)(x_in)
    summed = layers.Add()([seq, layers.Dense(3)(x_in)])
    model = unrolled.Model(x_in, [seq, layers.LSTM(2)(summed)])
    randomize(model)
    x = rng.normal(size=(3, 5, 2)).astype("float32")
    gru_seq, last = model.predict(x, verbose=0)
    np.testing.assert_array_equal(inspect.trace(model, x, layer="gru").output, gru_seq)
    np.testing.assert_array_equal(inspect.trace(model, x, layer="lstm").output, last)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_stacked_layers_after_stacked_cells(rng, go_backwards):
    """RNN(StackedRNNCells) -> LSTM -> LSTM: each traced LSTM is the model's own."""
    model = models.Sequential([
        layers.Input(shape=(7, 2)), layers.Masking(0.0),
        layers.RNN([layers.LSTMCell(3), layers.GRUCell(2)], return_sequences=True),
        layers.LSTM(4, return_sequences=True, go_backwards=go_backwards), layers.LSTM(3)])
    randomize(model)
    x = masked_batch(rng, 4, 7, 2)
    first, second = inspect.trace(model, x, layer=2), inspect.trace(model, x, layer=3)
    np.testing.assert_array_equal(second.output, model.predict(x, verbose=0))
    np.testing.assert_array_equal(second.inputs, first.output)  # in first's processing order


@pytest.mark.parametrize("merge_mode", ["concat", "sum"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional(rng, merge_mode, return_sequences):
    model = models.Sequential([layers.Input(shape=(5, 2)), layers.Masking(0.0),
                               layers.Bidirectional(layers.LSTM(3, return_sequences=
                                                                return_sequences),
                                                    merge_mode=merge_mode)])
    randomize(model)
    x = masked_batch(rng, 3, 5, 2)
    tr = inspect.trace(model, x)
    np.testing.assert_array_equal(tr.output, model.predict(x, verbose=0))


@pytest.mark.parametrize("name, kwargs", [("LSTM", {}), ("LSTM", {"activation": "relu"}),
                                          ("LSTM", {"unroll": True}), ("GRU", {}),
                                          ("GRU", {"reset_after": False}), ("SimpleRNN", {})])
@pytest.mark.parametrize("masked", [False, True])
def test_every_path_of_every_cell(rng, name, kwargs, masked):
    """The fast, sorted-length and generic paths all record their own states."""
    model = models.Sequential([layers.Input(shape=(6, 2)),
                               *([layers.Masking(0.0)] if masked else []),
                               getattr(layers, name)(3, return_sequences=True, **kwargs)])
    randomize(model)
    x = masked_batch(rng, 4, 6, 2)
    tr = inspect.trace(model, x)
    predicted = model.predict(x, verbose=0)
    np.testing.assert_array_equal(tr.output, predicted)
    np.testing.assert_array_equal(tr.hidden, predicted)


def test_bare_layer_and_stateful_layer_are_left_unchanged(rng):
    """A stateful layer's states are read, not advanced, by trace."""
    lstm = layers.LSTM(2, stateful=True, return_sequences=True)
    model = models.Sequential([layers.Input(batch_shape=(2, 4, 1)), lstm])
    randomize(model)
    x = rng.normal(size=(2, 4, 1)).astype("float32")
    model.predict(x, verbose=0)  # non-zero states
    before = [np.asarray(v.value) for v in lstm._state_vars]
    tr = inspect.trace(model, x)  # starts from the states left by predict
    for var, value in zip(lstm._state_vars, before, strict=True):
        np.testing.assert_array_equal(np.asarray(var.value), value)
    np.testing.assert_array_equal(tr.output, model.predict(x, verbose=0))
    bare = layers.LSTM(2, return_sequences=True)
    np.testing.assert_array_equal(inspect.trace(bare, x).output, bare(x))


def test_capture_costs_nothing_when_unused(rng):
    """Outside a Capture the forward's program is the same before and after a trace."""
    model = functional_concat()
    x = [jnp.zeros((2, 6, 2)), jnp.zeros((2, 6, 1))]
    tv = [w.value for w in model.trainable_weights]

    def jaxpr():  # a new function each time, so JAX traces it afresh
        return str(jax.make_jaxpr(lambda tv, x: model._stateless_forward(tv, [], x, False,
                                                                           None)[0])(tv, x))

    before = jaxpr()
    inspect.trace(model, [np.asarray(a) for a in x])
    assert requested(model.get_layer("lstm")) is None
    assert jaxpr() == before
    with Capture([model.get_layer("lstm")]) as cap:
        jaxpr()
    assert [s.shape for s in cap[model.get_layer("lstm")]["states"]] == [(2, 6, 3)] * 2
    with pytest.raises(KeyError, match="did not run"):
        cap[model.get_layer("dense")]
