"""Small builders shared by the inspect tests (not fixtures: plain functions)."""

import numpy as np

from unrolled import layers, models


def masked_batch(rng, b, t, d, holes=True):
    """Random inputs with a mask pattern: right padding, left padding, holes, full rows."""
    x = rng.normal(size=(b, t, d)).astype("float32")
    x[0, t - 2:] = 0.0  # right padding
    if b > 1:
        x[1, :2] = 0.0  # left padding
    if b > 2 and holes:
        x[2, 1] = 0.0
        x[2, 3] = 0.0  # holes
    return x


def lstm_model(units=3, t=6, d=2, **lstm_kwargs):
    """Masking -> LSTM(units, **kwargs) with random (non-default) weights."""
    model = models.Sequential([layers.Input(shape=(t, d)), layers.Masking(0.0),
                               layers.LSTM(units, **lstm_kwargs)])
    randomize(model)
    return model


def randomize(model, seed=0, scale=0.6):
    """Give every weight random values (so biases and forget blocks are not trivial)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(scale=scale, size=w.shape).astype("float32")
                       for w in model.get_weights()])
