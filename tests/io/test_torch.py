"""unrolled <-> PyTorch. Oracles: real PyTorch (nn.LSTM/nn.GRU, packed sequences) and real Keras 3.

Every comparison runs the same weights and inputs through both sides; tolerance 1e-5.
"""

import numpy as np
import pytest
from convert_helpers import ATOL, STACKS, F, T, U, bi, eager, make_layer, padded_batch, pair

torch = pytest.importorskip(
    "torch", reason="PyTorch is optional for users (pip install torch); CI installs it")

from unrolled import convert, layers, models  # noqa: E402

# How to_torch groups each stack into torch RNN modules: (class, num_layers, bidirectional).
LAYOUT = {
    "lstm_2": [("LSTM", 2, False)],
    "gru_2_sizes": [("GRU", 1, False), ("GRU", 1, False)],
    "bi_lstm_2_seq": [("LSTM", 2, True)],
    "bi_gru_sum_ave": [("GRU", 1, True), ("GRU", 1, True)],
    "bi_then_gru": [("GRU", 1, True), ("GRU", 1, False)],
}


def _torch_run(module, x, lengths=None):
    with torch.no_grad():
        args = (torch.from_numpy(x),) if lengths is None else (torch.from_numpy(x), lengths)
        return module(*args).numpy()


@pytest.mark.parametrize("masking", [True, False], ids=["masked", "unmasked"])
@pytest.mark.parametrize("stack", sorted(STACKS))
def test_to_torch_matches_keras_and_from_torch_returns_the_model(stack, masking, keras, rng):
    u_model, k_model = pair(keras, STACKS[stack], rng, masking)
    x = padded_batch(rng) if masking else rng.normal(size=(3, T, F)).astype("float32")
    module = convert.to_torch(u_model)
    got = _torch_run(module, x)
    np.testing.assert_allclose(got, eager(k_model, x), atol=ATOL)
    if stack in LAYOUT:
        assert [(type(b.rnn).__name__, b.rnn.num_layers, b.rnn.bidirectional)
                for b in module.blocks] == LAYOUT[stack]
    back = convert.from_torch(module)
    for before, after in zip(u_model.get_weights(), back.get_weights(), strict=True):
        np.testing.assert_array_equal(after, before)
    np.testing.assert_allclose(eager(back, x), got, atol=ATOL)


def _torch_reference(module, x, lengths, bidirectional, return_sequences):
    """What Keras's model computes, from the real torch module (packed when ``lengths``)."""
    inputs = torch.from_numpy(x)
    with torch.no_grad():
        if lengths is not None:
            inputs = torch.nn.utils.rnn.pack_padded_sequence(inputs, list(lengths),
                                                             batch_first=True,
                                                             enforce_sorted=False)
        out, state = module(inputs)
        if lengths is not None:
            out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                            total_length=x.shape[1])
    h_n = state[0] if isinstance(state, tuple) else state  # (layers*dirs, B, u)
    if return_sequences:
        return out.numpy()
    return torch.cat(list(h_n[-2:] if bidirectional else h_n[-1:]), dim=-1).numpy()


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("num_layers,bidirectional,bias,return_sequences,masked", [
    (1, False, True, False, False), (1, False, False, True, True), (2, False, True, True, True),
    (1, True, False, False, True), (2, True, True, False, True), (2, True, True, True, False),
])
def test_from_torch_matches_real_torch_rnn(kind, num_layers, bidirectional, bias,
                                           return_sequences, masked, rng):
    torch.manual_seed(0)
    module = getattr(torch.nn, kind)(F, U, num_layers=num_layers, bias=bias,
                                     bidirectional=bidirectional, batch_first=True)
    with torch.no_grad():  # non-zero bias_hh: import must sum (LSTM) or keep (GRU) both biases
        for p in module.parameters():
            p.normal_(0.0, 0.5)
    lengths = (5, 3, 1, 2) if masked else None
    model = convert.from_torch(module, input_shape=(T, F), return_sequences=return_sequences,
                               mask_value=0.0 if masked else None)
    x = padded_batch(rng, lengths) if masked else rng.normal(size=(4, T, F)).astype("float32")
    expected = _torch_reference(module, x, lengths, bidirectional, return_sequences)
    got = eager(model, x)
    if return_sequences and masked and not bidirectional:
        # Keras repeats the last valid output at padded steps; torch pads with zeros.
        valid = np.arange(T)[None, :] < np.array(lengths)[:, None]  # (B, T)
        got, expected = got[valid], expected[valid]
    np.testing.assert_allclose(got, expected, atol=ATOL)


def test_from_torch_two_layer_bidirectional_lstm_is_a_sequential_of_bidirectional(rng):
    torch.manual_seed(2)
    module = torch.nn.LSTM(F, U, num_layers=2, bidirectional=True, batch_first=True)
    model = convert.from_torch(module, input_shape=(T, F), mask_value=0.0)
    assert [type(la).__name__ for la in model.layers] == ["Masking", "Bidirectional",
                                                          "Bidirectional"]
    assert [la.return_sequences for la in model.layers[1:]] == [True, False]
    lengths = (5, 2, 4)
    x = padded_batch(rng, lengths)
    expected = _torch_reference(module, x, lengths, True, False)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=ATOL)  # jit path


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_state_dict_export_loads_strictly_into_torch(kind, bidirectional, keras, rng):
    spec = bi(kind, return_sequences=True) if bidirectional else (kind, {"units": U,
                                                                        "return_sequences": True})
    u_model, k_model = pair(keras, [spec, spec], rng, masking=False)
    state = convert.to_torch_state_dict(u_model)
    first = u_model.layers[0].forward_layer if bidirectional else u_model.layers[0]
    if kind == "LSTM":  # the whole Keras bias goes to bias_ih, zeros to bias_hh
        np.testing.assert_array_equal(state["bias_ih_l0"].numpy(), first.cell.bias.numpy())
        np.testing.assert_array_equal(state["bias_hh_l0"].numpy(), np.zeros(4 * U))
        np.testing.assert_array_equal(state["weight_ih_l0"].numpy(), first.cell.kernel.numpy().T)
    else:  # Keras [z | r | h] -> torch [r | z | n]; bias rows are b_ih, b_hh
        kernel, bias = first.cell.kernel.numpy(), first.cell.bias.numpy()
        np.testing.assert_array_equal(state["weight_ih_l0"].numpy()[:U], kernel[:, U:2 * U].T)
        np.testing.assert_array_equal(state["bias_hh_l0"].numpy()[U:2 * U], bias[1, :U])
    module = getattr(torch.nn, kind)(F, U, num_layers=2, bidirectional=bidirectional,
                                     batch_first=True)
    module.load_state_dict(state, strict=True)
    x = rng.normal(size=(3, T, F)).astype("float32")
    with torch.no_grad():
        out, _ = module(torch.from_numpy(x))
    np.testing.assert_allclose(out.numpy(), eager(k_model, x), atol=ATOL)


def test_from_torch_state_dict_sets_a_bidirectional_stack(rng):
    torch.manual_seed(3)
    module = torch.nn.GRU(F, U, num_layers=2, bidirectional=True, batch_first=True)
    stack = [layers.Bidirectional(layers.GRU(U, return_sequences=True)) for _ in range(2)]
    model = models.Sequential([layers.Input(shape=(T, F)), *stack])
    convert.from_torch_state_dict(stack, module.state_dict())
    x = rng.normal(size=(3, T, F)).astype("float32")
    with torch.no_grad():
        out, _ = module(torch.from_numpy(x))
    np.testing.assert_allclose(eager(model, x), out.numpy(), atol=ATOL)


def test_to_torch_with_explicit_lengths_equals_the_masked_model(rng):
    model = models.Sequential([layers.Input(shape=(T, F)),
                               layers.Bidirectional(layers.GRU(U)), layers.Dense(2)])
    lengths = np.array([5, 2, 4])
    x = padded_batch(rng, lengths)
    mask = np.arange(T)[None, :] < lengths[:, None]
    rnn, dense = model.layers
    expected = rnn(x, mask=mask) @ dense.kernel.numpy() + dense.bias.numpy()
    got = _torch_run(convert.to_torch(model), x, torch.from_numpy(lengths))
    np.testing.assert_allclose(got, expected, atol=ATOL)


def test_from_torch_reads_back_weights_changed_in_torch(rng):
    model = models.Sequential([layers.Input(shape=(T, F)), layers.Masking(0.0),
                               layers.LSTM(U, return_sequences=True), layers.LSTM(U),
                               layers.Dense(2)])
    module = convert.to_torch(model)
    with torch.no_grad():  # "fine-tune" in PyTorch: both biases and a Linear weight change
        module.blocks[0].rnn.bias_hh_l1.add_(0.3)
        module.head[0].weight.mul_(-1.5)
    back = convert.from_torch(module)
    x = padded_batch(rng)
    np.testing.assert_allclose(eager(back, x), _torch_run(module, x), atol=ATOL)
    assert [w.path for w in back.weights][0].endswith("lstm_cell/kernel")


def test_from_torch_linear(rng):
    linear = torch.nn.Linear(F, 2)
    dense_model = convert.from_torch(linear)
    x = rng.normal(size=(4, F)).astype("float32")
    with torch.no_grad():
        np.testing.assert_allclose(eager(dense_model, x), linear(torch.from_numpy(x)).numpy(),
                                   atol=ATOL)


# ------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize("rnn", [lambda: layers.LSTM(U), lambda: layers.Bidirectional(
    layers.GRU(U))], ids=["lstm", "bidirectional_gru"])
@pytest.mark.parametrize("pattern,where", [("hole", "holes"), ("left", "leading padding")])
def test_masks_that_are_not_right_padding_are_refused(rnn, pattern, where, rng):
    model = models.Sequential([layers.Input(shape=(T, F)), layers.Masking(0.0), rnn()])
    module = convert.to_torch(model)
    x = padded_batch(rng, (5, 5))
    if pattern == "hole":
        x[1, 3] = 0.0
    else:
        x[1, :2] = 0.0
    with pytest.raises(ValueError, match=rf"Rows \[1\].*{where}.*padding='post'"):
        _torch_run(module, x)


def _gru_pair(forward_units, backward_units, forward_backwards=False):
    return layers.Bidirectional(
        layers.GRU(forward_units, go_backwards=forward_backwards),
        backward_layer=layers.GRU(backward_units, go_backwards=not forward_backwards))


REFUSED = {
    "activation": ([("LSTM", {"units": U, "activation": "relu"})],
                   "supports only the defaults tanh/sigmoid"),
    "recurrent_activation": ([bi("GRU", recurrent_activation="hard_sigmoid")],
                             "supports only the defaults tanh/sigmoid"),
    "go_backwards": ([("LSTM", {"units": U, "go_backwards": True})], "outside a Bidirectional"),
    "gru_reset_before": ([("GRU", {"units": U, "reset_after": False})],
                         "reset_after=False; PyTorch's nn.GRU computes only reset_after=True"),
    "bi_gru_reset_before": ([bi("GRU", reset_after=False)], "reset_after=False"),
    "merge_none": ([bi("LSTM", None)], "merge_mode=None returns two separate outputs"),
    "head_gelu": ([("LSTM", {"units": U}), ("Dense", {"units": 2, "activation": "gelu"})],
                  "activation 'gelu' has no converter"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_layers_torch_cannot_compute_are_refused(case):
    specs, message = REFUSED[case]
    layer_list = [make_layer(layers, spec) for spec in specs]
    model = models.Sequential([layers.Input(shape=(T, F)), *layer_list])
    with pytest.raises(ValueError, match=message):
        convert.to_torch(model)
    if case != "head_gelu":
        with pytest.raises(ValueError, match=message):
            convert.to_torch_state_dict(layer_list[0])


@pytest.mark.parametrize("build,message", [
    (lambda: [_gru_pair(U, U - 1)], "forward and backward layers differ"),
    (lambda: [_gru_pair(U, U, forward_backwards=True)], "forward layer has go_backwards=True"),
    (lambda: [layers.LSTM(U, return_state=True)], "return_state"),
    (lambda: [layers.LSTM(U, return_sequences=True), layers.GRU(U)], "one cell type"),
    (lambda: [layers.Bidirectional(layers.LSTM(U, return_sequences=True), merge_mode="sum"),
              layers.Bidirectional(layers.LSTM(U))], "merge_mode='sum' and feeds another"),
    (lambda: [layers.Dense(2)], "is not an LSTM, GRU or Bidirectional"),
])
def test_stacks_torch_cannot_express_are_refused_by_the_state_dict_functions(build, message):
    stack = build()
    for layer in stack:
        layer.build((None, T, F) if layer is stack[0] else (None, T, 2 * U))
    with pytest.raises(ValueError, match=message):
        convert.to_torch_state_dict(stack)
    with pytest.raises(ValueError, match=message):
        convert.from_torch_state_dict(stack, {})


def test_unsupported_models_and_modules_are_refused():
    with pytest.raises(ValueError, match="built unrolled Sequential"):
        convert.to_torch(models.Sequential([layers.LSTM(U)]))
    with pytest.raises(ValueError, match="received Conv1d"):
        convert.from_torch(torch.nn.Conv1d(3, 3, 1))
    with pytest.raises(ValueError, match="received RNN"):
        convert.from_torch(torch.nn.RNN(F, U))
    with pytest.raises(ValueError, match="proj_size"):
        convert.from_torch(torch.nn.LSTM(F, U, proj_size=2))


@pytest.mark.parametrize("change,message", [
    (lambda s: s.pop("bias_hh_l0"), r"missing keys \['bias_hh_l0'\]"),
    (lambda s: s.update(weight_ih_l1=s["weight_ih_l0"]), r"unexpected keys \['weight_ih_l1'\]"),
    (lambda s: s.update(weight_hh_l0=torch.zeros(4 * U, U + 1)), "weight_hh_l0 has shape"),
    (lambda s: s.update(weight_ih_l0_reverse=torch.zeros(4 * U, 1)), "weight_ih_l0_reverse has"),
    (lambda s: s.update(bias_ih_l0_reverse=torch.zeros(5)), "do not fit together as LSTM weights"),
    (lambda s: [s.pop(k) for k in list(s) if k.endswith("_reverse")],
     r"missing keys \['weight_ih_l0_reverse'"),
])
def test_state_dict_with_wrong_keys_or_shapes_is_refused_and_changes_nothing(change, message,
                                                                              rng):
    layer = layers.Bidirectional(layers.LSTM(U))
    layer.build((None, T, F))
    before = [w.numpy().copy() for w in layer.weights]
    state = {k: v + 1.0 for k, v in convert.to_torch_state_dict(layer).items()}
    change(state)
    with pytest.raises(ValueError, match=message):
        convert.from_torch_state_dict(layer, state)
    for w, old in zip(layer.weights, before, strict=True):
        np.testing.assert_array_equal(w.numpy(), old)
