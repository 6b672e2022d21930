"""No recompilation inside fit, evaluate or predict (DESIGN.md, JAX rules).

Oracle: invariant. `model.compile_counts()` reports how many variants of each jitted step exist;
after the first call of each it must stay at one through more epochs, partial last batches,
other sample counts, per-batch callbacks, validation data and a learning-rate change.
"""

import numpy as np
import pytest

from unrolled import callbacks, layers, models, optimizers

T, F, B = 12, 2, 8


def data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, T, F)).astype("float32")
    lengths = rng.integers(2, T + 1, size=n)
    x[np.arange(T)[None, :] >= lengths[:, None]] = 0.0
    y = np.eye(2, dtype="float32")[rng.integers(0, 2, size=n)]
    return x, y


@pytest.fixture(scope="module")
def model():
    m = models.Sequential([layers.Input(shape=(T, F)), layers.Masking(0.0), layers.LSTM(4),
                           layers.Dense(2), layers.Activation("sigmoid")])
    m.compile(loss="binary_crossentropy", optimizer=optimizers.Adam(1e-3),
              metrics=["binary_accuracy"])
    return m


class BatchCounter(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if batch == 1:
            self.model.optimizer.learning_rate = 5e-4  # a rate change is data, not a recompile


def test_fit_evaluate_predict_compile_once(model):
    x, y = data(21, 0)  # 21 = 2 full batches + a partial one
    model.fit(x, y, batch_size=B, epochs=2, verbose=0)
    assert model.compile_counts()["train"] == 1

    x2, y2 = data(13, 1)
    counter = BatchCounter()
    model.fit(x2, y2, batch_size=B, epochs=2, verbose=0, callbacks=[counter],
              validation_data=data(5, 2))
    assert counter.batches == 4
    model.evaluate(x, y, batch_size=B, verbose=0)
    model.evaluate(x2, y2, batch_size=B, verbose=0)
    model.predict(x, batch_size=B, verbose=0)
    model.predict(x2, batch_size=B, verbose=0)
    assert model.compile_counts() == {"train": 1, "eval": 1, "predict": 1}
