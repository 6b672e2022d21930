"""An LSTM as one step of a scikit-learn Pipeline: scaling, cross-validation and a grid search.

``unrolled.sklearn.LSTMClassifier`` is a scikit-learn estimator: it takes a 2D array ``(N, T)``
of univariate sequences (how tabular tools hand data over), a 3D array ``(N, T, F)`` or a list
of variable-length ``(T_i, F)`` arrays. Here the bundled ItalyPowerDemand days are standardised
per day inside the pipeline, scored with 3-fold cross-validation, and the number of LSTM cells
(``model__units``, a routed parameter) is chosen by ``GridSearchCV``.

Run: python examples/sklearn_pipeline.py [--epochs 15]
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from unrolled import datasets
from unrolled.sklearn import LSTMClassifier


def standardise_days(x: np.ndarray) -> np.ndarray:
    """Scale each day (row) to mean 0 and standard deviation 1."""
    return (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-6)


def main(epochs: int = 15, cv: int = 3) -> dict:
    """Cross-validate and grid-search; return the scores and the held-out accuracy."""
    (x, y), (x_test, y_test) = datasets.load("ItalyPowerDemand")
    x, x_test = x[:, :, 0], x_test[:, :, 0]  # (N, 24): one reading per hour
    pipe = Pipeline([
        ("scale", FunctionTransformer(standardise_days)),
        ("lstm", LSTMClassifier(units=8, epochs=epochs, batch_size=16, learning_rate=0.01,
                                mask_value=-99.0, random_state=0)),
    ])
    scores = cross_val_score(pipe, x, y, cv=cv)
    grid = GridSearchCV(pipe, {"lstm__model__units": [2, 8]}, cv=cv).fit(x, y)
    return {"cv_scores": scores, "best_params": grid.best_params_,
            "test_accuracy": float(grid.score(x_test, y_test))}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    result = main(args.epochs)
    print(f"cross-validation accuracy {result['cv_scores'].mean():.3f} "
          f"({np.round(result['cv_scores'], 3)}); best {result['best_params']}; "
          f"test accuracy {result['test_accuracy']:.3f}")
