"""Metrics against keras.metrics on random data (oracle 1), statefully and inside fit."""

import numpy as np
import pytest

from conftest import assert_close
from unrolled import metrics


def stream(ours, theirs, batches):
    for y, p, sw in batches:
        ours.update_state(y, p, sample_weight=sw)
        theirs.update_state(y, p, sample_weight=sw)
    return ours.result(), np.asarray(theirs.result())


def random_batches(rng, shape=(20, 3), weighted=True, n=3):
    out = []
    for _ in range(n):
        y = (rng.uniform(size=shape) > 0.6).astype("float32")
        p = np.clip(y * 0.3 + rng.uniform(size=shape) * 0.7, 0, 1).astype("float32")
        p[0, 0], p[1, 0] = 0.0, 1.0  # exact end points
        sw = rng.uniform(0, 2, shape[0]).astype("float32") if weighted else None
        out.append((y, p, sw))
    return out


@pytest.mark.parametrize("kwargs", [
    {}, {"curve": "PR"}, {"num_thresholds": 7}, {"summation_method": "minoring"},
    {"curve": "PR", "summation_method": "majoring"}, {"thresholds": [0.1, 0.35, 0.8]},
    {"from_logits": True},
], ids=["roc", "pr", "n7", "minoring", "pr-majoring", "explicit", "logits"])
def test_auc(keras, rng, kwargs):
    batches = random_batches(rng)
    if kwargs.get("from_logits"):
        batches = [(y, (p - 0.5) * 8, sw) for y, p, sw in batches]
    got, want = stream(metrics.AUC(**kwargs), keras.metrics.AUC(**kwargs), batches)
    assert_close(got, want)


@pytest.mark.parametrize("cls", ["Precision", "Recall"])
@pytest.mark.parametrize("kwargs", [{}, {"thresholds": 0.3}, {"thresholds": [0.2, 0.5, 0.9]},
                                    {"class_id": 1}])
def test_precision_recall(keras, rng, cls, kwargs):
    got, want = stream(getattr(metrics, cls)(**kwargs), getattr(keras.metrics, cls)(**kwargs),
                       random_batches(rng))
    assert_close(got, want)


@pytest.mark.parametrize("cls", ["MeanAbsoluteError", "MeanSquaredError",
                                 "SparseCategoricalAccuracy"])
def test_mean_metrics(keras, rng, cls):
    batches = []
    for _ in range(3):
        p = rng.uniform(size=(10, 4)).astype("float32")
        y = (rng.integers(0, 4, (10, 1)) if cls == "SparseCategoricalAccuracy"
             else rng.normal(size=(10, 4))).astype("float32")
        batches.append((y, p, rng.uniform(0, 2, 10).astype("float32")))
    got, want = stream(getattr(metrics, cls)(), getattr(keras.metrics, cls)(), batches)
    assert_close(got, want)


def test_metrics_inside_fit_match_keras(keras, make_pair, fit_both, data):
    """AUC, Precision, Recall and 'mae' by name inside the jitted step, with a partial batch."""
    x, y, _ = data
    x, y = x[:13], y[:13]  # 13 samples, batch 8: the last batch is padded
    names = ["auc", "precision", "recall", "mae"]
    u_model, k_model = make_pair([("LSTM", {"units": 3}), ("Dense", {"units": 3}),
                                  ("Activation", {"activation": "softmax"})])
    u_model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=names)
    k_model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=names)
    h_u, h_k, _ = fit_both(u_model, k_model, x, y, validation_data=(x[:5], y[:5]))
    assert set(h_u.history) == set(h_k.history)
    for key, values in h_k.history.items():
        assert_close(h_u.history[key], values, err_msg=key)


def test_reset_and_pure_api(rng):
    m = metrics.AUC(num_thresholds=5)
    y, p, _ = random_batches(rng, n=1)[0]
    state = m.update(m.init(), y, p)
    m.update_state(y, p)
    assert_close(m.result_of(state), m.result())
    m.reset_state()
    assert m.result() == 0.0


@pytest.mark.parametrize("call, match", [
    (lambda: metrics.get("f1"), r"Unknown metric 'f1'.*'auc'"),
    (lambda: metrics.AUC(num_thresholds=1), "num_thresholds"),
    (lambda: metrics.AUC(curve="XY"), "curve"),
    (lambda: metrics.AUC(multi_label=True), "multi_label"),
    (lambda: metrics.Precision(thresholds=1.5), "thresholds"),
    (lambda: metrics.Recall(top_k=2), "top_k"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
