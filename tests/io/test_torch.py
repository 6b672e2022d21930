"""unrolled <-> PyTorch. Oracles: real PyTorch (nn.LSTM/nn.GRU, packed sequences) and real Keras 3.

Every comparison runs the same weights and inputs through both sides; tolerance 1e-5.
"""

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch is optional (pip install torch); CI installs it")

from unrolled import convert, layers, models  # noqa: E402

T, F, U = 7, 3, 5
ATOL = 1e-5
RNN_KINDS = [k for k in ("LSTM", "GRU") if hasattr(layers, k)]


def _randomize(model, rng, scale=0.5):
    model.set_weights([rng.normal(scale=scale, size=w.shape).astype("float32")
                       for w in model.get_weights()])


def _padded_batch(rng, lengths=(7, 4, 1, 0, 6)):
    """Right-padded (B, T, F) with the given lengths; a length-0 row is fully masked."""
    x = rng.normal(size=(len(lengths), T, F)).astype("float32")
    for row, n in enumerate(lengths):
        x[row, n:] = 0.0
    return x


def _torch_run(module, x, lengths=None):
    with torch.no_grad():
        args = (torch.from_numpy(x),) if lengths is None else (torch.from_numpy(x), lengths)
        return module(*args).numpy()


@pytest.mark.parametrize("kind", RNN_KINDS)
@pytest.mark.parametrize("num_layers,bias,return_sequences", [
    (1, True, False), (1, False, True), (2, True, True), (2, True, False),
])
def test_from_torch_matches_real_torch_rnn(kind, num_layers, bias, return_sequences, rng):
    torch.manual_seed(0)
    module = getattr(torch.nn, kind)(F, U, num_layers=num_layers, bias=bias, batch_first=True)
    with torch.no_grad():  # non-zero bias_hh: import must sum (LSTM) or keep (GRU) both biases
        for p in module.parameters():
            p.normal_(0.0, 0.5)
    model = convert.from_torch(module, input_shape=(T, F), return_sequences=return_sequences)
    x = rng.normal(size=(4, T, F)).astype("float32")
    with torch.no_grad():
        out, _ = module(torch.from_numpy(x))
    expected = out.numpy() if return_sequences else out[:, -1].numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=ATOL)


@pytest.mark.parametrize("kind", RNN_KINDS)
def test_state_dict_export_loads_strictly_into_torch(kind, rng):
    layer = getattr(layers, kind)(U, return_sequences=True)
    model = models.Sequential([layers.Input(shape=(T, F)), layer])
    _randomize(model, rng)
    state = convert.to_torch_state_dict(layer)
    if kind == "LSTM":  # the whole Keras bias goes to bias_ih, zeros to bias_hh
        np.testing.assert_array_equal(state["bias_ih_l0"].numpy(), layer.cell.bias.numpy())
        np.testing.assert_array_equal(state["bias_hh_l0"].numpy(), np.zeros(4 * U))
        np.testing.assert_array_equal(state["weight_ih_l0"].numpy(), layer.cell.kernel.numpy().T)
    module = getattr(torch.nn, kind)(F, U, batch_first=True)
    module.load_state_dict(state, strict=True)
    x = rng.normal(size=(3, T, F)).astype("float32")
    with torch.no_grad():
        out, _ = module(torch.from_numpy(x))
    np.testing.assert_allclose(model.predict(x, verbose=0), out.numpy(), atol=ATOL)


SEQ = {"units": U, "return_sequences": True}
SEED_STACKS = {
    "seed": [("LSTM", {"units": U}), ("Dense", {"units": 2}),
             ("Activation", {"activation": "sigmoid"})],
    "sequences": [("LSTM", SEQ), ("Dense", {"units": 3, "activation": "tanh"})],
    "zero_output": [("LSTM", {**SEQ, "zero_output_for_mask": True})],
    "stacked": [("LSTM", SEQ), ("LSTM", {"units": U}), ("Dense", {"units": 2}),
                ("Activation", {"activation": "softmax"})],
    "stacked_mixed_units": [("LSTM", {**SEQ, "units": 4}), ("LSTM", {"units": U})],
}


@pytest.mark.parametrize("stack", sorted(SEED_STACKS))
def test_to_torch_matches_keras_and_unrolled_on_right_padded_batches(stack, sequential_pair,
                                                                     keras_weights, rng):
    specs = [("Masking", {"mask_value": 0.0})] + SEED_STACKS[stack]
    u_model, k_model = sequential_pair(specs, (T, F))
    _randomize(u_model, rng)
    k_model.set_weights(u_model.get_weights())
    x = _padded_batch(rng)
    module = convert.to_torch(u_model)
    got = _torch_run(module, x)
    expected = np.asarray(k_model.predict(x, verbose=0))
    np.testing.assert_allclose(got, expected, atol=ATOL)
    np.testing.assert_allclose(got, u_model.predict(x, verbose=0), atol=ATOL)


def test_to_torch_with_explicit_lengths_equals_the_masked_model(rng):
    model = models.Sequential([layers.Input(shape=(T, F)), layers.LSTM(U), layers.Dense(2)])
    _randomize(model, rng)
    lengths = np.array([7, 3, 5])
    x = _padded_batch(rng, lengths)
    mask = np.arange(T)[None, :] < lengths[:, None]
    lstm, dense = model.layers
    expected = lstm(x, mask=mask) @ dense.kernel.numpy() + dense.bias.numpy()
    got = _torch_run(convert.to_torch(model), x, torch.from_numpy(lengths))
    np.testing.assert_allclose(got, expected, atol=ATOL)


def test_from_torch_reads_back_weights_changed_in_torch(rng):
    model = models.Sequential([layers.Input(shape=(T, F)), layers.Masking(0.0),
                               layers.LSTM(U, return_sequences=True), layers.LSTM(U),
                               layers.Dense(2)])
    _randomize(model, rng)
    module = convert.to_torch(model)
    with torch.no_grad():  # "fine-tune" in PyTorch: both biases and a Linear weight change
        module.blocks[0].rnn.bias_hh_l1.add_(0.3)
        module.head[0].weight.mul_(-1.5)
    back = convert.from_torch(module)
    x = _padded_batch(rng)
    np.testing.assert_allclose(back.predict(x, verbose=0), _torch_run(module, x), atol=ATOL)
    assert [w.path for w in back.weights][0].endswith("lstm_cell/kernel")


def test_from_torch_linear_and_masking_prefix(rng):
    linear = torch.nn.Linear(F, 2)
    dense_model = convert.from_torch(linear)
    x = rng.normal(size=(4, F)).astype("float32")
    with torch.no_grad():
        np.testing.assert_allclose(dense_model.predict(x, verbose=0),
                                   linear(torch.from_numpy(x)).numpy(), atol=ATOL)
    torch.manual_seed(1)
    lstm = torch.nn.LSTM(F, U, batch_first=True)
    model = convert.from_torch(lstm, input_shape=(T, F), mask_value=0.0)
    lengths = [7, 2, 5]
    x = _padded_batch(rng, lengths)
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.from_numpy(x), lengths,
                                                     batch_first=True, enforce_sorted=False)
    with torch.no_grad():
        _, (h_n, _) = lstm(packed)
    np.testing.assert_allclose(model.predict(x, verbose=0), h_n[-1].numpy(), atol=ATOL)


# ------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize("pattern,where", [("hole", "holes"), ("left", "leading padding")])
def test_masks_that_are_not_right_padding_are_refused(pattern, where, rng):
    model = models.Sequential([layers.Input(shape=(T, F)), layers.Masking(0.0), layers.LSTM(U)])
    module = convert.to_torch(model)
    x = _padded_batch(rng, (7, 7))
    if pattern == "hole":
        x[1, 3] = 0.0
    else:
        x[1, :2] = 0.0
    with pytest.raises(ValueError, match=rf"Rows \[1\].*{where}.*padding='post'"):
        _torch_run(module, x)


@pytest.mark.parametrize("layer_kwargs,message", [
    ({"activation": "relu"}, "supports only the defaults tanh/sigmoid"),
    ({"recurrent_activation": "hard_sigmoid"}, "supports only the defaults tanh/sigmoid"),
    ({"go_backwards": True}, "outside a Bidirectional"),
    ({"return_state": True}, "return_state"),
])
def test_layers_torch_cannot_compute_are_refused(layer_kwargs, message):
    model = models.Sequential([layers.Input(shape=(T, F)), layers.LSTM(U, **layer_kwargs)]) \
        if "return_state" not in layer_kwargs else None
    if model is None:  # return_state outputs a list: check the layer on its own
        layer = layers.LSTM(U, **layer_kwargs)
        layer.build((None, T, F))
        with pytest.raises(ValueError, match=message):
            convert.to_torch_state_dict(layer)
        return
    with pytest.raises(ValueError, match=message):
        convert.to_torch(model)


def test_unsupported_head_layers_and_modules_are_refused():
    model = models.Sequential([layers.Input(shape=(T, F)), layers.LSTM(U),
                               layers.Dense(2, activation="gelu")])
    with pytest.raises(ValueError, match="activation 'gelu' has no converter"):
        convert.to_torch(model)
    with pytest.raises(ValueError, match="built unrolled Sequential"):
        convert.to_torch(models.Sequential([layers.LSTM(U)]))
    with pytest.raises(ValueError, match="received Conv1d"):
        convert.from_torch(torch.nn.Conv1d(3, 3, 1))
    with pytest.raises(ValueError, match="proj_size"):
        convert.from_torch(torch.nn.LSTM(F, U, proj_size=2))


def test_state_dict_with_wrong_keys_or_shapes_is_refused(rng):
    layer = layers.LSTM(U)
    layer.build((None, T, F))
    good = convert.to_torch_state_dict(layer)
    missing = {k: v for k, v in good.items() if k != "bias_hh_l0"}
    with pytest.raises(ValueError, match=r"missing keys \['bias_hh_l0'\]"):
        convert.from_torch_state_dict(layer, missing)
    extra = {**good, "weight_ih_l1": good["weight_ih_l0"]}
    with pytest.raises(ValueError, match=r"unexpected keys \['weight_ih_l1'\]"):
        convert.from_torch_state_dict(layer, extra)
    wrong = {**good, "weight_hh_l0": torch.zeros(4 * U, U + 1)}
    with pytest.raises(ValueError, match="weight_hh_l0 has shape"):
        convert.from_torch_state_dict(layer, wrong)
    before = layer.cell.kernel.numpy().copy()
    np.testing.assert_array_equal(layer.cell.kernel.numpy(), before)  # refused => unchanged
