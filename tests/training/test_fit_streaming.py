"""fit / evaluate / predict on generators, iterables and PyDatasets (issue 13 item 1).

Oracle: the same model trained on the same batches given as arrays (shuffle=False, so the
batches are the same), or one `train_on_batch` per batch; for the errors, Keras's rules.
"""

import numpy as np
import pytest

from unrolled import layers, models, utils

T, F, U, N, B = 6, 3, 4, 20, 8  # 20 rows in batches of 8: the last batch has 4 rows


def _model(seed=0, masking=False, dropout=0.0):
    utils.set_random_seed(seed)
    stack = [layers.Input((None, F) if masking else (T, F))]
    if masking:
        stack.append(layers.Masking(0.0))
    stack += [layers.LSTM(U, dropout=dropout), layers.Dense(1, activation="sigmoid")]
    model = models.Sequential(stack)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _data(n=N, t=T):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, t, F)).astype("float32")
    y = (x[:, :, 0].mean(axis=1) > 0).astype("float32")[:, None]
    return x, y


def _batches(x, y, batch=B):
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, len(x), batch)]


def _assert_same_weights(a, b, atol=0.0):
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=atol)


class _Iterable:  # iterated afresh every epoch, as Keras takes any iterable of batches
    def __init__(self, batches):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)


@pytest.mark.parametrize("kind", ["function", "iterable", "pydataset"])
def test_fit_on_a_stream_equals_fit_on_the_same_batches_as_arrays(kind):
    x, y = _data()
    want = _model(dropout=0.2)
    hist_want = want.fit(x, y, batch_size=B, epochs=2, shuffle=False, verbose=0)

    class Batches(utils.PyDataset):
        def __len__(self):
            return len(_batches(x, y))

        def __getitem__(self, i):
            return _batches(x, y)[i]

    source = {"function": lambda: iter(_batches(x, y)), "iterable": _Iterable(_batches(x, y)),
              "pydataset": Batches(workers=2)}[kind]
    got = _model(dropout=0.2)
    hist_got = got.fit(source, epochs=2, verbose=0)
    _assert_same_weights(got, want)  # same compiled step, same batches, same dropout keys
    assert hist_got.history == hist_want.history
    assert got.compile_counts()["train"] == 1  # the short last batch is padded, not recompiled


def test_steps_per_epoch_continues_an_endless_generator_across_epochs():
    x, y = _data(n=3 * B)

    def endless():
        while True:
            yield from _batches(x, y)

    got = _model()
    got.fit(endless(), steps_per_epoch=2, epochs=3, verbose=0)
    want = _model()  # 3 epochs x 2 batches = batches 0, 1, 2, 0, 1, 2 of the cycle
    for i in [0, 1, 2, 0, 1, 2]:
        want.train_on_batch(*_batches(x, y)[i])
    _assert_same_weights(got, want, atol=1e-6)


def test_varying_lengths_are_bucketed_behind_masking_and_change_nothing():
    rng = np.random.default_rng(2)
    lengths = [3, 5, 6, 7, 9, 10]
    batches = [(rng.normal(size=(B, t, F)).astype("float32"),
                rng.integers(0, 2, (B, 1)).astype("float32")) for t in lengths]
    got = _model(masking=True)
    got.build((None, None, F))
    got.fit(_Iterable(batches), epochs=1, verbose=0)
    assert got.compile_counts()["train"] == 3  # lengths 3..10 -> buckets 4, 8, 16
    exact = _model(masking=True)  # each batch at its own length: one compile per length
    for bx, by in batches:
        exact.train_on_batch(bx, by)
    assert exact.compile_counts()["train"] == len(lengths)
    _assert_same_weights(got, exact, atol=1e-5)  # the padded steps are masked


def test_evaluate_and_predict_on_streams_equal_the_arrays():
    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=B, epochs=1, verbose=0)
    want = model.evaluate(x, y, batch_size=B, verbose=0, return_dict=True)
    got = model.evaluate(lambda: iter(_batches(x, y)), verbose=0, return_dict=True)
    assert got == pytest.approx(want, rel=1e-6)
    np.testing.assert_allclose(model.predict(iter([b for b, _ in _batches(x, y)]), verbose=0),
                               model.predict(x, batch_size=B, verbose=0), rtol=0, atol=1e-6)
    assert model.predict(iter(_batches(x, y)), steps=2, verbose=0).shape == (2 * B, 1)


def test_validation_data_may_be_a_stream():
    x, y = _data()
    model = _model()
    hist = model.fit(x, y, batch_size=B, epochs=1, verbose=0,
                     validation_data=lambda: iter(_batches(x, y)), validation_steps=2)
    want = model.evaluate(x[:2 * B], y[:2 * B], batch_size=B, verbose=0, return_dict=True)
    assert hist.history["val_loss"][0] == pytest.approx(want["loss"], rel=1e-6)


def test_an_unbuilt_model_is_built_from_the_first_batch():
    x, y = _data()
    model = models.Sequential([layers.LSTM(U), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(iter(_batches(x, y)), epochs=1, verbose=0)
    assert model.built and model.get_weights()[0].shape == (F, 4 * U)


def test_stream_errors_say_what_to_do():
    x, y = _data()
    model = _model()
    with pytest.raises(ValueError, match="do not pass y"):
        model.fit(iter(_batches(x, y)), y, verbose=0)
    with pytest.raises(ValueError, match="do not pass batch_size"):
        model.fit(iter(_batches(x, y)), batch_size=4, verbose=0)
    with pytest.raises(ValueError, match="steps_per_epoch applies to a generator"):
        model.fit(x, y, steps_per_epoch=2, verbose=0)
    with pytest.raises(ValueError, match="validation_steps applies"):
        model.fit(x, y, validation_data=(x, y), validation_steps=2, verbose=0)
    with pytest.raises(ValueError, match="exhausted"):  # a generator object lasts one pass
        model.fit((b for b in _batches(x, y)), epochs=2, verbose=0)
    with pytest.raises(ValueError, match="no labels"):
        model.fit(iter([bx for bx, _ in _batches(x, y)]), verbose=0)
    with pytest.raises(ValueError, match="validation_split needs arrays"):
        model.fit(iter(_batches(x, y)), validation_split=0.2, verbose=0)
    bad = [(x[:B], y[:B]), (np.full((B, T, F), np.nan, "float32"), y[:B])]
    with pytest.raises(ValueError, match="non-finite"):
        model.fit(_Iterable(bad), verbose=0)


def test_progress_of_an_unknown_length_stream(capsys):
    x, y = _data()
    model = _model()
    model.fit(iter(_batches(x, y)), epochs=1, verbose=2)
    assert "3/Unknown" in capsys.readouterr().out
