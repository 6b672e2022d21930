"""unrolled.sklearn estimators.

Oracles: scikit-learn's full check_estimator (documented expected failures), real Keras 3
for the padding/masking of variable-length input (a padded batch through the fitted weights), and
invariants (pickling and cloning preserve predictions, the same seed gives the same model).
"""

import importlib.util
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from unrolled import datasets
from unrolled.sklearn import LSTMClassifier, LSTMRegressor

SMALL = {"units": 3, "epochs": 1, "random_state": 0}
CHECKS = Path(__file__).with_name("sklearn_full_checks.py")
SKIP_REASONS = ("pandas is not installed", "SCIPY_ARRAY_API is not set")


@pytest.mark.parametrize("name", ["LSTMClassifier", "LSTMRegressor"])
def test_scikit_learn_check_estimator_in_full(name, tmp_path):
    """Every check of `check_estimator` passes but the documented expected failures."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run([sys.executable, str(CHECKS), name, str(tmp_path / "cache")],
                          capture_output=True, text=True, timeout=1200, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(results) > 40  # the full list, not a subset
    failed = [r for r in results if r["status"] == "failed"]
    assert failed == [], failed
    skipped = [r for r in results if r["status"] == "skipped"]
    assert all(any(why in r["reason"] for why in SKIP_REASONS) for r in skipped), skipped
    expected = {r["check"] for r in results if r["status"] == "xfail"}
    assert expected <= set(_expected_failures()), expected


def _expected_failures():
    spec = importlib.util.spec_from_file_location("sklearn_full_checks", CHECKS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EXPECTED_FAILURES


@pytest.fixture(scope="module")
def italy():
    (x, y), (xt, yt) = datasets.load("ItalyPowerDemand")
    return x, y, xt, yt


def test_variable_length_sequences_are_padded_and_masked_like_keras(keras, rng):
    lengths = [6, 2, 4, 5]
    X = [rng.normal(size=(n, 2)).astype("float32") for n in lengths]
    y = np.array([0.5, -1.0, 2.0, 0.0])
    reg = LSTMRegressor(**SMALL).fit(X, y)
    k_model = keras.Sequential([keras.Input(shape=(None, 2)), keras.layers.Masking(0.0),
                                keras.layers.LSTM(3), keras.layers.Dense(1)])
    k_model.set_weights(reg.model_.get_weights())
    padded = keras.utils.pad_sequences(X, padding="post", dtype="float32")
    expected = np.asarray(k_model.predict(padded, verbose=0))[:, 0]
    np.testing.assert_allclose(reg.predict(X), expected, atol=1e-5)
    # each sequence alone (no padding at all) gives the same prediction as inside the batch
    alone = np.concatenate([reg.predict([s]) for s in X])
    np.testing.assert_allclose(alone, expected, atol=1e-5)


def test_classifier_learns_italy_power_demand_and_pickles(italy):
    x, y, xt, yt = italy
    clf = LSTMClassifier(units=8, epochs=40, learning_rate=0.01, batch_size=16, random_state=0)
    clf.fit(x, y)
    assert clf.score(xt, yt) > 0.85  # ~0.5 is chance; Keras reaches ~0.94 on this seed model
    proba = clf.predict_proba(xt)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(clf.predict(xt), clf.classes_[proba.argmax(1)])
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(xt), proba)


def test_pipeline_cross_val_score_and_grid_search(italy):
    x, y, _, _ = italy
    x2d = x[:, :, 0]  # 2D (N, T): univariate sequences, as tabular tools hand them over
    pipe = Pipeline([("scale", FunctionTransformer(lambda a: a / 4.0)),
                     ("lstm", LSTMClassifier(units=4, epochs=2, random_state=0))])
    scores = cross_val_score(pipe, x2d, y, cv=2)
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))
    grid = GridSearchCV(LSTMClassifier(units=4, epochs=3, random_state=0),
                        {"learning_rate": [1e-4, 0.05]}, cv=2).fit(x2d, y)
    assert grid.best_params_ == {"learning_rate": 0.05}  # 3 epochs at 1e-4 barely move
    assert set(grid.predict(x2d)) <= set(y)


def test_same_seed_same_model_and_clone_is_unfitted(rng):
    X = rng.normal(size=(6, 4, 2))
    y = np.array(["a", "b", "c"] * 2)
    first = LSTMClassifier(**SMALL).fit(X, y)
    second = LSTMClassifier(**SMALL).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    assert first.classes_.tolist() == ["a", "b", "c"]
    assert not hasattr(clone(first), "model_")


@pytest.mark.parametrize("make_x,message", [
    (lambda r: [r.normal(size=(3, 2)), r.normal(size=(4, 3))], "same F"),
    (lambda r: [r.normal(size=(3, 2)), np.full((2, 2), np.nan)], "NaN"),
    (lambda r: [r.normal(size=(3, 2)), np.zeros((0, 2))], "no time steps"),
])
def test_bad_sequences_are_refused(make_x, message, rng):
    with pytest.raises(ValueError, match=message):
        LSTMRegressor(**SMALL).fit(make_x(rng), [1.0, 2.0])


def test_wrong_feature_count_at_predict_is_refused(rng):
    reg = LSTMRegressor(**SMALL).fit(rng.normal(size=(4, 5, 2)), np.arange(4.0))
    with pytest.raises(ValueError, match="3 features per time step.*fitted with 2"):
        reg.predict(rng.normal(size=(2, 5, 3)))
    with pytest.raises(ValueError, match="one target per sequence"):
        LSTMRegressor(**SMALL).fit(rng.normal(size=(4, 5, 2)), np.arange(3.0))
