"""ConvLSTM1D/2D/3D against Keras 3's (oracle 1): same weights and inputs give the same outputs
and states (atol = rtol = 1e-5), weight paths and output shapes.

Keras 3 on JAX cannot take a ``(B, T)`` mask on a ConvLSTM (its scan broadcasts the mask as
``(B, 1)`` against ``(B, H, W, f)`` states and fails), so masks are checked by oracle 4 run
through Keras: a masked hole equals dropping that step, so each row equals Keras on its kept
steps. Dropout draws differ by design (other PRNG streams); Keras's cell reuses masks preset on
it, so both sides get the same four input and four recurrent masks. Every eager call of a
recurrent layer compiles its scan (seconds on a busy machine), so tests build without calling
and call as few times as they can.
"""

import numpy as np
import pytest

import unrolled
from unrolled import layers

TOL = 1e-5


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=TOL, atol=TOL)


def pair(keras, rng, name, kwargs, x):
    """The layer in Keras and in unrolled, built on ``x``, with the same random weights."""
    k_layer, u_layer = getattr(keras.layers, name)(**kwargs), getattr(layers, name)(**kwargs)
    k_layer.build(x.shape)
    u_layer._maybe_build(x.shape)
    assert [w.path for w in u_layer.weights] == [w.path for w in k_layer.weights]
    weights = [rng.normal(0, 0.5, np.shape(w.value)).astype("float32") for w in k_layer.weights]
    k_layer.set_weights(weights)
    u_layer.set_weights(weights)
    return k_layer, u_layer


CASES = {
    "2d_same_sequences": ("ConvLSTM2D", {"filters": 3, "kernel_size": 3, "padding": "same",
                                         "return_sequences": True}, (2, 3, 5, 4, 2)),
    "2d_valid_strides": ("ConvLSTM2D", {"filters": 2, "kernel_size": (2, 3), "strides": 2},
                         (2, 3, 6, 7, 2)),
    "2d_backwards_state": ("ConvLSTM2D", {"filters": 2, "kernel_size": 2, "go_backwards": True,
                                          "return_state": True, "return_sequences": True},
                           (2, 3, 4, 4, 1)),
    "2d_channels_first": ("ConvLSTM2D", {"filters": 2, "kernel_size": 3, "padding": "same",
                                         "data_format": "channels_first"}, (2, 3, 2, 4, 5)),
    "2d_no_bias_relu": ("ConvLSTM2D", {"filters": 2, "kernel_size": 3, "use_bias": False,
                                       "activation": "relu",
                                       "recurrent_activation": "hard_sigmoid"},
                        (1, 2, 5, 5, 2)),
    "1d_dilated": ("ConvLSTM1D", {"filters": 2, "kernel_size": 3, "dilation_rate": 2,
                                  "return_state": True}, (2, 4, 9, 3)),
    "3d_valid": ("ConvLSTM3D", {"filters": 2, "kernel_size": 2, "return_sequences": True},
                 (1, 2, 3, 3, 4, 2)),
    "3d_channels_first_same": ("ConvLSTM3D", {"filters": 2, "kernel_size": (1, 2, 3),
                                              "padding": "same",
                                              "data_format": "channels_first"},
                               (2, 2, 1, 2, 3, 4)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_conv_lstm_matches_keras(keras, rng, case):
    name, kwargs, shape = CASES[case]
    x = rng.normal(size=shape).astype("float32")
    k_layer, u_layer = pair(keras, rng, name, kwargs, x)
    want, got = k_layer(x), u_layer(x)
    want, got = (list(want), got) if kwargs.get("return_state") else ([want], [got])
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        close(g, w)
    k_shape = k_layer.compute_output_shape((None, *shape[1:]))
    u_shape = u_layer.compute_output_shape((None, *shape[1:]))
    assert u_shape == (list(k_shape) if kwargs.get("return_state") else k_shape)


def test_initial_state_matches_keras(keras, rng):
    x = rng.normal(size=(2, 3, 4, 4, 2)).astype("float32")
    k_layer, u_layer = pair(keras, rng, "ConvLSTM2D",
                            {"filters": 2, "kernel_size": 3, "padding": "same",
                             "return_state": True}, x)
    h0, c0 = (rng.normal(size=(2, 4, 4, 2)).astype("float32") for _ in range(2))
    for g, w in zip(u_layer(x, initial_state=[h0, c0]), k_layer(x, initial_state=[h0, c0]),
                    strict=True):
        close(g, w)
    with pytest.raises(ValueError, match=r"initial_state=\[h, c\], each of shape \(2, 4, 4, 2\)"):
        u_layer(x, initial_state=[h0[..., :1], c0])


def test_stateful_carries_states_across_calls_as_keras(keras, rng):
    x1, x2 = (rng.normal(size=(2, 2, 5, 2)).astype("float32") for _ in range(2))
    kwargs = {"filters": 2, "kernel_size": 3, "padding": "same", "stateful": True}
    k_layer, u_layer = pair(keras, rng, "ConvLSTM1D", kwargs, x1)
    for x in (x1, x2):
        close(u_layer(x), k_layer(x))
    for u_state, k_state in zip(u_layer.states, k_layer.states, strict=True):
        close(u_state.value, k_state.value)  # [h, c] after two batches, (2, 5, 2) each
    assert [v.path for v in u_layer.states] == [v.path for v in k_layer.states]
    u_layer.reset_state()
    assert all(not np.any(v.numpy()) for v in u_layer.states)
    with pytest.raises(ValueError, match="stateful with batch size 2"):
        u_layer(x1[:1])


@pytest.mark.parametrize("go_backwards", [False, True])
def test_mask_equals_keras_on_the_kept_steps(keras, rng, go_backwards):
    x = rng.normal(size=(2, 4, 3, 3, 2)).astype("float32")
    mask = np.array([[1, 0, 1, 0], [0, 1, 1, 1]], bool)  # a hole, left and right padding
    kwargs = {"filters": 2, "kernel_size": 2, "padding": "same", "go_backwards": go_backwards,
              "return_sequences": True, "return_state": True}
    k_layer, u_layer = pair(keras, rng, "ConvLSTM2D", kwargs, x)
    got, h, _ = (np.asarray(a) for a in u_layer(x, mask=mask))
    for b in range(2):
        kept = np.flatnonzero(mask[b])
        want = np.asarray(k_layer(x[b:b + 1, kept])[0])[0]  # (kept steps, 3, 3, 2)
        close(h[b], want[-1])  # the state stops at the last kept step
        order = range(3, -1, -1) if go_backwards else range(4)
        seen, previous = 0, np.zeros_like(want[0])
        for pos, t in enumerate(order):  # a masked step repeats the previous output
            if mask[b, t]:
                previous, seen = want[seen], seen + 1
            close(got[b, pos], previous)
    assert u_layer.compute_mask(x, mask)[0] is mask
    u_layer.return_sequences, u_layer.return_state = False, False
    close(u_layer(x, mask=mask), h)  # the last output is h at each row's last kept step
    assert u_layer.compute_mask(x, mask) is None


def test_dropout_with_the_same_masks_matches_keras(keras, rng):
    """Four masks per rate, reused at every step: Keras's cell takes them preset."""
    x = rng.normal(size=(2, 3, 4, 4, 2)).astype("float32")
    kwargs = {"filters": 2, "kernel_size": 3, "padding": "same", "dropout": 0.4,
              "recurrent_dropout": 0.3, "return_sequences": True}
    k_layer, u_layer = pair(keras, rng, "ConvLSTM2D", kwargs, x)
    drop = [(rng.random((2, 4, 4, 2)) > 0.4) / 0.6 for _ in range(4)]
    rec = [(rng.random((2, 4, 4, 2)) > 0.3) / 0.7 for _ in range(4)]
    drop, rec = ([m.astype("float32") for m in ms] for ms in (drop, rec))
    k_layer.cell._dropout_mask, k_layer.cell._recurrent_dropout_mask = drop, rec
    want = k_layer(x, training=True)
    u_layer.cell.prepare_dropout = lambda *a: setattr(u_layer.cell, "_masks", (drop, rec))
    close(u_layer(x, training=True), want)


def test_dropout_masks_are_drawn_per_call_and_reused_per_step():
    layer = layers.ConvLSTM2D(2, 3, padding="same", dropout=0.5, recurrent_dropout=0.25, seed=1)
    layer._maybe_build((2, 3, 4, 4, 2))
    cell = layer.cell
    cell.prepare_dropout(2, 2, training=True)
    (drop, rec), first = cell.current_masks(), cell.current_masks()[0][0]
    assert [m.shape for m in drop] == [(2, 4, 4, 2)] * 4 and len(rec) == 4
    assert set(np.unique(np.asarray(first))) <= {0.0, 2.0}
    assert set(np.unique(np.asarray(rec[0]))) <= {0.0, np.float32(1 / 0.75)}
    assert not np.array_equal(np.asarray(drop[0]), np.asarray(drop[1]))  # one mask per gate
    cell.prepare_dropout(2, 2, training=False)
    assert cell.current_masks() == (None, None)


@pytest.mark.parametrize("kwargs,match", [
    ({"filters": 2, "kernel_size": 3, "padding": "causal"}, "padding must be one of"),
    ({"filters": 2, "kernel_size": 3, "padding": "full"}, "padding must be one of"),
    ({"filters": 2, "kernel_size": (3, 3, 3)}, "tuple of 2 positive integers"),
    ({"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2}, "incompatible"),
    ({"filters": 0, "kernel_size": 3}, "positive integer"),
    ({"filters": 2, "kernel_size": 3, "data_format": "NHWC"}, "data_format"),
    ({"filters": 2, "kernel_size": 3, "dropout": 1.5}, r"\[0, 1\]"),
])
def test_bad_config_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layers.ConvLSTM2D(**kwargs)


def test_wrong_inputs_are_refused():
    layer = layers.ConvLSTM2D(2, 3)
    with pytest.raises(ValueError, match="expected ndim=5"):
        layer(np.zeros((2, 3, 4, 4), "float32"))
    layer._maybe_build((2, 3, 4, 4, 1))
    with pytest.raises(ValueError, match=r"built for steps of shape \(4, 4, 1\)"):
        layer(np.zeros((2, 3, 5, 4, 1), "float32"))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        layers.ConvLSTM1D(2, 5)(np.zeros((1, 2, 3, 1), "float32"))


@pytest.mark.parametrize("name", ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"])
def test_config_round_trips_and_matches_keras_keys(keras, name):
    kwargs = {"filters": 3, "kernel_size": 2, "padding": "same", "dropout": 0.1, "seed": 4,
              "return_sequences": True, "go_backwards": True}
    config = getattr(layers, name)(**kwargs).get_config()
    k_config = getattr(keras.layers, name)(**kwargs).get_config()
    assert set(config) == set(k_config)
    for key in set(config) - {"name", "dtype", "kernel_initializer", "recurrent_initializer",
                              "bias_initializer"}:
        assert config[key] == k_config[key], key
    again = getattr(layers, name).from_config(config)
    assert again.get_config() == config


def test_initial_weights_follow_keras_rules(keras):
    """unit_forget_bias gives Keras's bias exactly; the recurrent kernel, flattened to
    ``(prod(k) * f, 4f)`` as Keras's Orthogonal does, has orthonormal columns."""
    u_layer = layers.ConvLSTM2D(2, 3, padding="same")
    u_layer._maybe_build((1, 2, 4, 4, 3))
    k_layer = keras.layers.ConvLSTM2D(2, 3, padding="same")
    k_layer.build((1, 2, 4, 4, 3))
    np.testing.assert_array_equal(u_layer.cell.bias.numpy(), np.asarray(k_layer.cell.bias.value))
    assert [w.shape for w in u_layer.weights] == [tuple(w.shape) for w in k_layer.weights]
    flat = u_layer.cell.recurrent_kernel.numpy().reshape(-1, 8)  # (3*3*2, 8)
    np.testing.assert_allclose(flat.T @ flat, np.eye(8), atol=1e-5)
    kernel = u_layer.cell.kernel.numpy()  # glorot_uniform: |w| <= sqrt(6 / (fan_in + fan_out))
    assert np.max(np.abs(kernel)) <= np.sqrt(6 / (9 * 3 + 9 * 8)) and np.std(kernel) > 0


def test_fit_matches_keras(keras, rng):
    """Same weights, data and SGD steps: the same losses and trained weights (1e-5)."""
    x = rng.normal(size=(8, 3, 4, 4, 1)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    models = []
    for lib in (unrolled, keras):
        model = lib.models.Sequential([
            lib.layers.Input(shape=(3, 4, 4, 1)),
            lib.layers.ConvLSTM2D(2, 2, padding="same", go_backwards=True),
            lib.layers.Flatten(), lib.layers.Dense(1)])
        model.compile(optimizer=lib.optimizers.SGD(learning_rate=0.05), loss="mse")
        models.append(model)
    u_model, k_model = models
    u_model.set_weights([np.asarray(w.value) for w in k_model.weights])
    u_loss = u_model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    k_loss = k_model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(u_loss.history["loss"], k_loss.history["loss"], rtol=1e-5)
    for u_w, k_w in zip(u_model.weights, k_model.weights, strict=True):
        close(u_w.numpy(), k_w.value)
