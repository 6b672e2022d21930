"""Your own CSV, end to end from the shell: train, evaluate and predict with the `unrolled` CLI.

A CSV with one sequence per row and a label in a last column named ``label`` is what many users
have. This script writes such files from the bundled ItalyPowerDemand days (24 hourly readings,
winter or summer), drops a few readings at the end of some rows (sequences of unequal length),
and runs exactly the commands a user would type:

    unrolled train days_train.csv --model lstm:8,dense,softmax --mask-value -1 --out m.keras
    unrolled evaluate m.keras days_test.csv
    unrolled predict m.keras new_days.csv --no-labels --out predictions.csv

``--mask-value -1`` pads the shorter rows with -1 (a value no reading takes), so real readings of
0 stay data. ``new_days.csv`` has no label column, and says so with ``--no-labels``.

Run: python examples/csv_classification.py [--epochs 30] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile

import numpy as np

from unrolled import datasets
from unrolled.cli import main as unrolled


def write_csv(path: str, x: np.ndarray, labels=None, drop_every: int = 5) -> None:
    """Write one sequence per row (every ``drop_every``-th row 3 steps shorter)."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        steps = x.shape[1]
        writer.writerow([f"h{t}" for t in range(steps)] + (["label"] if labels is not None
                                                           else []))
        for i, row in enumerate(x[:, :, 0]):
            values = [f"{v:.4f}" for v in row]
            if drop_every and i % drop_every == 0:
                values = values[:-3] + [""] * 3
            writer.writerow(values + ([labels[i]] if labels is not None else []))


def main(epochs: int = 30, out: str | None = None, verbose: int = 0) -> float:
    """Run the three commands; return the test accuracy that ``unrolled evaluate`` printed."""
    out = out or tempfile.mkdtemp(prefix="unrolled_csv_")
    names = np.array(["summer", "winter"])
    (x_train, y_train), (x_test, y_test) = datasets.load("ItalyPowerDemand")
    write_csv(os.path.join(out, "days_train.csv"), x_train, names[y_train])
    write_csv(os.path.join(out, "days_test.csv"), x_test, names[y_test])
    write_csv(os.path.join(out, "new_days.csv"), x_test[:10])
    model = os.path.join(out, "m.keras")
    assert unrolled(["--no-compile-cache", "train", os.path.join(out, "days_train.csv"),
                     "--model", "lstm:8,dense,softmax", "--mask-value", "-1",
                     "--epochs", str(epochs), "--batch-size", "16", "--learning-rate", "0.01",
                     "--verbose", str(verbose), "--out", model]) == 0
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert unrolled(["--no-compile-cache", "evaluate", model,
                         os.path.join(out, "days_test.csv")]) == 0
    print(printed.getvalue(), end="")
    metrics = dict(line.split(": ") for line in printed.getvalue().strip().splitlines())
    assert unrolled(["--no-compile-cache", "predict", model, os.path.join(out, "new_days.csv"),
                     "--no-labels", "--out", os.path.join(out, "predictions.csv")]) == 0
    return float(metrics["categorical_accuracy"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default=None, help="folder for the files (default: a temp one)")
    args = parser.parse_args()
    print(f"test accuracy {main(args.epochs, args.out, verbose=2):.4f}")
