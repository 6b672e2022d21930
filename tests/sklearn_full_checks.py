"""Run scikit-learn's full `check_estimator` on one unrolled estimator; print JSON results.

Used by tests/test_sklearn.py in a subprocess: the subprocess turns JAX's persistent compilation
cache on (in a temporary folder), which makes the ~100 small fits of the checks affordable
without changing JAX's configuration in the test process.

Usage: python sklearn_full_checks.py CLASS_NAME CACHE_DIR
"""

import json
import sys
import warnings

from sklearn.utils.estimator_checks import check_estimator

from unrolled import sklearn as unrolled_sklearn
from unrolled.utils import enable_compile_cache

# What fails, and why; test_sklearn.py asserts these fail and everything else passes.
WHY_TRAINING_DIFFERS = (
    "a few epochs of minibatch Adam on features read as time steps do not reach the accuracy "
    "the check demands of tabular models")
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "as in Keras, a sample weight scales that sample's loss within its batch "
        "(sum_over_batch_size); repeating or removing samples changes the batches and "
        "Adam's steps, so weighting is not equivalent to repetition"),
    "check_classifiers_train": WHY_TRAINING_DIFFERS,
    "check_regressors_train": WHY_TRAINING_DIFFERS,
    "check_class_weight_classifiers": WHY_TRAINING_DIFFERS,
}


def main(name: str, cache: str) -> None:
    enable_compile_cache(cache, min_compile_time_secs=0)
    estimator = getattr(unrolled_sklearn, name)(units=2, epochs=1, random_state=0)
    expected = {k: v for k, v in EXPECTED_FAILURES.items()
                if not (name == "LSTMRegressor" and "classifier" in k)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, expected_failed_checks=expected, on_fail=None,
                                  on_skip=None)
    print(json.dumps([{"check": r["check_name"], "status": r["status"],
                       "reason": str(r["exception"] or r.get("expected_to_fail_reason") or "")
                       [:400]} for r in results]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
