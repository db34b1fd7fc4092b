"""Every estimator against scikit-learn's own conformance suite, `check_estimator`.

One check is expected to fail for every estimator, documented here with its reason:
- check_estimators_unfitted asserts the exception *class* is `sklearn.exceptions.NotFittedError`.
  Library code may not import scikit-learn, so we raise our own `groundup.classic.NotFittedError`,
  which has the same bases (ValueError and AttributeError); `test_not_fitted_error_is_compatible`
  verifies every predict-like method raises it before fit.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils.estimator_checks import check_estimator

import groundup.classic as gc

pytestmark = pytest.mark.module("0.1")

EXPECTED_FAILURES = {
    "check_estimators_unfitted": "raises groundup.classic.NotFittedError (ValueError + AttributeError), "
    "not scikit-learn's class: library code does not import scikit-learn"
}


def make(cls):
    params = {"random_state": 0} if "random_state" in cls.param_names() else {}
    if cls is gc.RandomForestClassifier:
        params["n_estimators"] = 10
    return cls(**params)


@pytest.mark.parametrize("cls", gc.ESTIMATORS, ids=lambda c: c.__name__)
def test_check_estimator(cls):
    results = check_estimator(make(cls), expected_failed_checks=EXPECTED_FAILURES, on_fail=None)
    failed = [f"{r['check_name']}: {r['exception']!r}" for r in results if r["status"] == "failed"]
    assert not failed, "\n".join(failed)
    assert sum(r["status"] == "passed" for r in results) >= 35


@pytest.mark.parametrize("cls", gc.ESTIMATORS, ids=lambda c: c.__name__)
def test_not_fitted_error_is_compatible(cls):
    assert set(SklearnNotFittedError.__bases__) <= set(gc.NotFittedError.__mro__)
    X = np.random.RandomState(0).uniform(size=(6, 3))
    methods = ["predict", "predict_proba", "decision_function", "transform", "score_samples"]
    present = [m for m in methods if hasattr(cls, m)]
    assert present
    for method in present:
        with pytest.raises(gc.NotFittedError, match="not fitted yet"):
            getattr(make(cls), method)(X)
