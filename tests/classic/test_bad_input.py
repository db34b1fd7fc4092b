"""Bad input raises what scikit-learn raises, with a message naming the problem."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.cluster
import sklearn.decomposition
import sklearn.linear_model
import sklearn.naive_bayes
import sklearn.svm
import sklearn.tree

import groundup.classic as gc

pytestmark = pytest.mark.module("0.1")

PAIRS = [
    (gc.LinearRegression, sklearn.linear_model.LinearRegression),
    (gc.LogisticRegression, sklearn.linear_model.LogisticRegression),
    (gc.GaussianNB, sklearn.naive_bayes.GaussianNB),
    (gc.DecisionTreeClassifier, sklearn.tree.DecisionTreeClassifier),
    (gc.SVC, sklearn.svm.SVC),
    (gc.KMeans, sklearn.cluster.KMeans),
    (gc.PCA, sklearn.decomposition.PCA),
]
RNG = np.random.RandomState(0)
X = RNG.uniform(size=(20, 3))
Y = np.arange(20) % 2


def raised(fn) -> type[BaseException] | None:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - we compare exception types
        return type(exc)
    return None


def same_error(ours_fn, ref_fn, match: str):
    ref_type = raised(ref_fn)
    assert ref_type is not None
    with pytest.raises(Exception, match=match) as info:
        ours_fn()
    # the same type, or for NotFittedError a class with the same bases
    assert isinstance(info.value, ref_type) or set(ref_type.__bases__) <= set(type(info.value).__mro__)


def fitted(cls):
    model = cls(n_clusters=2, n_init=1) if cls in (gc.KMeans, sklearn.cluster.KMeans) else cls()
    return model.fit(X, Y)


@pytest.mark.parametrize("ours,ref", PAIRS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("bad,match", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_nan_and_inf_in_fit_and_predict(ours, ref, bad, match):
    Xbad = X.copy()
    Xbad[3, 1] = bad
    if ours is gc.DecisionTreeClassifier and bad is np.nan:
        # Documented difference: scikit-learn's trees route NaN as a missing value; ours refuse it.
        with pytest.raises(ValueError, match=match):
            ours().fit(Xbad, Y)
        return
    same_error(lambda: fitted_unfit(ours).fit(Xbad, Y), lambda: fitted_unfit(ref).fit(Xbad, Y), match)
    same_error(lambda: predict_like(fitted(ours), Xbad), lambda: predict_like(fitted(ref), Xbad), match)


def fitted_unfit(cls):
    return cls(n_clusters=2, n_init=1) if cls in (gc.KMeans, sklearn.cluster.KMeans) else cls()


def predict_like(model, data):
    return (
        model.transform(data)
        if hasattr(model, "transform") and not hasattr(model, "predict")
        else model.predict(data)
    )


@pytest.mark.parametrize("ours,ref", PAIRS[:5], ids=lambda c: c.__name__)
def test_mismatched_lengths(ours, ref):
    same_error(lambda: ours().fit(X, Y[:-1]), lambda: ref().fit(X, Y[:-1]), "inconsistent numbers of samples")


@pytest.mark.parametrize("ours,ref", PAIRS, ids=lambda c: c.__name__)
def test_wrong_number_of_features(ours, ref):
    same_error(
        lambda: predict_like(fitted(ours), X[:, :2]),
        lambda: predict_like(fitted(ref), X[:, :2]),
        "X has 2 features, but .* is expecting 3 features",
    )


@pytest.mark.parametrize("ours,ref", PAIRS, ids=lambda c: c.__name__)
def test_predict_before_fit(ours, ref):
    same_error(
        lambda: predict_like(fitted_unfit(ours), X), lambda: predict_like(fitted_unfit(ref), X), "not fitted"
    )


def test_one_dimensional_X_and_bad_params():
    with pytest.raises(ValueError, match="Reshape your data"):
        gc.Ridge().fit(np.arange(5.0), np.arange(5.0))
    with pytest.raises(ValueError, match="penalty"):
        gc.LogisticRegression(penalty="l3").fit(X, Y)
    with pytest.raises(ValueError, match="Unknown label type"):
        gc.GaussianNB().fit(X, X[:, 0])
    with pytest.raises(ValueError, match="Negative values"):
        gc.MultinomialNB().fit(X - 1, Y)
