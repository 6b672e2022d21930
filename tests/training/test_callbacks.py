"""Callbacks against real Keras 3 behaviour (oracle 1) on deterministic runs (shuffle=False)."""

import csv
import os

import numpy as np
import pytest

from conftest import assert_close, flat
from unrolled import callbacks

# Keras's own callbacks read variables with np.array(variable), which warns under NumPy 2.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def compiled_pair(keras, make_pair, lr=0.1, metrics=None):
    u_model, k_model = make_pair("dense")
    u_model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=metrics)
    k_model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=metrics)
    u_model.optimizer.learning_rate = lr
    k_model.optimizer.learning_rate = lr
    return u_model, k_model


def test_early_stopping_restores_best_weights(keras, make_pair, fit_both, data):
    x, y, _ = data
    x = flat(x)
    u_model, k_model = compiled_pair(keras, make_pair, lr=2.0)
    kw = {"monitor": "val_loss", "patience": 1, "min_delta": 0.01, "restore_best_weights": True}
    ours, theirs = callbacks.EarlyStopping(**kw), keras.callbacks.EarlyStopping(**kw)
    h_u = u_model.fit(x[:12], y[:12], batch_size=4, epochs=10, shuffle=False, verbose=0,
                      validation_data=(x[12:], y[12:]), callbacks=[ours])
    h_k = k_model.fit(x[:12], y[:12], batch_size=4, epochs=10, shuffle=False, verbose=0,
                      validation_data=(x[12:], y[12:]), callbacks=[theirs])
    assert h_u.epoch == h_k.epoch and len(h_k.epoch) < 10
    assert (ours.stopped_epoch, ours.best_epoch) == (theirs.stopped_epoch, theirs.best_epoch)
    assert_close(h_u.history["val_loss"], h_k.history["val_loss"])
    for a, b in zip(u_model.get_weights(), [np.asarray(w.value) for w in k_model.weights],
                    strict=True):
        assert_close(a, b)


@pytest.mark.parametrize("kw", [{"baseline": 0.5}, {"start_from_epoch": 2, "mode": "max"}])
def test_early_stopping_options(keras, make_pair, data, kw):
    x, y, _ = data
    x = flat(x)
    u_model, k_model = compiled_pair(keras, make_pair)
    ours = callbacks.EarlyStopping(monitor="loss", patience=1, **kw)
    theirs = keras.callbacks.EarlyStopping(monitor="loss", patience=1, **kw)
    h_u = u_model.fit(x, y, batch_size=8, epochs=6, shuffle=False, verbose=0, callbacks=[ours])
    h_k = k_model.fit(x, y, batch_size=8, epochs=6, shuffle=False, verbose=0, callbacks=[theirs])
    assert h_u.epoch == h_k.epoch


def test_reduce_lr_on_plateau_without_recompiling(keras, make_pair, data):
    x, y, _ = data
    x = flat(x)
    u_model, k_model = compiled_pair(keras, make_pair, lr=0.5)
    kw = {"monitor": "loss", "factor": 0.5, "patience": 1, "min_delta": 0.03, "cooldown": 1}
    h_u = u_model.fit(x, y, batch_size=8, epochs=7, shuffle=False, verbose=0,
                      callbacks=[callbacks.ReduceLROnPlateau(**kw)])
    h_k = k_model.fit(x, y, batch_size=8, epochs=7, shuffle=False, verbose=0,
                      callbacks=[keras.callbacks.ReduceLROnPlateau(**kw)])
    assert len(set(h_k.history["learning_rate"])) > 1, "the run must reduce the rate"
    assert h_u.history["learning_rate"] == h_k.history["learning_rate"]
    assert_close(h_u.history["loss"], h_k.history["loss"])
    assert u_model.compile_counts()["train"] == 1


def test_csv_logger_format_and_append(keras, make_pair, data, tmp_path):
    x, y, _ = data
    x = flat(x)
    u_model, k_model = compiled_pair(keras, make_pair, metrics=["categorical_accuracy"])
    rows = {}
    for side, model, mod in (("u", u_model, callbacks), ("k", k_model, keras.callbacks)):
        path = tmp_path / f"{side}.csv"
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
                  callbacks=[mod.CSVLogger(str(path))])
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0,
                  callbacks=[mod.CSVLogger(str(path), append=True)])
        with open(path, newline="") as f:
            rows[side] = list(csv.reader(f))
    assert rows["u"][0] == rows["k"][0]  # header: epoch, sorted keys, val_ keys
    assert len(rows["u"]) == len(rows["k"]) == 4
    for ours, theirs in zip(rows["u"][1:], rows["k"][1:], strict=True):
        assert ours[0] == theirs[0]
        assert ours[-1] == theirs[-1] == "NA"
        assert_close([float(v) for v in ours[1:3]], [float(v) for v in theirs[1:3]])


def test_model_checkpoint_paths_and_best_only(keras, make_pair, data, tmp_path, monkeypatch):
    """Keras writes real files; unrolled's save_weights calls are recorded and must match."""
    x, y, _ = data
    x = flat(x)
    u_model, k_model = compiled_pair(keras, make_pair, lr=2.0)
    saved = []
    monkeypatch.setattr(u_model, "save_weights",
                        lambda path, overwrite=True: saved.append(os.path.basename(path)),
                        raising=False)
    pattern = "{epoch:02d}-{val_loss:.2f}.weights.h5"
    kw = {"save_best_only": True, "save_weights_only": True, "monitor": "val_loss"}
    u_model.fit(x[:12], y[:12], batch_size=4, epochs=5, shuffle=False, verbose=0,
                validation_data=(x[12:], y[12:]),
                callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "u" / pattern), **kw)])
    k_model.fit(x[:12], y[:12], batch_size=4, epochs=5, shuffle=False, verbose=0,
                validation_data=(x[12:], y[12:]),
                callbacks=[keras.callbacks.ModelCheckpoint(str(tmp_path / "k" / pattern), **kw)])
    assert saved == sorted(os.listdir(tmp_path / "k")) and 0 < len(saved) < 5


def test_model_checkpoint_calls_save(make_pair, data, tmp_path, monkeypatch):
    x, y, _ = data
    u_model, _ = make_pair("dense")
    u_model.compile(optimizer="sgd", loss="mse")
    calls = []
    monkeypatch.setattr(u_model, "save", lambda path, overwrite=True: calls.append(path),
                        raising=False)
    u_model.fit(flat(x), y, epochs=2, verbose=0,
                callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "m{epoch}.keras"))])
    assert calls == [str(tmp_path / "m1.keras"), str(tmp_path / "m2.keras")]


def test_terminate_on_nan_stops_without_raising(keras, make_pair, data):
    x, y, _ = data
    x = flat(x) * 1e3
    u_model, k_model = compiled_pair(keras, make_pair, lr=1e30)
    seen = {"u": [], "k": []}
    hist = {}
    for side, model, mod in (("u", u_model, callbacks), ("k", k_model, keras.callbacks)):
        spy = mod.LambdaCallback(on_train_batch_end=lambda b, logs, s=side: seen[s].append(b))
        hist[side] = model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0,
                               callbacks=[mod.TerminateOnNaN(), spy])
    assert seen["u"] == seen["k"] and len(seen["k"]) < 12
    assert hist["u"].epoch == hist["k"].epoch == [0]
    assert not np.isfinite(hist["u"].history["loss"][0])
    assert all(np.all(np.isfinite(w)) for w in u_model.get_weights())  # frozen, not NaN


def test_lambda_callback_hooks_in_keras_order(keras, make_pair, data):
    x, y, _ = data
    x = flat(x)
    u_model, k_model = compiled_pair(keras, make_pair)
    events = {"u": [], "k": []}
    for side, model, mod in (("u", u_model, callbacks), ("k", k_model, keras.callbacks)):
        log = events[side]
        cb = mod.LambdaCallback(
            on_train_begin=lambda logs, log=log: log.append("begin"),
            on_epoch_begin=lambda e, logs, log=log: log.append(("epoch", e)),
            on_train_batch_begin=lambda b, logs, log=log: log.append(("batch", b)),
            on_epoch_end=lambda e, logs, log=log: log.append(("end", e, sorted(logs))),
            on_train_end=lambda logs, log=log: log.append("done"))
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[cb])
    assert events["u"] == events["k"]


@pytest.mark.parametrize("call, match", [
    (lambda: callbacks.ReduceLROnPlateau(factor=1.0), "factor"),
    (lambda: callbacks.EarlyStopping(mode="best"), "mode"),
    (lambda: callbacks.ModelCheckpoint("w.h5", save_weights_only=True), r"\.weights\.h5"),
    (lambda: callbacks.ModelCheckpoint("model.pt"), r"\.keras"),
    (lambda: callbacks.ModelCheckpoint("m.keras", save_freq="often"), "save_freq"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_unknown_monitor_direction_and_missing_key(make_pair, data):
    x, y, _ = data
    u_model, _ = make_pair("dense")
    u_model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="mode='max'"):
        u_model.fit(flat(x), y, epochs=1, verbose=0,
                    callbacks=[callbacks.EarlyStopping(monitor="loss_ratio")])
    with pytest.warns(UserWarning, match="val_loss.*not available"):
        u_model.fit(flat(x), y, epochs=1, verbose=0, callbacks=[callbacks.EarlyStopping()])
