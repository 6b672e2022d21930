"""The CLI on users' own files: labels, lengths, padding, formats, heads, errors.

Oracles: the public API on the same arrays (the CLI must predict what `Model.predict` predicts
on the data as the library reads it), onnxruntime for the exported file, and the exit codes
and messages the CLI documents (0 done, 1 failed, 2 usage).
"""

import csv
import io
import os
import subprocess
import sys

import numpy as np
import pytest

from unrolled import models
from unrolled.cli import main

ENV = {**os.environ, "UNROLLED_COMPILE_CACHE": "0",
       "PYTHONPATH": os.pathsep.join([str(p) for p in sys.path if p])}


def _write_csv(path, rows, header=None):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        if header:
            writer.writerow(header)
        writer.writerows(rows)


def _counts(rng, n, low=3, high=8):
    """Count sequences (many real zeros) with a class label: does the series sum exceed 6?"""
    seqs = [rng.integers(0, 3, size=rng.integers(low, high)) for _ in range(n)]
    return seqs, ["big" if s.sum() > 6 else "small" for s in seqs]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_data")
    rng = np.random.default_rng(0)
    seqs, labels = _counts(rng, 48)
    _write_csv(root / "train.csv", [[*s, lab] for s, lab in zip(seqs, labels, strict=True)])
    code = main(["train", str(root / "train.csv"), "--model", "lstm:3,dense,softmax",
                 "--mask-value", "-1", "--epochs", "2", "--verbose", "0",
                 "--out", str(root / "m.keras")])
    assert code == 0
    return root


def _predict_csv(text):
    rows = list(csv.reader(io.StringIO(text)))
    return np.array([[float(v) for v in r[2:]] for r in rows[1:]])


def test_unlabelled_csv_is_ambiguous_then_read_whole_with_no_labels(trained, capsys):
    rng = np.random.default_rng(1)
    seqs, _ = _counts(rng, 5, low=9, high=12)  # longer than anything in training
    _write_csv(trained / "new.csv", seqs)
    assert main(["predict", str(trained / "m.keras"), str(trained / "new.csv")]) == 2
    assert "--labels" in capsys.readouterr().err
    assert main(["predict", str(trained / "m.keras"), str(trained / "new.csv"),
                 "--no-labels"]) == 0
    got = _predict_csv(capsys.readouterr().out)
    model = models.load_model(trained / "m.keras")
    assert model.layers[0].mask_value == -1.0
    for i, s in enumerate(seqs):  # every value is data: the last one is not dropped
        alone = model.predict(np.asarray(s, np.float32)[None, :, None], verbose=0)[0]
        np.testing.assert_allclose(got[i], alone, atol=1e-5)


def test_padding_uses_the_mask_value_so_real_zeros_count(trained, capsys):
    # the same sequence with and without trailing zeros must differ: zeros are data
    _write_csv(trained / "zeros.csv", [[1, 2, 0, 0], [1, 2, "", ""]])
    assert main(["predict", str(trained / "m.keras"), str(trained / "zeros.csv"),
                 "--no-labels"]) == 0
    got = _predict_csv(capsys.readouterr().out)
    model = models.load_model(trained / "m.keras")
    x = np.array([[1, 2, 0, 0], [1, 2, -1, -1]], np.float32)[:, :, None]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-5)
    assert not np.allclose(got[0], got[1])


def test_header_named_label_column_and_csv_labels_for_evaluate(trained, capsys):
    rng = np.random.default_rng(2)
    seqs, labels = _counts(rng, 6)
    width = max(len(s) for s in seqs)
    rows = [[*s, *[""] * (width - len(s)), lab] for s, lab in zip(seqs, labels, strict=True)]
    _write_csv(trained / "test.csv", rows, header=[*[f"t{i}" for i in range(width)], "class"])
    assert main(["evaluate", str(trained / "m.keras"), str(trained / "test.csv")]) == 0
    printed = dict(line.split(": ") for line in capsys.readouterr().out.strip().splitlines())
    model = models.load_model(trained / "m.keras")
    x = np.full((6, width, 1), -1.0, np.float32)
    for i, s in enumerate(seqs):
        x[i, : len(s), 0] = s
    names = sorted({"big", "small"})
    y = np.eye(2, dtype=np.float32)[[names.index(v) for v in labels]]
    loss, _ = model.evaluate(x, y, verbose=0)
    assert float(printed["loss"]) == pytest.approx(loss, abs=1e-5)


def test_missing_values_refused_then_masked(trained, capsys):
    _write_csv(trained / "holes.csv", [[1, "?", 2], [0, 1, 2]])
    argv = ["predict", str(trained / "m.keras"), str(trained / "holes.csv"), "--no-labels"]
    assert main(argv) == 1
    assert "--missing" in capsys.readouterr().err
    assert main([*argv, "--missing", "mask"]) == 0
    got = _predict_csv(capsys.readouterr().out)
    model = models.load_model(trained / "m.keras")
    x = np.array([[1, 2], [0, 1]], np.float32)[:, :, None]  # a masked hole == dropped step
    np.testing.assert_allclose(got[0], model.predict(x[:1], verbose=0)[0], atol=1e-5)


def test_real_values_equal_to_the_mask_value_warn(trained, capsys):
    _write_csv(trained / "minus.csv", [[1, -1, 2]])
    assert main(["predict", str(trained / "m.keras"), str(trained / "minus.csv"),
                 "--no-labels"]) == 0
    err = capsys.readouterr().err
    assert "1 real time step(s)" in err and "--mask-value" in err


@pytest.mark.parametrize("kind", ["npy", "npz", "stdin"])
def test_every_format_gives_the_same_predictions(trained, kind, capsys):
    x = np.array([[[1.0], [0.0], [2.0]], [[2.0], [2.0], [2.0]]], np.float32)
    model = models.load_model(trained / "m.keras")
    expected = model.predict(x, verbose=0)
    if kind == "npy":
        np.save(trained / "x.npy", x)
        argv = ["predict", str(trained / "m.keras"), str(trained / "x.npy")]
        assert main(argv) == 0
        got = _predict_csv(capsys.readouterr().out)
    elif kind == "npz":
        np.savez(trained / "d.npz", x=x, y=np.array(["big", "small"]))
        argv = ["predict", str(trained / "m.keras"), str(trained / "d.npz")]
        assert main(argv) == 0
        got = _predict_csv(capsys.readouterr().out)
    else:
        proc = subprocess.run(
            [sys.executable, "-m", "unrolled.cli", "predict", str(trained / "m.keras"), "-",
             "--no-labels"], input="1,0,2\n2,2,2\n", capture_output=True, text=True,
            timeout=300, env=ENV)
        assert proc.returncode == 0, proc.stderr
        got = _predict_csv(proc.stdout)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_onnx_export_runs_any_length(trained, capsys):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime comes with the test extra")
    # the CLI's models mask padding: ONNX export needs the promise of right padding
    assert main(["convert", str(trained / "m.keras"), "--to", "onnx",
                 "--out", str(trained / "m.onnx")]) == 1
    assert "--assume-right-padding" in capsys.readouterr().err
    assert main(["convert", str(trained / "m.keras"), "--to", "onnx",
                 "--out", str(trained / "m.onnx"), "--assume-right-padding"]) == 0
    session = ort.InferenceSession(str(trained / "m.onnx"))
    model = models.load_model(trained / "m.keras")
    for steps in (2, 5, 13):
        x = np.random.default_rng(steps).integers(0, 3, size=(3, steps, 1)).astype(np.float32)
        got = session.run(None, {"x": x})[0]
        np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-5)


def test_regression_gets_a_linear_head_and_multilabel_a_sigmoid(tmp_path, capsys):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(24, 5, 2)).astype(np.float32)
    np.savez(tmp_path / "reg.npz", x=x, y=x.sum((1, 2)).astype(np.float64))
    assert main(["train", str(tmp_path / "reg.npz"), "--epochs", "1", "--verbose", "0",
                 "--out", str(tmp_path / "r.keras")]) == 0
    model = models.load_model(tmp_path / "r.keras")
    assert type(model.layers[-1]).__name__ == "Dense"
    assert model.layers[-1].get_config()["activation"] == "linear"
    assert type(model.loss).__name__ == "MeanSquaredError"
    assert main(["predict", str(tmp_path / "r.keras"), str(tmp_path / "reg.npz")]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    out = np.array([float(r.split(",")[1]) for r in printed[printed.index("index,y_0") + 1:]])
    assert out.std() > 0 and not np.all(out == 1.0)
    tags = (rng.random(size=(24, 3)) > 0.5).astype(np.float32)
    tags[0] = [1, 1, 0]  # at least one row with two labels: multi-label, not one-hot
    np.savez(tmp_path / "tags.npz", x=x, y=tags)
    assert main(["train", str(tmp_path / "tags.npz"), "--epochs", "1", "--verbose", "0",
                 "--out", str(tmp_path / "t.keras")]) == 0
    model = models.load_model(tmp_path / "t.keras")
    assert type(model.layers[-1]).__name__ == "Activation"
    assert model.layers[-1].get_config()["activation"] == "sigmoid"


def test_summary_before_epoch_one_and_keras_verbose_2(tmp_path, capsys):
    rng = np.random.default_rng(4)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(10, 4, 1)), y=np.arange(10) % 2)
    assert main(["train", str(tmp_path / "d.npz"), "--model", "lstm:2,dense,softmax",
                 "--epochs", "2", "--verbose", "2", "--out", str(tmp_path / "m.keras")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    first_epoch = lines.index("Epoch 1/2")
    assert any(line.startswith("data: ") and "10 sequences" in line
               for line in lines[:first_epoch])
    assert any("2 classes" in line for line in lines[:first_epoch])
    assert any("Total params" in line for line in lines[:first_epoch])
    epoch_line = lines[first_epoch + 1]
    assert epoch_line.startswith("1/1 - ") and "/step - loss: " in epoch_line
    assert "━" not in "\n".join(lines[first_epoch:]) and "\r" not in out


def test_nan_loss_is_one_line_and_exit_1(tmp_path, capsys):
    x = np.ones((8, 3, 1), np.float32)
    np.savez(tmp_path / "huge.npz", x=x, y=np.full(8, 3e38))
    code = main(["train", str(tmp_path / "huge.npz"), "--model", "lstm:2,dense",
                 "--epochs", "1", "--verbose", "0", "--out", str(tmp_path / "m.keras")])
    err = capsys.readouterr().err
    assert code == 1
    assert "NaN or infinite" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.keras").exists()


@pytest.mark.parametrize("out", ["missing_dir/m.keras", "m.h5", "."])
def test_outputs_checked_before_training(tmp_path, capsys, out):
    code = main(["train", "ItalyPowerDemand", "--epochs", "500",
                 "--out", str(tmp_path / out)])
    captured = capsys.readouterr()
    assert code == 2 and "--out" in captured.err
    assert "Epoch" not in captured.out and "data:" not in captured.out


def test_plots_without_matplotlib_refused_before_training(monkeypatch, capsys, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    monkeypatch.setattr("unrolled.cli.demo.time", None)  # training would need it: not reached
    assert main(["demo", "--plots", str(tmp_path / "p")]) == 2
    assert "unrolled[plot]" in capsys.readouterr().err


def test_written_files_follow_the_umask(trained, tmp_path):
    old = os.umask(0o022)
    try:
        assert main(["predict", str(trained / "m.keras"), "ItalyPowerDemand:test",
                     "--out", str(tmp_path / "p.csv")]) in (0, 1)
    finally:
        os.umask(old)
    if (tmp_path / "p.csv").exists():
        assert os.stat(tmp_path / "p.csv").st_mode & 0o777 == 0o644


def test_explain_step_and_trace_read_ts_files(trained, capsys):
    (trained / "d.ts").write_text("@problemName d\n@univariate true\n@classLabel true big small"
                                  "\n@data\n1,0,2,2:big\n2,2:small\n")
    assert main(["explain", str(trained / "m.keras"), "--step", "--data",
                 str(trained / "d.ts"), "--sample", "1", "--unit", "0"]) == 0
    assert "t=1" in capsys.readouterr().out.replace(" = ", "=")  # the last real step of 2
    out = trained / "trace_out"
    assert main(["trace", str(trained / "m.keras"), str(trained / "d.ts"), "--out",
                 str(out)]) == 0
    saved = np.load(out / "trace.npz")
    mask = saved["mask"]
    np.testing.assert_array_equal(mask, [[True] * 4, [True, True, False, False]])
