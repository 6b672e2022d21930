"""`predict` runs several batches per compiled call where rows are independent.

Oracle: invariant. The grouped outputs equal batch-by-batch calls of the same jitted forward
(float32, atol 1e-6: the matmuls see more rows, each row's arithmetic is unchanged), for one and
several outputs; at most two batch shapes are compiled, and models whose rows may interact
(stateful RNNs, user-defined layers) keep one batch per call.
"""

import numpy as np
import pytest

from unrolled import layers, models
from unrolled.training import predict as predict_module
from unrolled.training.steps import make_predict_step

T, F, B = 7, 2, 8


@pytest.fixture(autouse=True)
def small_groups(monkeypatch):
    monkeypatch.setattr(predict_module, "PREDICT_ROWS", 4 * B)  # 4 batches per call


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, T, F)).astype("float32")
    x[np.arange(T)[None, :] >= rng.integers(1, T + 1, size=n)[:, None]] = 0.0
    return x


def per_call(model, batch_size):
    """How many batches one predict call of ``model`` takes."""
    return predict_module.batches_per_call(batch_size, model._training_spec().rows_independent)


def lstm_model():
    return models.Sequential([layers.Input(shape=(T, F)), layers.Masking(0.0), layers.LSTM(5),
                              layers.Dense(3)])


def one_batch_at_a_time(model, x):
    tv = [w.value for w in model.trainable_weights]
    ntv = [w.value for w in model.non_trainable_weights]
    step = make_predict_step(model._stateless_forward)

    def fn(tv, ntv, x):
        return step(tv, ntv, [], x)[0]

    outs = [np.asarray(fn(tv, ntv, x[i:i + B])) for i in range(0, len(x) - B + 1, B)]
    tail = len(x) % B
    if tail:
        padded = np.concatenate([x[-tail:], np.zeros((B - tail, *x.shape[1:]), x.dtype)])
        outs.append(np.asarray(fn(tv, ntv, padded))[:tail])
    return np.concatenate(outs)


@pytest.mark.parametrize("n", [4 * B * 2 + 3 * B + 5, 4 * B, 3 * B + 1, 1])
def test_grouped_predict_equals_batch_by_batch(n):
    model = lstm_model()
    assert per_call(model, B) == 4
    x = data(n)
    got = model.predict(x, batch_size=B, verbose=0)
    np.testing.assert_allclose(got, one_batch_at_a_time(model, x), rtol=0, atol=1e-6)
    assert got.shape == (n, 3)


def test_at_most_two_shapes_compiled_and_no_growth():
    model = lstm_model()
    model.predict(data(3 * B), batch_size=B, verbose=0)  # shorter than a group: one shape
    assert model.compile_counts()["predict"] == 1
    for n in (4 * B * 3 + 2, 4 * B + B, 9 * B + 7, 4 * B):
        model.predict(data(n, n), batch_size=B, verbose=0)
    assert model.compile_counts()["predict"] == 2


def test_several_outputs_are_grouped_too():
    inp = layers.Input(shape=(T, F))
    seq = layers.LSTM(4, return_sequences=True)(layers.Masking(0.0)(inp))
    model = models.Model(inp, [layers.Dense(2)(seq), layers.Dense(1)(layers.LSTM(3)(seq))])
    x = data(4 * B + 2 * B + 3, 5)
    grouped = model.predict(x, batch_size=B, verbose=0)
    model._rows_are_independent = lambda: False
    single = model.predict(x, batch_size=B, verbose=0)
    assert [g.shape for g in grouped] == [(len(x), T, 2), (len(x), 1)]
    for g, s in zip(grouped, single, strict=True):
        np.testing.assert_allclose(g, s, rtol=0, atol=1e-6)


class RowMixing(layers.Layer):
    """A user layer that subtracts the batch mean: its output depends on the batch."""

    def call(self, x):
        return x - x.mean(axis=0, keepdims=True)


def test_user_layers_and_stateful_rnns_keep_one_batch_per_call():
    custom = models.Sequential([layers.Input(shape=(T, F)), layers.LSTM(3), RowMixing()])
    stateful = models.Sequential([layers.Input(batch_shape=(B, T, F)),
                                  layers.LSTM(3, stateful=True)])
    assert per_call(lstm_model(), B) == 4
    assert per_call(custom, B) == 1
    assert per_call(stateful, B) == 1
    assert per_call(lstm_model(), 4 * B) == 1  # a batch already fills a call
    x = data(4 * B + B)
    # the row-mixing layer still sees batches of B rows, as in Keras
    got = custom.predict(x, batch_size=B, verbose=0)
    np.testing.assert_allclose(got[:B].mean(axis=0), 0.0, atol=1e-6)
