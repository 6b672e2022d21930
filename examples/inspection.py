"""Look inside a trained LSTM: its explanation, every gate at every step, one step by hand.

Trains the seed model (Masking -> LSTM(8) -> Dense(2) -> sigmoid) on ItalyPowerDemand for a few
epochs, then:

* ``model.explain()``: what the layer is, with this model's shapes and parameter counts;
* ``inspect.trace``: the input, forget and output gates, the candidate, the cell state ``c``
  and the hidden state ``h`` of every cell at every time step, as ``(B, T, units)`` arrays;
* ``inspect.step_by_step``: one time step of one cell with the real numbers;
* ``inspect.gradient_flow``: how much the loss depends on ``h_t`` at each step;
* with ``--plots DIR`` (needs matplotlib), the pictures.

The trace's last hidden state is exactly what the Dense layer reads (checked below).

Run: python examples/inspection.py [--epochs 10] [--plots DIR]
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from unrolled import datasets, inspect, utils
from unrolled.layers import LSTM, Activation, Dense, Masking
from unrolled.models import Sequential


def main(epochs: int = 10, plots: str | None = None, verbose: int = 0) -> dict:
    """Train and inspect; return the arrays and texts the example shows."""
    utils.set_random_seed(0)
    (x, y), (x_test, y_test) = datasets.load("ItalyPowerDemand", one_hot=True)
    model = Sequential([Masking(0.0, input_shape=x.shape[1:]), LSTM(8), Dense(2),
                        Activation("sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam",
                  metrics=["categorical_accuracy"])
    model.fit(x, y, batch_size=16, epochs=epochs, verbose=verbose)

    text = model.explain()
    tr = inspect.trace(model, x_test[:4])
    step = inspect.step_by_step(model, x_test[:1], sample=0, t=5, unit=3)
    flow = inspect.gradient_flow(model, x_test[:8], y_test[:8])

    # the invariant the pictures rely on: the Dense layer reads the last hidden state
    dense_in = tr.hidden[:, -1, :]  # (B, units); every day has all 24 readings
    dense = model.layers[2]
    logits = dense_in @ dense.kernel.numpy() + dense.bias.numpy()
    np.testing.assert_allclose(1 / (1 + np.exp(-logits)), model.predict(x_test[:4], verbose=0),
                               atol=1e-5)
    if plots:
        from unrolled.inspect import plots as pictures

        os.makedirs(plots, exist_ok=True)
        pictures.plot_gates(tr, 0, path=os.path.join(plots, "gates_sample0.png"))
        pictures.plot_gradient_flow(flow, os.path.join(plots, "gradient_flow.png"))
    return {"explain": text, "trace": tr, "step": step, "flow": flow}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--plots", default=None, help="folder for the pictures")
    args = parser.parse_args()
    result = main(args.epochs, args.plots, verbose=2)
    print(result["explain"])
    print("forget gate of cell 0, first test day, steps 0-5:",
          np.round(result["trace"].forget_gate[0, :6, 0], 3))
    print(result["step"])
    print(result["flow"])
