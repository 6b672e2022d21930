"""BackupAndRestore resumes exactly with shuffle=True and dropout (issue 15, class 4).

Oracle: the uninterrupted run (oracle 4). A run interrupted after epoch k and resumed by
BackupAndRestore in a fresh model (as after a restarted process, the global seed scrambled)
must give the same weights and History values as one uninterrupted run: the backup carries the
generator fit shuffles with and the stream of dropout keys. A control without that state shows
that the test can tell the difference.
"""

import json

import numpy as np
import pytest

import unrolled
from unrolled import callbacks, layers

EPOCHS, STOP = 5, 2


class Interrupt(Exception):
    pass


class StopAt(callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == STOP:
            raise Interrupt(f"epoch {epoch}")


def _model():
    unrolled.utils.set_random_seed(11)
    model = unrolled.models.Sequential([
        layers.Input((6, 2)), layers.LSTM(4, dropout=0.3, recurrent_dropout=0.2),
        layers.Dropout(0.25), layers.Dense(2, activation="softmax")])
    model.compile(optimizer=unrolled.optimizers.Adam(0.02), loss="categorical_crossentropy",
                  metrics=["categorical_accuracy"])
    return model


def _data():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(21, 6, 2)).astype("float32")
    return x, np.eye(2, dtype="float32")[(x[:, :, 0].sum(1) > 0).astype(int)]


def _fit(model, cbs):
    x, y = _data()
    return model.fit(x, y, batch_size=4, epochs=EPOCHS, verbose=0, callbacks=cbs)  # shuffle


def _interrupted(folder):
    with pytest.raises(Interrupt):
        _fit(_model(), [callbacks.BackupAndRestore(folder), StopAt()])


def _resumed(folder):
    model = _model()  # a fresh model (same initial weights and layer seeds), as a new process
    unrolled.utils.set_random_seed(999)  # the global generator is elsewhere
    return model, _fit(model, [callbacks.BackupAndRestore(folder)])


def test_backup_and_restore_resumes_exactly_with_shuffle_and_dropout(tmp_path):
    full = _model()
    h_full = _fit(full, [])
    _interrupted(str(tmp_path / "b"))
    metadata = json.loads((tmp_path / "b" / "training_metadata.json").read_text())
    assert metadata["epoch"] == STOP and "batch" in metadata  # Keras's keys, still read by Keras
    assert set(metadata["unrolled_random_state"]) == {"numpy", "fit_seed_generator"}
    model, h_resumed = _resumed(str(tmp_path / "b"))
    assert h_resumed.epoch == list(range(STOP, EPOCHS))
    for key in h_full.history:
        np.testing.assert_allclose(h_resumed.history[key], h_full.history[key][STOP:],
                                   rtol=0, atol=1e-6, err_msg=key)
    for a, b in zip(model.get_weights(), full.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert not (tmp_path / "b").exists()  # completed: the backup is gone, as in Keras


def test_without_the_random_state_the_resumed_run_differs(tmp_path):
    # The control: a Keras-only backup (no random state) resumes with other shuffles and masks.
    full = _model()
    _fit(full, [])
    _interrupted(str(tmp_path / "b"))
    path = tmp_path / "b" / "training_metadata.json"
    metadata = json.loads(path.read_text())
    del metadata["unrolled_random_state"]
    path.write_text(json.dumps(metadata))
    model, _ = _resumed(str(tmp_path / "b"))
    diff = max(float(np.max(np.abs(a - b)))
               for a, b in zip(model.get_weights(), full.get_weights(), strict=True))
    assert diff > 1e-4


def test_a_corrupt_random_state_is_refused(tmp_path):
    _interrupted(str(tmp_path / "b"))
    path = tmp_path / "b" / "training_metadata.json"
    metadata = json.loads(path.read_text())
    metadata["unrolled_random_state"] = {"numpy": {"bit_generator": "NoSuchGenerator"}}
    path.write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match="not a NumPy bit generator state"):
        _resumed(str(tmp_path / "b"))
