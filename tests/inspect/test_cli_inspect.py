"""``unrolled explain`` and ``unrolled trace`` run end to end on a saved model file."""

import numpy as np
import pytest
from inspect_helpers import masked_batch, randomize

from unrolled import inspect, layers, models
from unrolled.cli import main
from unrolled.cli.inspect_cmds import explain_model


@pytest.fixture(scope="module")
def files(tmp_path_factory, clear_sessions):
    clear_sessions()
    tmp = tmp_path_factory.mktemp("cli")
    model = models.Sequential([layers.Input(shape=(5, 1)), layers.Masking(0.0), layers.LSTM(3),
                               layers.Dense(2)])
    randomize(model)
    model.save(str(tmp / "m.keras"))
    dense = models.Sequential([layers.Input(shape=(5, 1)), layers.Dense(2)])
    dense.save(str(tmp / "dense.keras"))
    x = masked_batch(np.random.default_rng(0), 3, 5, 1)
    np.save(tmp / "x.npy", x)
    return tmp, model, x


def test_explain_file(files, capsys):
    tmp, model, _ = files
    assert main(["explain", str(tmp / "m.keras")]) == 0
    assert capsys.readouterr().out.strip() == inspect.explain(model).replace(
        f"Model {model.name!r}", f"Model {models.load_model(str(tmp / 'm.keras')).name!r}")


def test_explain_step(files, capsys):
    tmp, model, x = files
    argv = ["explain", str(tmp / "m.keras"), "--step", "--data", str(tmp / "x.npy"),
            "--sample", "1", "--t", "3", "--unit", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    step = inspect.step_by_step(model, x, sample=1, t=3, unit=2)
    assert f"{step.h_computed:.6f}" in out and "sample 1, time step t=3, cell j=2" in out
    assert explain_model(model, True, x, 1, 3, 2).strip() == out.strip()


def test_explain_plot_draws_the_cell(files, tmp_path, capsys):
    tmp, model, _ = files
    out = tmp_path / "cell.svg"
    assert main(["explain", str(tmp / "m.keras"), "--plot", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "16 one-cell memory blocks" not in printed and "3 one-cell memory blocks" in printed
    assert f"wrote {out}" in printed
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "(1, 12)" in svg and "(3, 12)" in svg


def test_trace_writes_files(files, tmp_path, capsys):
    tmp, model, x = files
    out = tmp_path / "trace"
    assert main(["trace", str(tmp / "m.keras"), str(tmp / "x.npy"), "--sample", "2", "--out",
                 str(out), "--lstmvis"]) == 0
    for name in ("architecture.png", "cell.png", "gates_sample2.png", "units_sample2.png",
                 "trace.npz",
                 "lstmvis/lstm.yml", "lstmvis/states.hdf5"):
        assert (out / name).exists(), name
    saved = np.load(out / "trace.npz")
    np.testing.assert_allclose(saved["gate_forget_gate"], inspect.trace(model, x).forget_gate,
                               atol=1e-6)


@pytest.mark.parametrize("argv, message, code", [
    (["explain", "missing.keras"], "No model file at 'missing.keras'", 2),
    (["explain", "{tmp}/dense.keras"], "no recurrent layer", 1),
    (["explain", "{tmp}/m.keras", "--step"], "pass --data", 2),
    (["trace", "{tmp}/m.keras", "{tmp}/x.npy", "--sample", "7", "--out", "{tmp}/o"],
     "--sample=7 is out of range", 1),
    (["explain", "{tmp}/m.keras", "--step", "--data", "NoSuchDataset"], "NoSuchDataset", 2),
])
def test_bad_input_is_a_clear_error(files, capsys, argv, message, code):
    tmp = files[0]
    assert main([a.format(tmp=tmp) for a in argv]) == code
    assert message in capsys.readouterr().err


def test_demo_plots(tmp_path):
    from unrolled.cli.demo import write_plots

    model = models.Sequential([layers.Input(shape=(5, 1)), layers.Masking(0.0), layers.LSTM(3),
                               layers.Dense(2, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    x = masked_batch(np.random.default_rng(0), 3, 5, 1)
    paths = write_plots(model, x, np.eye(2, dtype="float32")[[0, 1, 0]], tmp_path)
    for path in paths:
        with open(path, "rb") as f:
            assert f.read(4) == b"\x89PNG"
