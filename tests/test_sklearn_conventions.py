"""unrolled.sklearn in scikeras's conventions: model=, routing, fit options, state, outputs.

Oracles: invariants (the global RNGs' states before and after, a warm start continues from the
fitted weights, a zero sample weight equals dropping the sample, the routed value reaches the
built model) and scikit-learn's own helpers (compute_class_weight).
"""

import pickle
import random

import numpy as np
import pytest
from sklearn.base import clone

from unrolled import callbacks, layers, models
from unrolled.sklearn import LSTMClassifier, LSTMRegressor

TINY = {"units": 2, "epochs": 1, "random_state": 0}


@pytest.fixture
def data():
    r = np.random.default_rng(7)
    x = r.normal(size=(12, 4, 2)).astype(np.float32)
    return x, x.sum((1, 2)), np.array(["a", "b", "c"] * 4)


def test_global_random_state_untouched(data):
    x, y, labels = data
    np.random.seed(123)
    random.seed(123)
    before_np, before_py = np.random.get_state()[1].copy(), random.getstate()
    LSTMClassifier(**TINY).fit(x, labels)
    LSTMRegressor(units=2, epochs=1, random_state=None).fit(x, y)
    np.testing.assert_array_equal(np.random.get_state()[1], before_np)
    assert random.getstate() == before_py


def test_outputs_are_float64(data):
    x, y, labels = data
    assert LSTMRegressor(**TINY).fit(x, y).predict(x).dtype == np.float64
    assert LSTMRegressor(**TINY).fit(x, np.c_[y, -y]).predict(x).dtype == np.float64
    assert LSTMClassifier(**TINY).fit(x, labels).predict_proba(x).dtype == np.float64


def test_model_function_with_routed_parameters_and_meta(data):
    x, _, labels = data
    seen = {}

    def build(hidden, n_features_in_, n_classes_, meta):
        seen.update(hidden=hidden, features=n_features_in_, classes=n_classes_, meta=meta)
        return models.Sequential([layers.Input(shape=(None, n_features_in_)),
                                  layers.GRU(hidden), layers.Dense(n_classes_),
                                  layers.Activation("softmax")])

    clf = LSTMClassifier(model=build, model__hidden=3, epochs=1, random_state=0)
    assert clf.get_params()["model__hidden"] == 3
    clf.set_params(model__hidden=5)
    clf.fit(x, labels)
    assert seen["hidden"] == 5 and seen["features"] == 2 and seen["classes"] == 3
    assert type(clf.model_.layers[0]).__name__ == "GRU" and clf.model_.layers[0].units == 5
    cloned = clone(clf)
    assert cloned.get_params()["model__hidden"] == 5 and not hasattr(cloned, "model_")


def test_model_instance_is_copied_with_fresh_weights(data):
    x, y, _ = data
    template = models.Sequential([layers.Input(shape=(None, 2)), layers.LSTM(3),
                                  layers.Dense(1)])
    before = [w.copy() for w in template.get_weights()]
    reg = LSTMRegressor(model=template, epochs=1, random_state=0).fit(x, y)
    assert reg.model_ is not template
    for a, b in zip(before, template.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # the user's model is not trained in place
    assert [w.shape for w in reg.model_.get_weights()] == [w.shape for w in before]


def test_default_units_routed(data):
    x, y, _ = data
    reg = LSTMRegressor(model__units=5, epochs=1, random_state=0).fit(x, y)
    assert reg.model_.layers[1].units == 5


def test_unknown_keyword_is_refused_at_fit(data):
    x, y, _ = data
    reg = LSTMRegressor(nonsense=1)  # scikit-learn: no validation in __init__
    with pytest.raises(TypeError, match="routed parameters"):
        reg.fit(x, y)


def test_history_callbacks_validation_split_and_warm_start(data):
    x, y, _ = data
    seen = []
    log = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    reg = LSTMRegressor(units=2, epochs=2, random_state=0, callbacks=[log],
                        validation_split=0.25, warm_start=True)
    reg.fit(x, y)
    assert seen == [0, 1]
    assert len(reg.history_["loss"]) == 2 and len(reg.history_["val_loss"]) == 2
    weights = [w.copy() for w in reg.model_.get_weights()]
    model = reg.model_
    reg.fit(x, y)
    assert reg.model_ is model and len(reg.history_["loss"]) == 4  # continued, not restarted
    assert any(not np.array_equal(a, b) for a, b in zip(weights, model.get_weights(),
                                                         strict=True))
    cold = LSTMRegressor(units=2, epochs=2, random_state=0).fit(x, y)
    first = cold.model_
    cold.fit(x, y)
    assert cold.model_ is not first and len(cold.history_["loss"]) == 2


def test_sample_weight_reaches_fit_and_changes_the_model(data, monkeypatch):
    x, y, _ = data
    weights = np.linspace(0.0, 3.0, len(x))
    captured = {}
    original = models.Sequential.fit

    def spy(self, *args, **kwargs):
        captured["sw"] = kwargs.get("sample_weight")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(models.Sequential, "fit", spy)
    kw = {"units": 2, "epochs": 2, "random_state": 0, "learning_rate": 0.05}
    weighted = LSTMRegressor(**kw).fit(x, y, sample_weight=weights)
    np.testing.assert_allclose(captured["sw"], weights, rtol=1e-6)
    plain = LSTMRegressor(**kw).fit(x, y)
    assert not np.allclose(weighted.predict(x), plain.predict(x))


def test_class_weight_balanced_matches_sklearn(data, monkeypatch):
    from sklearn.utils.class_weight import compute_class_weight

    x, _, _ = data
    labels = np.array(["a"] * 9 + ["b"] * 3)
    captured = {}
    original = models.Sequential.fit

    def spy(self, *args, **kwargs):
        captured["sw"] = kwargs.get("sample_weight")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(models.Sequential, "fit", spy)
    LSTMClassifier(units=2, epochs=1, random_state=0, class_weight="balanced").fit(x, labels)
    expected = compute_class_weight("balanced", classes=np.array(["a", "b"]), y=labels)
    np.testing.assert_allclose(captured["sw"], expected[(labels == "b").astype(int)])


def test_pickled_function_model_predicts_the_same(data):
    x, _, labels = data

    clf = LSTMClassifier(**TINY).fit(x, labels)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(x), clf.predict_proba(x))
