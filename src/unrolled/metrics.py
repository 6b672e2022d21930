"""Metrics with Keras 3's names; ``"accuracy"`` resolves by Keras 3's shape rule."""

from unrolled.training.losses import (
    mae,
    mean_absolute_error,
    mean_squared_error,
    mse,
)
from unrolled.training.metrics import (
    AUC,
    BinaryAccuracy,
    CategoricalAccuracy,
    Mean,
    MeanAbsoluteError,
    MeanMetricWrapper,
    MeanSquaredError,
    Metric,
    Precision,
    Recall,
    SparseCategoricalAccuracy,
    binary_accuracy,
    categorical_accuracy,
    get,
    sparse_categorical_accuracy,
)

accuracy = "accuracy"

__all__ = [
    "AUC", "BinaryAccuracy", "CategoricalAccuracy", "Mean", "MeanAbsoluteError",
    "MeanMetricWrapper", "MeanSquaredError", "Metric", "Precision", "Recall",
    "SparseCategoricalAccuracy", "binary_accuracy", "categorical_accuracy", "get", "mae",
    "mean_absolute_error", "mean_squared_error", "mse", "sparse_categorical_accuracy",
]
