"""BackupAndRestore against Keras 3's (oracle 1) and an uninterrupted run (oracle 4); TensorBoard
event files read back with TensorBoard's own reader, in Keras's documented layout."""

import os

import numpy as np
import pytest

from conftest import assert_close, flat
from unrolled import callbacks

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


class Interrupt(Exception):
    pass


def interrupter(lib, epoch, batch=None):
    class Stop(lib.Callback):
        def on_epoch_begin(self, e, logs=None):
            if batch is None and e == epoch:
                raise Interrupt(f"epoch {e}")

        def on_train_batch_end(self, b, logs=None):
            if batch is not None and self._epoch == epoch and b == batch:
                raise Interrupt(f"epoch {epoch} batch {b}")

        def on_epoch_end(self, e, logs=None):
            self._epoch = e + 1

        def on_train_begin(self, logs=None):
            self._epoch = 0

    return Stop()


def fit(model, x, y, cbs, epochs=6):
    return model.fit(x, y, batch_size=4, epochs=epochs, shuffle=False, verbose=0, callbacks=cbs)


def interrupted_then_resumed(model, lib, x, y, folder, stop_at, **kw):
    with pytest.raises(Interrupt):
        fit(model, x, y, [lib.BackupAndRestore(folder, **kw), interrupter(lib, *stop_at)])
    return fit(model, x, y, [lib.BackupAndRestore(folder, **kw)])


def compiled(model):
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


@pytest.mark.parametrize("kw, stop_at", [({}, (3,)), ({"save_freq": 3}, (2, 1)),
                                         ({"double_checkpoint": True}, (4,))])
def test_backup_and_restore_resumes_as_keras(keras, make_pair, keras_weights, data, tmp_path,
                                             kw, stop_at):
    x, y, _ = data
    x = flat(x)
    u_model, k_model = make_pair("dense")
    start = keras_weights(k_model)
    compiled(u_model), compiled(k_model)
    h_u = interrupted_then_resumed(u_model, callbacks, x, y, str(tmp_path / "u"), stop_at, **kw)
    h_k = interrupted_then_resumed(k_model, keras.callbacks, x, y, str(tmp_path / "k"),
                                   stop_at, **kw)
    assert h_u.epoch == h_k.epoch and h_k.epoch[0] > 0
    assert_close(h_u.history["loss"], h_k.history["loss"])
    for a, b in zip(u_model.get_weights(), keras_weights(k_model), strict=True):
        assert_close(a, b)
    assert not os.path.exists(tmp_path / "u") and not os.path.exists(tmp_path / "k")
    if "save_freq" not in kw:  # an epoch backup resumes exactly where the run stood
        ref, _ = make_pair("dense")
        ref.set_weights(start)
        h_ref = fit(compiled(ref), x, y, [])
        assert_close(h_u.history["loss"], h_ref.history["loss"][h_u.epoch[0]:])
        for a, b in zip(u_model.get_weights(), ref.get_weights(), strict=True):
            assert_close(a, b)


def test_backup_falls_back_to_previous_and_keeps_files(make_pair, data, tmp_path):
    x, y, _ = data
    x = flat(x)
    u_model, _ = make_pair("dense")
    compiled(u_model)
    folder = tmp_path / "b"
    with pytest.raises(Interrupt):
        fit(u_model, x, y, [callbacks.BackupAndRestore(folder, double_checkpoint=True),
                            interrupter(callbacks, 3)])
    assert sorted(os.listdir(folder)) == ["latest.weights.h5", "latest.weights.h5.bkp",
                                          "training_metadata.json",
                                          "training_metadata.json.bkp"]
    (folder / "latest.weights.h5").write_bytes(b"truncated")
    history = fit(u_model, x, y, [callbacks.BackupAndRestore(folder, double_checkpoint=True,
                                                             delete_checkpoint=False)])
    assert history.epoch[0] == 2  # the previous backup: after epoch index 1
    assert os.path.exists(folder / "latest.weights.h5")


@pytest.mark.parametrize("kw, match", [({"backup_dir": ""}, "backup_dir"),
                                       ({"backup_dir": "b", "save_freq": "batch"}, "save_freq")])
def test_backup_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        callbacks.BackupAndRestore(**kw)


# --- TensorBoard. Keras's own callback needs TensorFlow to write; the oracle is Keras's layout
# (keras/src/callbacks/tensorboard.py: train/ and validation/ writers, epoch_<name> at step=epoch,
# <weight.path>/histogram) and TensorBoard's reader of the files.
def test_tensorboard_event_files_read_by_tensorboard(make_pair, data, tmp_path):
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason="the tensorboard extra is optional for users")
    x, y, _ = data
    x = flat(x)
    u_model, _ = make_pair("dense")
    u_model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    tb = callbacks.TensorBoard(tmp_path / "logs", histogram_freq=2, update_freq=3)
    history = u_model.fit(x[:12], y[:12], batch_size=4, epochs=3, shuffle=False, verbose=0,
                          validation_data=(x[12:], y[12:]), callbacks=[tb])

    def read(which):
        acc = event_accumulator.EventAccumulator(
            str(tmp_path / "logs" / which), size_guidance={event_accumulator.HISTOGRAMS: 0})
        acc.Reload()
        return acc

    train, val = read("train"), read("validation")
    for name in ("loss", "accuracy"):
        got = [(e.step, e.value) for e in train.Scalars(f"epoch_{name}")]
        assert [s for s, _ in got] == [0, 1, 2]
        assert_close([v for _, v in got], history.history[name])
        assert_close([e.value for e in val.Scalars(f"epoch_{name}")],
                     history.history[f"val_{name}"])
    assert [e.value for e in train.Scalars("epoch_learning_rate")] == \
        pytest.approx([0.01] * 3)
    assert [e.step for e in train.Scalars("batch_loss")] == [3, 6, 9]
    assert [e.step for e in val.Scalars("evaluation_loss_vs_iterations")] == [3, 6, 9]
    tags = {f"{w.path}/histogram" for w in u_model.weights}
    assert set(train.Tags()["histograms"]) == tags
    for w in u_model.weights:
        events = train.Histograms(f"{w.path}/histogram")
        assert [e.step for e in events] == [0, 2]
        last, values = events[-1].histogram_value, np.asarray(w.value, "float64")
        assert last.num == values.size and sum(last.bucket) == values.size
        assert last.min == pytest.approx(values.min()) and last.max == pytest.approx(values.max())
        assert last.sum == pytest.approx(values.sum(), rel=1e-6)


@pytest.mark.parametrize("kw", [{"write_images": True}, {"embeddings_freq": 1},
                                {"update_freq": 0}, {"histogram_freq": -1}])
def test_tensorboard_errors(kw):
    with pytest.raises(ValueError, match="TensorBoard"):
        callbacks.TensorBoard(**kw)
