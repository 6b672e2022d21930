"""Metrics with Keras 3's names; ``"accuracy"`` resolves by Keras 3's shape rule."""

from unrolled.training.metrics import (
    BinaryAccuracy, CategoricalAccuracy, Mean, Metric, SparseCategoricalAccuracy,
    binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
)

accuracy = "accuracy"

__all__ = [
    "BinaryAccuracy", "CategoricalAccuracy", "Mean", "Metric", "SparseCategoricalAccuracy",
    "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
]
