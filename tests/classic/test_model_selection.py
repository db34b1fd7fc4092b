"""Splitters, cross-validation and grid search against scikit-learn's, and our estimators inside
scikit-learn's Pipeline, cross_val_score and GridSearchCV."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import model_selection as skms
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler as SkStandardScaler

import groundup.classic as gc
from groundup.classic import model_selection as ms

pytestmark = pytest.mark.module("0.1")


@pytest.mark.parametrize("n,k", [(10, 3), (150, 5), (7, 7)])
def test_kfold_equals_sklearn(n, k):
    X = np.zeros((n, 1))
    for ours, ref in zip(ms.KFold(k).split(X), skms.KFold(k).split(X)):
        np.testing.assert_array_equal(ours[0], ref[0])
        np.testing.assert_array_equal(ours[1], ref[1])


def test_kfold_shuffled_is_a_partition():
    folds = [test for _, test in ms.KFold(4, shuffle=True, random_state=1).split(np.zeros((23, 1)))]
    np.testing.assert_array_equal(np.sort(np.concatenate(folds)), np.arange(23))
    assert sorted(len(f) for f in folds) == [5, 6, 6, 6]


def test_stratified_kfold_keeps_class_proportions(tables):
    X, y = tables["wine"]
    for shuffle in (False, True):
        seen = []
        for train, test in ms.StratifiedKFold(5, shuffle=shuffle, random_state=0).split(X, y):
            assert len(np.intersect1d(train, test)) == 0
            seen.append(test)
            for label in np.unique(y):
                share, fold_share = np.mean(y == label), np.mean(y[test] == label)
                assert abs(share - fold_share) < 0.06
        np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.arange(len(y)))


def test_train_test_split(tables):
    X, y = tables["iris"]
    Xtr, Xte, ytr, yte = ms.train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    assert len(Xte) == 30 and len(Xtr) == 120
    np.testing.assert_array_equal(np.bincount(yte), [10, 10, 10])
    refs = skms.train_test_split(X, y, test_size=0.2, random_state=0)
    assert [len(a) for a in ms.train_test_split(X, y, test_size=0.2, random_state=0)] == [
        len(a) for a in refs
    ]
    with pytest.raises(ValueError, match="same length"):
        ms.train_test_split(X, y[:-1])


def test_cross_val_score_equals_sklearn(scaled_tables):
    X, y = scaled_tables["wine"]
    folds = list(skms.StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    model = gc.LogisticRegression(C=0.3)
    np.testing.assert_allclose(
        ms.cross_val_score(model, X, y, cv=folds), skms.cross_val_score(model, X, y, cv=folds), atol=1e-12
    )
    ours = ms.cross_val_score(gc.Ridge(1.0), X[:, 1:], X[:, 0], cv=5, scoring="neg_mean_squared_error")
    ref = skms.cross_val_score(gc.Ridge(1.0), X[:, 1:], X[:, 0], cv=5, scoring="neg_mean_squared_error")
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_grid_search_equals_sklearn(scaled_tables):
    X, y = scaled_tables["iris"]
    grid = {"n_neighbors": [1, 5, 15], "weights": ["uniform", "distance"]}
    folds = list(skms.StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    ours = ms.GridSearchCV(gc.KNeighborsClassifier(), grid, cv=folds).fit(X, y)
    ref = skms.GridSearchCV(gc.KNeighborsClassifier(), grid, cv=folds).fit(X, y)
    assert ours.best_params_ == ref.best_params_
    assert ours.best_score_ == pytest.approx(ref.best_score_, abs=1e-12)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"], atol=1e-12
    )
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


def test_inside_sklearn_pipeline_and_search(tables):
    X, y = tables["breast_cancer"]
    pipe = make_pipeline(SkStandardScaler(), gc.PCA(5), gc.LogisticRegression())
    scores = skms.cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.9
    search = skms.GridSearchCV(pipe, {"pca__n_components": [2, 8], "logisticregression__C": [0.1, 1.0]}, cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.9
    ours = make_pipeline(gc.StandardScaler(), gc.SVC(kernel="rbf"))
    assert skms.cross_val_score(ours, X, y, cv=3).mean() > 0.9


def test_clone_and_params_roundtrip():
    model = gc.GaussianMixture(3, covariance_type="diag", random_state=1)
    copy = gc.clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    copy.set_params(n_components=5)
    assert model.n_components == 3 and copy.n_components == 5
    with pytest.raises(ValueError, match="invalid parameter"):
        model.set_params(components=2)
    search = ms.GridSearchCV(gc.Ridge(), {"alpha": [1.0]})
    assert search.get_params()["estimator__alpha"] == 1.0
