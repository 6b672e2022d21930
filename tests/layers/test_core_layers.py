"""Embedding, Dropout, SpatialDropout1D, Flatten, RepeatVector, TimeDistributed against Keras 3.

Oracle 1 (real Keras 3 on JAX): the same weights and inputs give the same outputs and masks
(atol = rtol = 1e-5). Training-time dropout draws differ by design (different PRNG streams), so it
is checked by invariants: kept entries equal ``x / (1 - rate)``, the drop fraction is near ``rate``
and SpatialDropout1D drops whole channels.
"""

import numpy as np
import pytest

from unrolled import layers

TOL = 1e-5


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=TOL, atol=TOL)


def keras_pair(keras, name, kwargs, x, rng, **call):
    """Build unrolled's and Keras's layer, copy Keras's weights (randomised), call both."""
    k_layer = getattr(keras.layers, name)(**kwargs)
    u_layer = getattr(layers, name)(**kwargs)
    k_layer(x, **call)
    u_layer(x, **call)
    weights = [rng.normal(size=np.shape(w.value)).astype("float32") for w in k_layer.weights]
    k_layer.set_weights(weights)
    u_layer.set_weights(weights)
    assert [w.path for w in u_layer.weights] == [w.path for w in k_layer.weights]
    return np.asarray(u_layer(x, **call)), np.asarray(k_layer(x, **call)), u_layer, k_layer


@pytest.mark.parametrize("mask_zero", [False, True])
def test_embedding_matches_keras(keras, rng, mask_zero):
    ids = np.array([[3, 1, 0, 0], [7, 0, 2, 9]], dtype="int32")
    u, k, u_layer, k_layer = keras_pair(keras, "Embedding", {"input_dim": 10, "output_dim": 3,
                                                            "mask_zero": mask_zero}, ids, rng)
    close(u, k)
    u_mask, k_mask = u_layer.compute_mask(ids), k_layer.compute_mask(ids)
    if mask_zero:
        np.testing.assert_array_equal(np.asarray(u_mask), np.asarray(k_mask))
    else:
        assert u_mask is None and k_mask is None
    assert u_layer.supports_masking == k_layer.supports_masking


def test_embedding_float_ids_and_default_initializer_range(rng):
    emb = layers.Embedding(6, 2)
    ids = np.array([[5.0, 0.0]], "float32")  # what the training loop feeds
    out = emb(ids)
    close(out[0, 0], emb.get_weights()[0][5])
    w = emb.get_weights()[0]
    assert np.all(np.abs(w) <= 0.05) and np.std(w) > 0  # Keras "uniform": U(-0.05, 0.05)


@pytest.mark.parametrize("bad", [-1, 6])
def test_embedding_rejects_out_of_range_ids(bad):
    with pytest.raises(ValueError, match=r"ids must be in \[0, 5\]"):
        layers.Embedding(6, 2)(np.array([[1, bad]]))


@pytest.mark.parametrize("kwargs", [{"input_dim": 0, "output_dim": 2},
                                    {"input_dim": 3, "output_dim": 2.5}])
def test_embedding_rejects_bad_sizes(kwargs):
    with pytest.raises(ValueError, match="positive integer"):
        layers.Embedding(**kwargs)


@pytest.mark.parametrize("name,kwargs", [("Dropout", {"rate": 0.5}),
                                         ("SpatialDropout1D", {"rate": 0.3}),
                                         ("Flatten", {}), ("RepeatVector", {"n": 3})])
def test_stateless_layers_match_keras_at_inference(keras, rng, name, kwargs):
    x = rng.normal(size=(2, 4, 3) if name != "RepeatVector" else (2, 5)).astype("float32")
    u, k, _, _ = keras_pair(keras, name, kwargs, x, rng)
    close(u, k)


@pytest.mark.parametrize("rate", [0.25, 0.6])
def test_dropout_training_invariants(rate):
    x = np.random.default_rng(0).uniform(1.0, 2.0, (64, 50)).astype("float32")
    y = np.asarray(layers.Dropout(rate, seed=3)(x, training=True))
    kept = y != 0
    close(y[kept], x[kept] / (1.0 - rate))
    assert abs((~kept).mean() - rate) < 0.03  # 3200 draws: 3 sigma is < 0.03


def test_dropout_noise_shape_and_edge_rates():
    x = np.ones((8, 5, 6), "float32")
    y = np.asarray(layers.Dropout(0.5, noise_shape=(None, 1, None), seed=1)(x, training=True))
    np.testing.assert_array_equal(y, np.broadcast_to(y[:, :1], y.shape))
    np.testing.assert_array_equal(layers.Dropout(1.0)(x, training=True), np.zeros_like(x))
    np.testing.assert_array_equal(layers.Dropout(0.0)(x, training=True), x)


def test_spatial_dropout_drops_whole_channels():
    x = np.random.default_rng(1).uniform(1.0, 2.0, (16, 7, 10)).astype("float32")
    y = np.asarray(layers.SpatialDropout1D(0.5, seed=2)(x, training=True))
    dropped = y == 0
    np.testing.assert_array_equal(dropped, np.broadcast_to(dropped[:, :1], dropped.shape))
    assert 0 < dropped.mean() < 1
    with pytest.raises(ValueError, match="rank 3"):
        layers.SpatialDropout1D(0.5)(np.ones((2, 3), "float32"), training=True)


def test_dropout_seeded_is_reproducible_and_steps_differ():
    x = np.ones((4, 30), "float32")
    a = layers.Dropout(0.5, seed=7)
    b = layers.Dropout(0.5, seed=7)
    first = np.asarray(a(x, training=True))
    np.testing.assert_array_equal(first, np.asarray(b(x, training=True)))
    assert not np.array_equal(first, np.asarray(a(x, training=True)))


@pytest.mark.parametrize("rate", [-0.1, 1.5, "half"])
def test_dropout_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(rate)


def test_flatten_channels_first_and_repeat_vector_errors(keras, rng):
    x = rng.normal(size=(2, 3, 4)).astype("float32")
    close(layers.Flatten(data_format="channels_first")(x),
          keras.layers.Flatten(data_format="channels_first")(x))
    with pytest.raises(ValueError, match="rank 2"):
        layers.RepeatVector(2)(x)
    with pytest.raises(TypeError, match="positive integer"):
        layers.RepeatVector(0)


def test_time_distributed_dense_matches_keras(keras, rng):
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    kwargs = {"units": 2, "activation": "tanh"}
    k_layer = keras.layers.TimeDistributed(keras.layers.Dense(**kwargs))
    u_layer = layers.TimeDistributed(layers.Dense(**kwargs))
    k_layer(x)
    u_layer(x)
    assert [w.path for w in u_layer.weights] == [w.path for w in k_layer.weights]
    weights = [rng.normal(size=np.shape(w.value)).astype("float32") for w in k_layer.weights]
    k_layer.set_weights(weights)
    u_layer.set_weights(weights)
    close(u_layer(x), k_layer(x))
    with pytest.raises(ValueError, match="rank >= 3"):
        layers.TimeDistributed(layers.Dense(2))(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="layer instance"):
        layers.TimeDistributed("dense")


@pytest.mark.parametrize("name,args", [("Embedding", (3, 2)), ("Dropout", (0.1,)),
                                       ("Flatten", ()), ("Conv1D", (2, 3)),
                                       ("LayerNormalization", ()), ("Concatenate", ())])
def test_unknown_kwargs_are_rejected(name, args):
    with pytest.raises(TypeError, match="Unrecognized keyword arguments.*unitz"):
        getattr(layers, name)(*args, unitz=3)


def test_layers_are_registered_by_keras_name():
    for name in ("Embedding", "Dropout", "SpatialDropout1D", "Flatten", "RepeatVector",
                 "TimeDistributed", "GlobalAveragePooling1D", "GlobalMaxPooling1D",
                 "Concatenate", "Add", "LayerNormalization", "Conv1D"):
        assert layers.get(name) is getattr(layers, name)
