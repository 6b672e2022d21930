"""unrolled -> ONNX. Oracles: onnxruntime running the file vs real Keras 3 with the same weights.

Tolerance 1e-5. Also the graph's promised structure (one recurrent node per layer, time-major,
no layout attribute), refusals, atomic writing and the optional-package messages.
"""

import sys

import numpy as np
import onnx
import pytest

ort = pytest.importorskip("onnxruntime", reason="onnxruntime comes with the test extra")

from unrolled import convert, layers, models  # noqa: E402

T, F, U = 7, 3, 5
ATOL = 1e-5
SEQ = {"units": U, "return_sequences": True}
STACKS = {
    "seed": [("LSTM", {"units": U}), ("Dense", {"units": 2}),
             ("Activation", {"activation": "sigmoid"})],
    "sequences": [("LSTM", SEQ), ("Dense", {"units": 3, "activation": "relu"})],
    "zero_output": [("LSTM", {**SEQ, "zero_output_for_mask": True})],
    "stacked": [("LSTM", SEQ), ("LSTM", {"units": 4}), ("Dense", {"units": 3}),
                ("Activation", {"activation": "softmax"})],
    "no_bias": [("LSTM", {"units": U, "use_bias": False}),
                ("Dense", {"units": 2, "activation": "hard_sigmoid"})],
}
if hasattr(layers, "GRU"):
    STACKS["gru"] = [("GRU", SEQ), ("GRU", {"units": 4}), ("Dense", {"units": 2})]


def _randomize(model, rng, scale=0.5):
    model.set_weights([rng.normal(scale=scale, size=w.shape).astype("float32")
                       for w in model.get_weights()])


def _padded_batch(rng, lengths=(7, 4, 1, 0, 6)):
    x = rng.normal(size=(len(lengths), T, F)).astype("float32")
    for row, n in enumerate(lengths):
        x[row, n:] = 0.0
    return x


def _run(path, x):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]


@pytest.mark.parametrize("masking", [True, False])
@pytest.mark.parametrize("stack", sorted(STACKS))
def test_onnxruntime_matches_keras(stack, masking, sequential_pair, tmp_path, rng):
    specs = ([("Masking", {"mask_value": 0.0})] if masking else []) + STACKS[stack]
    u_model, k_model = sequential_pair(specs, (T, F))
    _randomize(u_model, rng)
    k_model.set_weights(u_model.get_weights())
    x = _padded_batch(rng) if masking else rng.normal(size=(3, T, F)).astype("float32")
    path = convert.to_onnx(u_model, tmp_path / "m.onnx")
    got = _run(path, x)
    np.testing.assert_allclose(got, np.asarray(k_model.predict(x, verbose=0)), atol=ATOL)


def test_graph_is_one_time_major_lstm_node_per_layer_with_onnx_gate_layout(tmp_path, rng):
    model = models.Sequential([layers.Input(shape=(None, F)), layers.Masking(0.0),
                               layers.LSTM(U, return_sequences=True), layers.LSTM(U),
                               layers.Dense(2)])
    _randomize(model, rng)
    proto = onnx.load(convert.to_onnx(model, tmp_path / "m.onnx"))
    lstm_nodes = [n for n in proto.graph.node if n.op_type == "LSTM"]
    assert len(lstm_nodes) == 2
    assert all("layout" not in {a.name for a in n.attribute} for n in lstm_nodes)
    assert all(n.input[4] for n in lstm_nodes)  # sequence_lens is wired
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    w, b = inits[lstm_nodes[0].input[1]], inits[lstm_nodes[0].input[3]]
    assert w.shape == (1, 4 * U, F) and b.shape == (1, 8 * U)
    np.testing.assert_array_equal(b[0, 4 * U:], 0.0)  # Rb: the Keras bias lives in Wb
    kernel = model.layers[1].cell.kernel.numpy()  # blocks [i, f, c, o]
    np.testing.assert_array_equal(w[0, U:2 * U], kernel[:, 3 * U:].T)  # ONNX block 1 = o
    # a variable time axis: the same file runs on two lengths, equal to unrolled on each
    for steps in (4, 9):
        x = rng.normal(size=(2, steps, F)).astype("float32")
        np.testing.assert_allclose(_run(tmp_path / "m.onnx", x), model.predict(x, verbose=0),
                                   atol=ATOL)


@pytest.mark.parametrize("build,message", [
    (lambda: [layers.LSTM(U, activation="relu")], "supports only the defaults tanh/sigmoid"),
    (lambda: [layers.LSTM(U, go_backwards=True)], "outside a Bidirectional"),
    (lambda: [layers.LSTM(U), layers.Dense(2, activation="gelu")], "'gelu' has no ONNX"),
    (lambda: [layers.LSTM(U, return_sequences=True), layers.Dropout(0.5), layers.LSTM(U)],
     "Dropout.*has no ONNX export"),
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
    ("torch", "to_torch", "pip install torch"),
    ("onnx", "to_onnx", "pip install onnx"),
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
