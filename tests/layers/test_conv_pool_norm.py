"""Conv1D, global pooling, LayerNormalization and the merge layers against Keras 3 (oracle 1).

Same weights and inputs (and masks) give the same outputs and output masks, atol = rtol = 1e-5.
"""

import numpy as np
import pytest

from unrolled import layers

TOL = 1e-5


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=TOL, atol=TOL)


def compare(keras, rng, name, kwargs, x, keras_ignores_mask=False, **call):
    """Same weights in both; ``keras_ignores_mask``: Keras's call takes no mask (Keras drops it)."""
    k_layer = getattr(keras.layers, name)(**kwargs)
    u_layer = getattr(layers, name)(**kwargs)
    k_call = {} if keras_ignores_mask else call
    k_layer(x, **k_call)
    u_layer(x, **call)
    assert [w.path for w in u_layer.weights] == [w.path for w in k_layer.weights]
    weights = [rng.normal(size=np.shape(w.value)).astype("float32") for w in k_layer.weights]
    k_layer.set_weights(weights)
    u_layer.set_weights(weights)
    u, k = u_layer(x, **call), k_layer(x, **k_call)
    close(u, k)
    assert u_layer.compute_output_shape((None, *x.shape[1:])) == \
        k_layer.compute_output_shape((None, *x.shape[1:]))
    return u_layer


CONV_CASES = {
    "valid": {"filters": 4, "kernel_size": 3},
    "same_stride2": {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same"},
    "valid_stride3": {"filters": 2, "kernel_size": 2, "strides": 3},
    "causal_dilated": {"filters": 3, "kernel_size": 3, "padding": "causal", "dilation_rate": 2},
    "same_dilated_relu": {"filters": 2, "kernel_size": 3, "padding": "same", "dilation_rate": 3,
                          "activation": "relu"},
    "groups_no_bias": {"filters": 4, "kernel_size": 2, "groups": 2, "use_bias": False},
    "channels_first": {"filters": 3, "kernel_size": 2, "data_format": "channels_first"},
}


@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv1d_matches_keras(keras, rng, case):
    x = rng.normal(size=(2, 11, 6)).astype("float32")
    compare(keras, rng, "Conv1D", CONV_CASES[case], x)


def test_conv1d_causal_output_ignores_the_future(rng):
    conv = layers.Conv1D(2, 3, padding="causal", dilation_rate=2)
    x = rng.normal(size=(1, 9, 2)).astype("float32")
    x2 = x.copy()
    x2[:, 6:] += 5.0
    close(np.asarray(conv(x))[:, :6], np.asarray(conv(x2))[:, :6])


@pytest.mark.parametrize("kwargs,match", [
    ({"filters": 2, "kernel_size": 3, "padding": "full"}, "padding"),
    ({"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2}, "incompatible"),
    ({"filters": 3, "kernel_size": 2, "groups": 2}, "divisible"),
    ({"filters": 0, "kernel_size": 2}, "positive integer"),
])
def test_conv1d_rejects_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layers.Conv1D(**kwargs)


def test_conv1d_rejects_wrong_channels(rng):
    conv = layers.Conv1D(2, 2)
    conv(np.zeros((1, 4, 3), "float32"))
    with pytest.raises(ValueError, match="expected 3 channels"):
        conv(np.zeros((1, 4, 5), "float32"))


MASK = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 0], [0, 1, 1, 1, 1]], bool)


@pytest.mark.parametrize("name", ["GlobalAveragePooling1D", "GlobalMaxPooling1D"])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_global_pooling_matches_keras(keras, rng, name, keepdims, masked):
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    call = {"mask": MASK} if masked else {}
    layer = compare(keras, rng, name, {"keepdims": keepdims}, x,
                    keras_ignores_mask=name == "GlobalMaxPooling1D", **call)
    assert layer.compute_mask(x, MASK) is None


def test_global_average_pooling_channels_first_and_rank_error(keras, rng):
    x = rng.normal(size=(3, 4, 5)).astype("float32")
    compare(keras, rng, "GlobalAveragePooling1D", {"data_format": "channels_first"}, x,
            mask=MASK)
    with pytest.raises(ValueError, match="rank 3"):
        layers.GlobalAveragePooling1D()(np.zeros((2, 3), "float32"))


NORM_CASES = {
    "default": {},
    "no_center": {"center": False, "epsilon": 1e-5},
    "no_scale": {"scale": False},
    "rms": {"rms_scaling": True},
    "two_axes": {"axis": [1, 2]},
    "time_axis": {"axis": 1},
    "negative_axes": {"axis": [-2, -1], "center": False},
}


# Keras 3 deprecates rms_scaling (warns at construction and call) but still computes it.
@pytest.mark.parametrize("case", [
    pytest.param(c, marks=pytest.mark.filterwarnings("ignore:.*(rms|RMS).*:UserWarning"))
    if c == "rms" else c for c in NORM_CASES])
def test_layer_normalization_matches_keras(keras, rng, case):
    x = rng.normal(2.0, 3.0, size=(2, 5, 4)).astype("float32")
    compare(keras, rng, "LayerNormalization", NORM_CASES[case], x)


def test_layer_normalization_rejects_bad_axis():
    with pytest.raises(ValueError, match="out of range"):
        layers.LayerNormalization(axis=3)(np.zeros((2, 3), "float32"))


@pytest.mark.parametrize("name", ["Add", "Subtract", "Multiply", "Average", "Maximum",
                                  "Minimum"])
def test_elementwise_merges_match_keras(keras, rng, name):
    xs = [rng.normal(size=(2, 5, 3)).astype("float32") for _ in range(2)]
    close(getattr(layers, name)()(xs), getattr(keras.layers, name)()(xs))
    masks = [MASK[:2], MASK[1:]]
    u_mask = getattr(layers, name)().compute_mask(xs, masks)
    k_mask = getattr(keras.layers, name)().compute_mask(xs, masks)
    np.testing.assert_array_equal(np.asarray(u_mask), np.asarray(k_mask))
    assert getattr(layers, name)().compute_mask(xs, [MASK[:2], None]) is None


@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize("masks", ["none", "first", "both"])
def test_concatenate_matches_keras_with_masks(keras, rng, axis, masks):
    xs = [rng.normal(size=(2, 5, 3)).astype("float32"), rng.normal(size=(2, 5, 3)).astype(
        "float32")]
    u_layer, k_layer = layers.Concatenate(axis=axis), keras.layers.Concatenate(axis=axis)
    close(u_layer(xs), k_layer(xs))
    mask_list = {"none": [None, None], "first": [MASK[:2], None],
                 "both": [MASK[:2], MASK[1:]]}[masks]
    u_mask, k_mask = u_layer.compute_mask(xs, mask_list), k_layer.compute_mask(xs, mask_list)
    if k_mask is None:
        assert u_mask is None
    else:
        np.testing.assert_array_equal(np.asarray(u_mask), np.asarray(k_mask))


def test_merge_errors():
    with pytest.raises(ValueError, match="list of at least 2"):
        layers.Add()(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="same shape"):
        layers.Add()([np.zeros((2, 3), "float32"), np.zeros((2, 4), "float32")])
    with pytest.raises(ValueError, match="agree except on the concatenation axis"):
        layers.Concatenate()([np.zeros((2, 3, 1), "float32"), np.zeros((2, 4, 1), "float32")])
