"""Regression on count data with real zeros: a linear head, and a mask value that is not 0.

Each sequence is a week-long record of daily counts (many days have 0 events) of varying length
(4 to 10 days); the target is the expected count of the next day, a weighted mean of the last
three days. Two choices matter:

* the head is ``Dense(1)`` with no activation (linear), trained on mean squared error: a softmax
  or sigmoid would squash every prediction into (0, 1);
* shorter sequences are padded with -1 and ``Masking(-1.0)`` skips only those steps; with the
  usual ``Masking(0.0)`` every real day with 0 events would be skipped too.

Run: python examples/regression.py [--epochs 40]
"""

from __future__ import annotations

import argparse

import numpy as np

from unrolled import layers, utils
from unrolled.models import Sequential

MASK = -1.0


def make_counts(n: int, seed: int):
    """Return ``x (n, 10, 1)`` padded with MASK, the targets ``(n,)`` and the lengths."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(4, 11, size=n)
    x = np.full((n, 10, 1), MASK, np.float32)
    y = np.empty(n, np.float32)
    for i, length in enumerate(lengths):
        rate = rng.uniform(0.2, 3.0)
        counts = rng.poisson(rate, size=length).astype(np.float32)
        x[i, :length, 0] = counts
        y[i] = 0.5 * counts[-1] + 0.3 * counts[-2] + 0.2 * counts[-3]
    return x, y, lengths


def main(epochs: int = 40, verbose: int = 0, seed: int = 0) -> dict:
    """Train; return the test MAE of the model and of predicting the training mean."""
    utils.set_random_seed(seed)
    x_train, y_train, _ = make_counts(512, seed)
    x_test, y_test, _ = make_counts(256, seed + 1)
    model = Sequential([layers.Input(shape=(None, 1)), layers.Masking(MASK), layers.LSTM(16),
                        layers.Dense(1)])
    model.compile(optimizer="adam", loss="mean_squared_error", metrics=["mean_absolute_error"])
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=verbose)
    pred = model.predict(x_test, verbose=0)[:, 0]
    mae = float(np.mean(np.abs(pred - y_test)))
    baseline = float(np.mean(np.abs(y_train.mean() - y_test)))
    return {"mae": mae, "baseline_mae": baseline, "prediction_std": float(pred.std())}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    result = main(args.epochs, verbose=2)
    print(f"test MAE {result['mae']:.3f} (predicting the mean: {result['baseline_mae']:.3f})")
