"""Splitting data and choosing hyperparameters: KFold, StratifiedKFold, train_test_split,
cross_val_score and GridSearchCV.

Every estimator is refitted on each training fold from a fresh `clone`, so no fold sees another's
state. KFold without shuffling gives contiguous folds whose sizes differ by at most one, the first
n % k folds one sample larger -- the same folds scikit-learn makes.
"""

from __future__ import annotations

import itertools
import numbers

import numpy as np

from groundup.classic import metrics
from groundup.classic.base import BaseEstimator, clone
from groundup.classic.validation import check_random_state


class KFold:
    """k contiguous folds (after an optional shuffle); each is the test set once."""

    def __init__(self, n_splits=5, shuffle=False, random_state=None):
        if not isinstance(n_splits, numbers.Integral) or n_splits < 2:
            raise ValueError(f"n_splits must be an integer >= 2, got {n_splits!r}")
        self.n_splits, self.shuffle, self.random_state = n_splits, shuffle, random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits

    def test_folds(self, n: int, y=None) -> list[np.ndarray]:
        order = np.arange(n)
        if self.shuffle:
            check_random_state(self.random_state).shuffle(order)
        sizes = np.full(self.n_splits, n // self.n_splits)
        sizes[: n % self.n_splits] += 1
        return np.split(order, np.cumsum(sizes)[:-1])

    def split(self, X, y=None, groups=None):
        n = len(X)
        if n < self.n_splits:
            raise ValueError(f"cannot split {n} samples into n_splits={self.n_splits} folds; lower n_splits")
        for test in self.test_folds(n, y):
            mask = np.ones(n, bool)
            mask[test] = False
            yield np.flatnonzero(mask), np.sort(test)


class StratifiedKFold(KFold):
    """Folds that keep each class's proportion: every class is dealt round-robin across the folds."""

    def test_folds(self, n: int, y=None) -> list[np.ndarray]:
        if y is None:
            raise ValueError("StratifiedKFold needs y to stratify on; pass split(X, y)")
        y = np.asarray(y)
        rng = check_random_state(self.random_state) if self.shuffle else None
        fold_of = np.empty(n, dtype=np.int64)
        offset = 0
        for label in np.unique(y):
            members = np.flatnonzero(y == label)
            if rng is not None:
                members = rng.permutation(members)
            # continue the round-robin where the previous class stopped, so folds stay balanced in size
            fold_of[members] = (offset + np.arange(len(members))) % self.n_splits
            offset += len(members)
        return [np.flatnonzero(fold_of == k) for k in range(self.n_splits)]


def train_test_split(*arrays, test_size=0.25, random_state=None, shuffle=True, stratify=None):
    """Split arrays into train and test parts: returns [a_train, a_test, b_train, b_test, ...]."""
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"all arrays must have the same length; got {[len(a) for a in arrays]}")
    n_test = int(np.ceil(test_size * n)) if isinstance(test_size, float) else int(test_size)
    if not 0 < n_test < n:
        raise ValueError(f"test_size={test_size!r} leaves an empty train or test set for {n} samples")
    rng = check_random_state(random_state)
    if stratify is not None:
        y = np.asarray(stratify)
        test = []
        for label in np.unique(y):  # each class contributes its share to the test set
            members = np.flatnonzero(y == label)
            members = rng.permutation(members) if shuffle else members
            test.append(members[: int(round(n_test * len(members) / n))])
        test = np.concatenate(test)
    else:
        order = rng.permutation(n) if shuffle else np.arange(n)
        test = order[n - n_test :] if not shuffle else order[:n_test]
    mask = np.ones(n, bool)
    mask[test] = False
    train, test = np.flatnonzero(mask), np.sort(test)
    if shuffle:
        train = rng.permutation(train)
        test = rng.permutation(test)
    out = []
    for a in arrays:
        a = np.asarray(a)
        out += [a[train], a[test]]
    return out


SCORERS = {
    "accuracy": lambda y, yhat: metrics.accuracy_score(y, yhat),
    "f1_macro": lambda y, yhat: metrics.f1_score(y, yhat, average="macro"),
    "r2": lambda y, yhat: metrics.r2_score(y, yhat),
    "neg_mean_squared_error": lambda y, yhat: -metrics.mean_squared_error(y, yhat),
    "neg_mean_absolute_error": lambda y, yhat: -metrics.mean_absolute_error(y, yhat),
}


def get_scorer(scoring):
    """A callable (estimator, X, y) -> float: None means the estimator's own `score`."""
    if scoring is None:
        return lambda est, X, y: est.score(X, y)
    if callable(scoring):
        return scoring
    if scoring not in SCORERS:
        raise ValueError(f"unknown scoring {scoring!r}; choose one of {sorted(SCORERS)} or pass a callable")
    metric = SCORERS[scoring]
    return lambda est, X, y: metric(y, est.predict(X))


def is_classifier(estimator) -> bool:
    """Ours say so in `tag_overrides` (no scikit-learn import); others, e.g. scikit-learn's, in their tags."""
    if hasattr(estimator, "tag_overrides"):
        return estimator.tag_overrides().get("estimator_type") == "classifier"
    try:
        return estimator.__sklearn_tags__().estimator_type == "classifier"
    except AttributeError:
        return False


def check_cv(cv, y=None, classifier: bool = False):
    """An int becomes (Stratified)KFold; a splitter or a list of (train, test) pairs passes through."""
    if cv is None:
        cv = 5
    if isinstance(cv, numbers.Integral):
        return StratifiedKFold(cv) if classifier and y is not None else KFold(cv)
    if hasattr(cv, "split"):
        return cv
    return FixedSplits(list(cv))


class FixedSplits:
    def __init__(self, splits):
        self.splits = splits

    def split(self, X, y=None, groups=None):
        return iter(self.splits)


def cross_val_score(estimator, X, y=None, *, cv=None, scoring=None) -> np.ndarray:
    """Score of a fresh clone of `estimator` on each test fold, fitted on the rest."""
    X = np.asarray(X)
    y = None if y is None else np.asarray(y)
    scorer = get_scorer(scoring)
    scores = []
    for train, test in check_cv(cv, y, is_classifier(estimator)).split(X, y):
        model = clone(estimator).fit(X[train], None if y is None else y[train])
        scores.append(scorer(model, X[test], None if y is None else y[test]))
    return np.array(scores)


def parameter_grid(param_grid) -> list[dict]:
    """Every combination of the listed values; a list of grids is the union of their combinations."""
    grids = [param_grid] if isinstance(param_grid, dict) else list(param_grid)
    out = []
    for grid in grids:
        names = sorted(grid)
        for values in itertools.product(*(grid[name] for name in names)):
            out.append(dict(zip(names, values)))
    return out


class GridSearchCV(BaseEstimator):
    """Cross-validate every parameter combination, keep the best and refit it on all the data."""

    def __init__(self, estimator, param_grid, *, scoring=None, cv=None, refit=True):
        self.estimator = estimator
        self.param_grid = param_grid
        self.scoring = scoring
        self.cv = cv
        self.refit = refit

    def fit(self, X, y=None):
        X = np.asarray(X)
        candidates = parameter_grid(self.param_grid)
        if not candidates:
            raise ValueError("param_grid is empty; give at least one parameter with one value")
        splits = list(check_cv(self.cv, y, is_classifier(self.estimator)).split(X, y))
        all_scores = np.array(
            [
                cross_val_score(
                    clone(self.estimator).set_params(**params), X, y, cv=splits, scoring=self.scoring
                )
                for params in candidates
            ]
        )  # (candidates, folds)
        means = all_scores.mean(axis=1)
        ranks = np.empty(len(means), dtype=np.int64)
        ranks[np.argsort(-means, kind="stable")] = np.arange(1, len(means) + 1)
        self.cv_results_ = {
            "params": candidates,
            "mean_test_score": means,
            "std_test_score": all_scores.std(axis=1),
            "rank_test_score": ranks,
            **{f"split{k}_test_score": all_scores[:, k] for k in range(all_scores.shape[1])},
        }
        self.best_index_ = int(np.argmax(means))
        self.best_params_ = candidates[self.best_index_]
        self.best_score_ = float(means[self.best_index_])
        self.n_splits_ = len(splits)
        if self.refit:
            self.best_estimator_ = clone(self.estimator).set_params(**self.best_params_).fit(X, y)
            self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        return self.best_estimator_.predict(X)

    def predict_proba(self, X):
        return self.best_estimator_.predict_proba(X)

    def score(self, X, y=None):
        return get_scorer(self.scoring)(self.best_estimator_, X, y)
