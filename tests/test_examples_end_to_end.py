"""Each end-to-end example runs, small and quick, and reaches what its docstring promises.

Oracles: the data's own labels and targets (accuracy above chance, error below the mean's),
onnxruntime against `Model.predict`, and the files the CLI example writes.
"""

import importlib.util
import pathlib

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_csv_classification_runs_the_cli_on_own_files(tmp_path):
    accuracy = _load("csv_classification").main(epochs=8, out=str(tmp_path))
    assert accuracy > 0.6  # two balanced classes: 0.5 is chance
    rows = (tmp_path / "predictions.csv").read_text().strip().splitlines()
    assert rows[0].startswith("index,prediction,p_summer,p_winter") and len(rows) == 11


def test_regression_beats_the_mean_with_a_linear_head():
    result = _load("regression").main(epochs=6)
    assert result["mae"] < result["baseline_mae"]
    assert result["prediction_std"] > 0.1  # not a constant (a squashed head would be ~1)


def test_inspection_example():
    result = _load("inspection").main(epochs=2)
    tr = result["trace"]
    assert tr.forget_gate.shape == (4, 24, 8)
    assert np.all((tr.forget_gate > 0) & (tr.forget_gate < 1))
    assert "LSTM" in result["explain"]


def test_sklearn_pipeline_example():
    result = _load("sklearn_pipeline").main(epochs=3, cv=2)
    assert result["cv_scores"].shape == (2,)
    assert result["best_params"]["lstm__model__units"] in (2, 8)
    assert 0.0 <= result["test_accuracy"] <= 1.0


def test_onnx_deployment_example(tmp_path):
    pytest.importorskip("onnxruntime", reason="onnxruntime comes with the test extra")
    result = _load("onnx_deployment").main(epochs=3, out=str(tmp_path / "m.onnx"))
    assert result["max_difference"] < 1e-4
    assert result["onnx_accuracy"] > 1 / 9
