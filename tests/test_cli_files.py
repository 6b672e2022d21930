"""``unrolled train/evaluate/predict/convert``. Oracles: the public API on the same files (the CLI
must save what training produced, evaluate what `Model.evaluate` says, predict what
`Model.predict` says), onnxruntime and PyTorch for the converted files, and error exit codes.
"""

import csv
import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from unrolled import datasets, models
from unrolled.cli import main

BUNDLED = Path(__file__).resolve().parents[1] / "src" / "unrolled" / "data" / "bundled"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    for split in ("TRAIN", "TEST"):
        text = gzip.decompress((BUNDLED / f"ItalyPowerDemand_{split}.ts.gz").read_bytes())
        (root / f"{split.lower()}.ts").write_bytes(text)
    model = root / "m.keras"
    code = main(["train", str(root / "train.ts"), "--model", "lstm:4,dense:2,sigmoid",
                 "--epochs", "2", "--validation-split", "0.2", "--verbose", "0",
                 "--out", str(model)])
    assert code == 0
    return root


def test_train_saves_a_model_with_class_names_and_evaluate_agrees(files, capsys):
    model = models.load_model(files / "m.keras")
    assert [type(la).__name__ for la in model.layers] == ["Masking", "LSTM", "Dense", "Activation"]
    assert main(["evaluate", str(files / "m.keras"), str(files / "test.ts")]) == 0
    printed = dict(line.split(": ") for line in capsys.readouterr().out.strip().splitlines())
    (_, _), (xt, yt) = datasets.load("ItalyPowerDemand", one_hot=True)
    loss, acc = model.evaluate(xt, yt, verbose=0)
    assert float(printed["loss"]) == pytest.approx(loss, abs=1e-5)
    assert float(printed["categorical_accuracy"]) == pytest.approx(acc, abs=1e-5)


def test_predict_writes_labels_and_probabilities(files):
    out = files / "pred.csv"
    argv = ["predict", str(files / "m.keras"), str(files / "test.ts"), "--out", str(out)]
    assert main(argv) == 0
    rows = list(csv.reader(out.read_text().splitlines()))
    assert rows[0] == ["index", "prediction", "p_1", "p_2"]
    (_, _), (xt, _) = datasets.load("ItalyPowerDemand")
    expected = models.load_model(files / "m.keras").predict(xt, verbose=0)
    got = np.array([[float(v) for v in r[2:]] for r in rows[1:]])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert [r[1] for r in rows[1:]] == [["1", "2"][i] for i in expected.argmax(1)]


def test_convert_to_onnx_runs_in_onnxruntime(files):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime comes with the test extra")
    assert main(["convert", str(files / "m.keras"), "--to", "onnx",
                 "--out", str(files / "m.onnx")]) != 0  # Masking: right padding not stated
    assert main(["convert", str(files / "m.keras"), "--to", "onnx", "--assume-right-padding",
                 "--out", str(files / "m.onnx")]) == 0
    (_, _), (xt, _) = datasets.load("ItalyPowerDemand")
    got = ort.InferenceSession(str(files / "m.onnx")).run(None, {"x": xt[:50]})[0]
    expected = models.load_model(files / "m.keras").predict(xt[:50], verbose=0)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_convert_to_torch_as_a_real_subprocess(files):
    torch = pytest.importorskip("torch", reason="PyTorch is optional (pip install torch)")
    out = files / "m.pt"
    result = subprocess.run(
        [sys.executable, "-m", "unrolled.cli", "convert", str(files / "m.keras"), "--to", "torch",
         "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    module = torch.load(out, weights_only=False)
    (_, _), (xt, _) = datasets.load("ItalyPowerDemand")
    with torch.no_grad():
        got = module(torch.from_numpy(xt[:50])).numpy()
    expected = models.load_model(files / "m.keras").predict(xt[:50], verbose=0)
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("argv,message,code", [
    (["train", "{d}/missing.ts", "--out", "{d}/x.keras"], "does not exist", 2),
    (["train", "{d}/train.ts", "--model", "lstm:x", "--out", "{d}/x.keras"],
     "cannot read 'lstm:x'", 2),
    (["train", "{d}/train.ts", "--model", "lstm:4,dense", "--out", "{d}/x.keras"],
     "must end with softmax or sigmoid", 2),
    (["train", "{d}/train.ts", "--out", "{d}/x.txt"], "must name a .keras file", 2),
    (["train", "{d}/train.ts", "--out", "{d}/no_dir/x.keras"], "does not exist", 2),
    (["train", "{d}/train.ts", "--out", "{d}"], "is a directory", 2),
    (["evaluate", "{d}/m.keras", "{d}/wide.ts"], "2 feature(s) per time step", 1),
    (["predict", "{d}/nope.keras", "{d}/test.ts"], "does not exist", 2),
    (["evaluate", "{d}/m.keras", "{d}/notes.md"], "expected .ts, .csv", 2),
    (["evaluate", "{d}/m.keras", "{d}/broken.ts"], "line 4", 1),
    (["convert", "{d}/m.keras", "--to", "onnx", "--out", "{d}/m.txt"], "must name a .onnx", 2),
    (["explain", "{d}/m.keras", "--step"], "pass --data", 2),
])
def test_bad_input_exits_with_a_clear_message(argv, message, code, files, capsys):
    (files / "notes.md").write_text("hello\n")
    (files / "wide.ts").write_text(
        "@problemName w\n@dimensions 2\n@classLabel true 1 2\n@data\n1,2:3,4:1\n")
    (files / "broken.ts").write_text("@problemName w\n@classLabel true 1 2\n@data\n1,x,3:1\n")
    argv = [a.format(d=files) for a in argv]
    assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["train", "x.ts", "--epochs", "0", "--out", "m.keras"],
    ["train", "x.ts", "--epochs", "-3", "--out", "m.keras"],
    ["train", "x.ts", "--batch-size", "0", "--out", "m.keras"],
    ["train", "x.ts", "--validation-split", "1.5", "--out", "m.keras"],
    ["demo", "--epochs", "0"],
    ["predict", "m.keras", "x.csv", "--labels", "--no-labels"],
])
def test_bad_options_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_help_texts_show_examples(capsys):
    for command in ("train", "evaluate", "predict", "convert"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "unrolled " + command in capsys.readouterr().out
