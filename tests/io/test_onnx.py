"""unrolled -> ONNX. Oracles: onnxruntime running the file vs real Keras 3 with the same weights.

Tolerance 1e-5. Also the graph's promised structure (one recurrent node per layer, time-major,
no layout attribute), refusals, atomic writing and the optional-package messages.
"""

import sys

import numpy as np
import onnx
import pytest
from convert_helpers import ATOL, SEQ, STACKS, F, T, U, bi, eager, padded_batch, pair

ort = pytest.importorskip("onnxruntime", reason="onnxruntime comes with the test extra")

from unrolled import convert, layers, models  # noqa: E402

# ONNX-only stacks on top of the shared ones (PyTorch cannot compute GRU reset_after=False).
ONNX_STACKS = {
    **STACKS,
    "gru_reset_before": [("GRU", {**SEQ, "reset_after": False}), ("GRU", {"units": 2})],
    "bi_gru_reset_before": [bi("GRU", reset_after=False)],
    "lstm_no_bias": [("LSTM", {"units": U, "use_bias": False}),
                     ("Dense", {"units": 2, "activation": "hard_sigmoid"})],
}


def _run(path, x):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]


@pytest.mark.parametrize("masking", [True, False], ids=["masked", "unmasked"])
@pytest.mark.parametrize("stack", sorted(ONNX_STACKS))
def test_onnxruntime_matches_keras(stack, masking, keras, tmp_path, rng):
    u_model, k_model = pair(keras, ONNX_STACKS[stack], rng, masking)
    x = padded_batch(rng) if masking else rng.normal(size=(3, T, F)).astype("float32")
    path = convert.to_onnx(u_model, tmp_path / "m.onnx", assume_right_padding=masking)
    np.testing.assert_allclose(_run(path, x), eager(k_model, x), atol=ATOL)


def _randomize(model, rng, scale=0.5):
    model.set_weights([rng.normal(scale=scale, size=w.shape).astype("float32")
                       for w in model.get_weights()])


def _load(path):
    proto = onnx.load(path)
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    return proto, inits


def test_graph_is_one_time_major_lstm_node_per_layer_with_onnx_gate_layout(tmp_path, rng):
    model = models.Sequential([layers.Input(shape=(None, F)), layers.Masking(0.0),
                               layers.LSTM(U, return_sequences=True), layers.LSTM(U),
                               layers.Dense(2)])
    _randomize(model, rng)
    proto, inits = _load(convert.to_onnx(model, tmp_path / "m.onnx", assume_right_padding=True))
    lstm_nodes = [n for n in proto.graph.node if n.op_type == "LSTM"]
    assert len(lstm_nodes) == 2
    assert all("layout" not in {a.name for a in n.attribute} for n in lstm_nodes)
    assert all(n.input[4] for n in lstm_nodes)  # sequence_lens is wired
    w, b = inits[lstm_nodes[0].input[1]], inits[lstm_nodes[0].input[3]]
    assert w.shape == (1, 4 * U, F) and b.shape == (1, 8 * U)
    np.testing.assert_array_equal(b[0, 4 * U:], 0.0)  # Rb: the Keras bias lives in Wb
    kernel = model.layers[1].cell.kernel.numpy()  # blocks [i, f, c, o]
    np.testing.assert_array_equal(w[0, U:2 * U], kernel[:, 3 * U:].T)  # ONNX block 1 = o
    # a variable time axis: the same file runs on two lengths, equal to unrolled on each
    for steps in (4, 9):
        x = rng.normal(size=(2, steps, F)).astype("float32")
        np.testing.assert_allclose(_run(tmp_path / "m.onnx", x), eager(model, x), atol=ATOL)


@pytest.mark.parametrize("reset_after", [True, False])
def test_bidirectional_gru_is_one_node_in_keras_gate_order(reset_after, tmp_path, rng):
    gru = layers.GRU(U, return_sequences=True, reset_after=reset_after)
    model = models.Sequential([layers.Input(shape=(None, F)), layers.Masking(0.0),
                               layers.Bidirectional(gru)])
    _randomize(model, rng)
    proto, inits = _load(convert.to_onnx(model, tmp_path / "m.onnx", assume_right_padding=True))
    (node,) = [n for n in proto.graph.node if n.op_type == "GRU"]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert attrs["direction"] == b"bidirectional" and "layout" not in attrs
    assert attrs["linear_before_reset"] == int(reset_after)
    w, r, b = (inits[node.input[i]] for i in (1, 2, 3))
    fwd, bwd = model.layers[1].forward_layer.cell, model.layers[1].backward_layer.cell
    assert w.shape == (2, 3 * U, F) and r.shape == (2, 3 * U, U) and b.shape == (2, 6 * U)
    np.testing.assert_array_equal(w[1], bwd.kernel.numpy().T)  # [z | r | h] kept
    np.testing.assert_array_equal(r[0], fwd.recurrent_kernel.numpy().T)
    bias = bwd.bias.numpy().reshape(-1)  # (2, 3u) rows [Wb, Rb], or (3u,) with Rb = 0
    np.testing.assert_array_equal(b[1], bias if reset_after else np.r_[bias, np.zeros(3 * U)])
    for steps in (4, 9):  # Y (T, 2, B, u) comes back as Keras's (B, T, 2u) concat
        x = padded_batch(rng, (steps, 2, 0), steps=steps)
        np.testing.assert_allclose(_run(tmp_path / "m.onnx", x), eager(model, x), atol=ATOL)


@pytest.mark.parametrize("build,message", [
    (lambda: [layers.LSTM(U, activation="relu")], "supports only the defaults tanh/sigmoid"),
    (lambda: [layers.LSTM(U, go_backwards=True)], "outside a Bidirectional"),
    (lambda: [layers.LSTM(U), layers.Dense(2, activation="gelu")], "'gelu' has no ONNX"),
    (lambda: [layers.LSTM(U, return_sequences=True), layers.Dropout(0.5), layers.LSTM(U)],
     "Dropout.*has no ONNX export"),
    (lambda: [layers.Bidirectional(layers.GRU(U), merge_mode=None)], "merge_mode=None"),
    (lambda: [layers.Bidirectional(layers.LSTM(U), backward_layer=layers.GRU(
        U, go_backwards=True))], "forward and backward layers differ"),
    (lambda: [layers.LSTM(U, return_sequences=True), layers.Dense(2), layers.LSTM(U)],
     "recurrent layer after Dense"),
    (lambda: [layers.SimpleRNN(U)], "SimpleRNN.*has no ONNX export"),
])
def test_what_onnx_cannot_express_is_refused_and_leaves_files_alone(build, message, tmp_path):
    target = tmp_path / "m.onnx"
    target.write_bytes(b"previous")
    model = models.Sequential([layers.Input(shape=(T, F)), *build()])
    with pytest.raises(ValueError, match=message):
        convert.to_onnx(model, target)
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_bad_targets_and_models_are_refused(tmp_path):
    model = models.Sequential([layers.Input(shape=(T, F)), layers.LSTM(U)])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        convert.to_onnx(model, tmp_path / "missing_dir" / "m.onnx")
    with pytest.raises(ValueError, match="opset 11 is too old"):
        convert.to_onnx(model, tmp_path / "m.onnx", opset=11)
    with pytest.raises(ValueError, match="built unrolled Sequential"):
        convert.to_onnx(models.Sequential([layers.LSTM(U)]), tmp_path / "m.onnx")


@pytest.mark.parametrize("package,function,hint", [
    ("torch", "to_torch", r"pip install 'unrolled\[torch\]'"),
    ("onnx", "to_onnx", r"pip install 'unrolled\[onnx\]'"),
])
def test_missing_optional_packages_say_what_to_install(package, function, hint, monkeypatch,
                                                        tmp_path):
    module = {"torch": "unrolled.io.torch_convert", "onnx": "unrolled.io.onnx_export"}[package]
    monkeypatch.setitem(sys.modules, package, None)  # makes `import package` fail
    monkeypatch.delitem(sys.modules, module, raising=False)
    model = models.Sequential([layers.Input(shape=(T, F)), layers.LSTM(U)])
    args = (model,) if function == "to_torch" else (model, tmp_path / "m.onnx")
    with pytest.raises(ImportError, match=hint):
        getattr(convert, function)(*args)
