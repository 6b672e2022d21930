"""ModelCheckpoint + fit(initial_epoch=) resumes exactly (invariant oracle: an uninterrupted run).

Train 2 epochs with a ModelCheckpoint writing the full model every epoch, "crash", load the
checkpoint, continue with fit(epochs=4, initial_epoch=2): the weights, the Adam slots and the
loss history must equal those of one uninterrupted 4-epoch run, bit for bit.
"""

import jax
import numpy as np

import unrolled
from unrolled import layers
from unrolled.callbacks import ModelCheckpoint


def _model():
    unrolled.utils.set_random_seed(7)
    model = unrolled.models.Sequential([
        layers.Input(shape=(6, 2)), layers.Masking(0.0), layers.LSTM(4), layers.Dense(2),
        layers.Activation("sigmoid")])
    model.compile(optimizer=unrolled.optimizers.Adam(0.01), loss="binary_crossentropy",
                  metrics=["categorical_accuracy"])
    return model


def test_checkpoint_resume_equals_uninterrupted(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(22, 6, 2)).astype("float32")
    x[::3, 4:] = 0.0
    y = np.eye(2, dtype="float32")[rng.integers(0, 2, 22)]

    full = _model()
    history = full.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0).history

    first = _model()
    path = tmp_path / "ckpt-{epoch:02d}.keras"
    first.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
              callbacks=[ModelCheckpoint(str(path))])
    resumed = unrolled.models.load_model(tmp_path / "ckpt-02.keras")
    assert resumed.optimizer.iterations == 6  # 2 epochs x 3 batches
    later = resumed.fit(x, y, batch_size=8, epochs=4, initial_epoch=2, shuffle=False,
                        verbose=0)
    assert later.epoch == [2, 3]
    for key in history:
        assert later.history[key] == history[key][2:], key
    for a, b in zip(resumed.get_weights(), full.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    slots_resumed = jax.tree.leaves(resumed._opt_state)  # step count, rate, m and v per weight
    slots_full = jax.tree.leaves(full._opt_state)
    assert len(slots_resumed) == len(slots_full) > 2
    for a, b in zip(slots_resumed, slots_full, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
