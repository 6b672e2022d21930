"""fit on a grain dataset (issue 13 item 1: grain as an optional data source).

Oracle: the same model fit on the same batches as arrays (shuffle=False). A grain
`MapDataset` is indexable (``__getitem__``/``__len__``) and an `IterDataset` iterable, so both
stream through `fit` like a PyDataset or an iterable.
"""

import numpy as np
import pytest

from unrolled import layers, models, utils

grain = pytest.importorskip("grain", reason="grain is the optional 'grain' extra (in 'test')")

T, F, N, B = 5, 2, 20, 8


def _model():
    utils.set_random_seed(0)
    model = models.Sequential([layers.Input((T, F)), layers.LSTM(3), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


@pytest.mark.parametrize("kind", ["map", "iter"])
def test_fit_on_a_grain_dataset_equals_the_arrays(kind):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, T, F)).astype("float32")
    y = rng.normal(size=(N, 1)).astype("float32")
    want = _model()
    hist_want = want.fit(x, y, batch_size=B, epochs=2, shuffle=False, verbose=0)
    ds = grain.MapDataset.source([(x[i], y[i]) for i in range(N)]).batch(B)
    if kind == "iter":
        ds = ds.to_iter_dataset()
    got = _model()
    hist_got = got.fit(ds, epochs=2, verbose=0)
    assert hist_got.history == hist_want.history
    for a, b in zip(got.get_weights(), want.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
