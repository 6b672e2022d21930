"""Loss functions and objects against real Keras 3 on JAX (oracle 1), to 1e-6."""

import numpy as np
import pytest

from unrolled import losses

TOL = 1e-6


def close(a, b, tol=TOL):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


def probs(rng, shape):
    p = rng.uniform(0.05, 1.0, shape).astype("float32")
    return p / p.sum(-1, keepdims=True)


def one_hot(rng, n, c):
    return np.eye(c, dtype="float32")[rng.integers(0, c, n)]


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_categorical_crossentropy(keras, rng, from_logits, label_smoothing):
    y = one_hot(rng, 8, 4)
    p = rng.normal(0, 2, (8, 4)).astype("float32") if from_logits else probs(rng, (8, 4))
    close(losses.categorical_crossentropy(y, p, from_logits, label_smoothing),
          keras.losses.categorical_crossentropy(y, p, from_logits, label_smoothing))
    ours = losses.CategoricalCrossentropy(from_logits=from_logits,
                                          label_smoothing=label_smoothing)
    theirs = keras.losses.CategoricalCrossentropy(from_logits=from_logits,
                                                  label_smoothing=label_smoothing)
    sw = rng.uniform(0, 2, 8).astype("float32")
    close(ours(y, p), theirs(y, p))
    close(ours(y, p, sample_weight=sw), theirs(y, p, sample_weight=sw))


def test_categorical_crossentropy_exact_zero_and_one(keras):
    """Exact 0/1 probabilities hit Keras's clip to [1e-7, 1 - 1e-7] and its renormalisation."""
    y = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]], "float32")
    p = np.array([[0, 1, 0], [0, 1, 0], [0.2, 0.2, 0.2]], "float32")  # sure-right, sure-wrong
    close(losses.categorical_crossentropy(y, p), keras.losses.categorical_crossentropy(y, p))
    assert np.all(np.isfinite(losses.categorical_crossentropy(y, p)))


@pytest.mark.parametrize("label_shape", ["flat", "column"])
@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_categorical_crossentropy(keras, rng, label_shape, from_logits):
    labels = rng.integers(0, 5, 8)
    y = labels[:, None] if label_shape == "column" else labels
    p = rng.normal(0, 2, (8, 5)).astype("float32") if from_logits else probs(rng, (8, 5))
    close(losses.sparse_categorical_crossentropy(y, p, from_logits),
          keras.losses.sparse_categorical_crossentropy(y, p, from_logits))
    close(losses.SparseCategoricalCrossentropy(from_logits=from_logits)(y, p),
          keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)(y, p))


def test_sparse_categorical_crossentropy_sequences_and_ignore_class(keras, rng):
    y = rng.integers(0, 4, (3, 6))
    y[0, 4:] = 3  # padding label to ignore
    p = probs(rng, (3, 6, 4))
    close(losses.sparse_categorical_crossentropy(y, p),
          keras.losses.sparse_categorical_crossentropy(y, p))
    ours = losses.SparseCategoricalCrossentropy(ignore_class=3)
    theirs = keras.losses.SparseCategoricalCrossentropy(ignore_class=3)
    close(ours(y, p), theirs(y, p))
    close(losses.sparse_categorical_crossentropy(y, p, ignore_class=3),
          keras.losses.sparse_categorical_crossentropy(y, p, ignore_class=3))


@pytest.mark.parametrize("name", ["mse", "mae", "huber"])
@pytest.mark.parametrize("shapes", [((8, 3), (8, 3)), ((8,), (8, 1)), ((8, 1), (8,)),
                                    ((4, 5, 2), (4, 5, 2))])
def test_regression_losses(keras, rng, name, shapes):
    """Keras's rank rule (squeeze_or_expand_to_same_rank) included."""
    y = rng.normal(0, 2, shapes[0]).astype("float32")
    p = rng.normal(0, 2, shapes[1]).astype("float32")
    fn = {"mse": "mean_squared_error", "mae": "mean_absolute_error", "huber": "huber"}[name]
    close(getattr(losses, fn)(y, p), getattr(keras.losses, fn)(y, p))
    cls = {"mse": "MeanSquaredError", "mae": "MeanAbsoluteError", "huber": "Huber"}[name]
    close(losses.get(name)(y, p), getattr(keras.losses, cls)()(y, p))


@pytest.mark.parametrize("delta", [0.5, 1.0, 3.0])
def test_huber_delta(keras, rng, delta):
    y = rng.normal(0, 2, (16, 2)).astype("float32")
    p = rng.normal(0, 2, (16, 2)).astype("float32")
    close(losses.Huber(delta=delta)(y, p), keras.losses.Huber(delta=delta)(y, p))


@pytest.mark.parametrize("from_logits", [False, True])
def test_binary_crossentropy_edges(keras, from_logits):
    y = np.array([[0, 1], [1, 0], [1, 1]], "float32")
    p = (np.array([[-30, 30], [0, 5], [2, -1]], "float32") if from_logits
         else np.array([[0, 1], [0, 1], [1, 0.5]], "float32"))
    close(losses.binary_crossentropy(y, p, from_logits),
          keras.losses.binary_crossentropy(y, p, from_logits))


KERAS_CLASS = {"categorical_crossentropy": "CategoricalCrossentropy",
               "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
               "binary_crossentropy": "BinaryCrossentropy", "mse": "MeanSquaredError",
               "mean_squared_error": "MeanSquaredError", "mae": "MeanAbsoluteError",
               "mean_absolute_error": "MeanAbsoluteError", "huber": "Huber"}


@pytest.mark.parametrize("name", sorted(KERAS_CLASS))
def test_names_resolve_to_keras_classes(keras, name):
    loss = losses.get(name)
    assert type(loss).__name__ == KERAS_CLASS[name]
    assert loss.name == getattr(keras.losses, KERAS_CLASS[name])().name


def test_configs_and_functions():
    loss = losses.get({"class_name": "Huber", "config": {"delta": 2.0}})
    assert isinstance(loss, losses.Huber) and loss.get_config()["delta"] == 2.0
    assert isinstance(losses.get(losses.categorical_crossentropy), losses.CategoricalCrossentropy)


@pytest.mark.parametrize("call, match", [
    (lambda: losses.get("cross_entropy"), r"Unknown loss 'cross_entropy'.*categorical"),
    (lambda: losses.categorical_crossentropy(np.zeros(4), np.ones((4, 3))),
     r"labels of shape \(4,\).*sparse_categorical_crossentropy"),
    (lambda: losses.sparse_categorical_crossentropy(np.zeros((4, 3)), np.ones((4, 3))),
     r"labels of shape \(4,\).*categorical_crossentropy"),
    (lambda: losses.Huber(delta=0.0), "delta"),
    (lambda: losses.CategoricalCrossentropy(label_smoothing=1.5), "label_smoothing"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
