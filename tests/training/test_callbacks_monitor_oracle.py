"""EarlyStopping, ReduceLROnPlateau and LearningRateScheduler against Keras 3's own (oracle 1).

Both libraries' callbacks are driven epoch by epoch with the same schedules of monitored values
(a stand-in model records weights by epoch and holds a real optimizer of each library), and must
agree on when training stops, the best epoch, the restored weights and the learning rates. A fit
test checks that a scheduled rate reaches training as in Keras.
"""

import itertools

import numpy as np
import pytest

from conftest import assert_close, flat
from unrolled import callbacks, optimizers

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


class StandIn:
    """What the callbacks touch of a model: weights (tagged by epoch), optimizer, stop flag."""

    def __init__(self, optimizer):
        self.optimizer, self.stop_training, self.epoch, self.restored = optimizer, False, 0, None

    def get_weights(self):
        return [np.array(self.epoch)]

    def set_weights(self, weights):
        self.restored = int(weights[0])


def drive(cb, optimizer, values, monitor="loss"):
    model = StandIn(optimizer)
    cb.set_model(model)
    cb.on_train_begin()
    trail = []
    for epoch, value in enumerate(values):
        model.epoch = epoch
        cb.on_epoch_begin(epoch)
        cb.on_epoch_end(epoch, {monitor: float(value)})
        trail.append((epoch, model.stop_training, float(optimizer.learning_rate),
                      getattr(cb, "wait", None)))
        if model.stop_training:
            break
    cb.on_train_end()
    return trail, model.restored


def schedules():
    rng = np.random.default_rng(3)
    walks = [np.cumsum(rng.normal(-0.02, 0.05, 14)) + 1.0 for _ in range(4)]
    # Differences below float32's resolution: Keras compares in float32, so these tie.
    ties = [np.array([1.0, 1.0 - 1e-9, 1.0 - 2e-9, 0.9, 0.9 - 1e-10, 0.9, 0.95, 0.9, 0.85,
                      0.85, 0.85, 0.85])]
    plateaus = [np.array([0.5, 0.4, 0.4, 0.4, 0.45, 0.3, 0.3, 0.31, 0.3, 0.3, 0.29, 0.3])]
    return walks + ties + plateaus


EARLY = [dict(zip(("patience", "min_delta", "mode", "baseline", "restore_best_weights",
                   "start_from_epoch"), combo, strict=True))
         for combo in itertools.product((0, 2), (0.0, 0.03), ("auto", "max"), (None, 0.95),
                                        (False, True), (0, 3))]


@pytest.mark.parametrize("values", schedules())
def test_early_stopping_follows_keras(keras, values):
    for kw in EARLY:
        ours, theirs = callbacks.EarlyStopping(monitor="loss", **kw), \
            keras.callbacks.EarlyStopping(monitor="loss", **kw)
        got = drive(ours, optimizers.SGD(0.1), values)
        want = drive(theirs, keras.optimizers.SGD(0.1), values)
        assert got == want, kw
        assert (ours.stopped_epoch, ours.best_epoch) == (theirs.stopped_epoch, theirs.best_epoch)


REDUCE = [dict(zip(("factor", "patience", "cooldown", "min_lr", "min_delta", "mode"), combo,
                   strict=True))
          for combo in itertools.product((0.5, 0.1), (0, 2), (0, 2), (0.0, 0.004),
                                         (1e-4, 0.05), ("min", "max"))]


@pytest.mark.parametrize("values", schedules())
def test_reduce_lr_on_plateau_follows_keras(keras, values):
    for kw in REDUCE:
        ours, theirs = callbacks.ReduceLROnPlateau(monitor="val_loss", **kw), \
            keras.callbacks.ReduceLROnPlateau(monitor="val_loss", **kw)
        got = drive(ours, optimizers.SGD(0.1), values, "val_loss")
        want = drive(theirs, keras.optimizers.SGD(0.1), values, "val_loss")
        assert got == want, kw
        assert ours.cooldown_counter == theirs.cooldown_counter, kw


@pytest.mark.parametrize("schedule", [
    lambda epoch, lr: lr if epoch < 2 else lr * 0.5,
    lambda epoch: 0.1 / (1 + epoch),            # Keras's old one-argument form
    lambda epoch, lr: float(np.float32(0.3) ** (epoch + 1)),
])
def test_learning_rate_scheduler_follows_keras(keras, schedule):
    ours = callbacks.LearningRateScheduler(schedule)
    theirs = keras.callbacks.LearningRateScheduler(schedule)
    values = np.linspace(1.0, 0.5, 6)
    assert drive(ours, optimizers.SGD(0.1), values) == \
        drive(theirs, keras.optimizers.SGD(0.1), values)


def test_learning_rate_scheduler_in_fit(keras, make_pair, data):
    x, y, _ = data
    u_model, k_model = make_pair("dense")
    for model, lib in ((u_model, callbacks), (k_model, keras.callbacks)):
        model.compile(optimizer="sgd", loss="categorical_crossentropy")
        model.fit(flat(x), y, batch_size=8, epochs=4, shuffle=False, verbose=0,
                  callbacks=[lib.LearningRateScheduler(lambda e, lr: 0.5 * 0.5 ** e)])
    h_u, h_k = u_model.history.history, k_model.history.history
    assert h_u["learning_rate"] == h_k["learning_rate"] == [0.5, 0.25, 0.125, 0.0625]
    assert_close(h_u["loss"], h_k["loss"])


@pytest.mark.parametrize("bad", [lambda e, lr: 1, lambda e, lr: "0.1"])
def test_learning_rate_scheduler_rejects_non_floats(keras, bad):
    with pytest.raises(ValueError, match="should be a float"):
        drive(keras.callbacks.LearningRateScheduler(bad), keras.optimizers.SGD(0.1), [1.0])
    with pytest.raises(ValueError, match="should be a float"):
        drive(callbacks.LearningRateScheduler(bad), optimizers.SGD(0.1), [1.0])
    with pytest.raises(TypeError, match="schedule"):
        callbacks.LearningRateScheduler(0.1)
