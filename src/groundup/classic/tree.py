"""CART decision trees: greedy binary splits `x_j <= t` chosen to reduce impurity the most.

Impurity of a node with class fractions p: gini 1 - sum_k p_k^2, entropy -sum_k p_k log2 p_k;
for regression the variance of y (squared error). A split is scored by the children's impurities
weighted by their sizes. For each candidate feature we sort the node's samples once and get every
threshold's children statistics from cumulative sums (vectorized over thresholds and features),
so a node costs O(m f log m) in NumPy instead of a Python loop over thresholds.
feature_importances_ sums, per feature, the weighted impurity decrease of its splits, normalized.
"""

from __future__ import annotations

import numbers

import numpy as np

from groundup.classic.base import BaseEstimator, ClassifierMixin, RegressorMixin
from groundup.classic.validation import (
    check_choice,
    check_features,
    check_random_state,
    check_X_y,
    encode_labels,
)


def children_scores(stats: np.ndarray, criterion: str):
    """Weighted impurity of the left and right children for every split position.

    stats: (m, f, s) node statistics summed over the first i+1 sorted samples (class counts for
    classification, [1, y, y^2] for regression). Returns (m-1, f) of n_l imp_l + n_r imp_r.
    """
    total = stats[-1]  # (f, s)
    left = stats[:-1]  # (m-1, f, s)
    if criterion == "squared_error":  # SSE = sum y^2 - (sum y)^2 / n per child
        right = total[None] - left
        return sum(side[..., 2] - side[..., 1] ** 2 / side[..., 0] for side in (left, right))
    n_left = left.sum(axis=2)  # (m-1, f)
    n_right = total.sum(axis=1)[None] - n_left
    if criterion == "gini":  # n imp = n - sum_k c_k^2 / n; expand sum (T - L)^2 to skip the right array
        left_sq = np.einsum("ijk,ijk->ij", left, left)
        right_sq = (total**2).sum(axis=1)[None] - 2 * np.einsum("ijk,jk->ij", left, total) + left_sq
        return n_left - left_sq / n_left + n_right - right_sq / n_right
    right = total[None] - left
    return node_impurity_sum(left, n_left, criterion) + node_impurity_sum(right, n_right, criterion)


def node_impurity_sum(counts: np.ndarray, n: np.ndarray, criterion: str) -> np.ndarray:
    """n * impurity for nodes given their class counts (..., K) and sizes (...)."""
    if criterion == "gini":
        return n - (counts**2).sum(axis=-1) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(counts > 0, counts * np.log2(counts / n[..., None]), 0.0)
    return -plogp.sum(axis=-1)


class TreeBuilder:
    """Grows one tree depth-first into flat arrays (feature, threshold, left, right, value)."""

    def __init__(self, X, targets, criterion, max_depth, min_split, min_leaf, n_try, rng):
        self.X, self.targets, self.criterion = X, targets, criterion  # targets: (n, s) stats per sample
        self.max_depth, self.min_split, self.min_leaf = max_depth, min_split, min_leaf
        self.n_try, self.rng = n_try, rng
        self.feature, self.threshold, self.left, self.right, self.value = [], [], [], [], []
        self.importances = np.zeros(X.shape[1])

    def impurity_sum(self, stats: np.ndarray) -> float:
        """n * impurity of a node from its summed statistics."""
        if self.criterion == "squared_error":
            return float(stats[2] - stats[1] ** 2 / stats[0])
        return float(node_impurity_sum(stats, stats.sum(), self.criterion))

    def add_node(self, stats: np.ndarray) -> int:
        value = stats[1:2] / stats[0] if self.criterion == "squared_error" else stats / stats.sum()
        self.feature.append(-1)
        self.threshold.append(0.0)
        self.left.append(-1)
        self.right.append(-1)
        self.value.append(value)
        return len(self.value) - 1

    def build(self) -> None:
        everything = np.arange(len(self.X))
        stats = self.targets.sum(axis=0)
        stack = [(everything, stats, 0, self.add_node(stats))]
        while stack:
            idx, stats, depth, node = stack.pop()
            impurity = self.impurity_sum(stats)
            m = len(idx)
            if (
                (self.max_depth is not None and depth >= self.max_depth)
                or m < self.min_split
                or m < 2 * self.min_leaf
                or impurity <= 1e-7 * m
            ):
                continue
            split = self.best_split(idx)
            if split is None:
                continue
            j, t, score = split
            goes_left = self.X[idx, j] <= t
            left_idx, right_idx = idx[goes_left], idx[~goes_left]
            left_stats = self.targets[left_idx].sum(axis=0)
            right_stats = stats - left_stats
            self.importances[j] += impurity - score
            self.feature[node], self.threshold[node] = j, t
            self.left[node], self.right[node] = self.add_node(left_stats), self.add_node(right_stats)
            stack.append((right_idx, right_stats, depth + 1, self.right[node]))
            stack.append((left_idx, left_stats, depth + 1, self.left[node]))

    def best_split(self, idx: np.ndarray):
        """(feature, threshold, children impurity sum) of the best valid split, or None."""
        n_features = self.X.shape[1]
        order_of_features = (
            self.rng.permutation(n_features) if self.n_try < n_features else np.arange(n_features)
        )
        # Like scikit-learn, keep drawing features past n_try until one gives a valid split.
        for start in range(0, n_features, self.n_try):
            feats = order_of_features[start : start + self.n_try]
            found = self.best_split_among(idx, feats)
            if found is not None:
                return found
        return None

    def best_split_among(self, idx, feats):
        Xn = self.X[np.ix_(idx, feats)]  # (m, f)
        varying = Xn.min(axis=0) < Xn.max(axis=0)  # a constant feature has no split: skip its sort
        if not varying.all():
            if not varying.any():
                return None
            feats, Xn = feats[varying], Xn[:, varying]
        order = np.argsort(Xn, axis=0, kind="stable")
        values = Xn[order, np.arange(Xn.shape[1])]  # (m, f) each column sorted
        stats = np.cumsum(self.targets[idx[order]], axis=0)  # (m, f, s)
        m = len(idx)
        valid = values[:-1] < values[1:]  # (m-1, f): split after row i only between distinct values
        if self.min_leaf > 1:  # row i leaves i + 1 samples on the left and m - i - 1 on the right
            valid[: self.min_leaf - 1] = False
            valid[m - self.min_leaf :] = False
        if not valid.any():
            return None
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = np.where(valid, children_scores(stats, self.criterion), np.inf)  # (m-1, f)
        i, c = np.unravel_index(np.argmin(scores), scores.shape)
        low, high = values[i, c], values[i + 1, c]
        threshold = (low + high) / 2
        if threshold == high:  # the midpoint rounded up onto the next value: split on the lower one
            threshold = low
        return int(feats[c]), float(threshold), float(scores[i, c])


def resolve_max_features(max_features, n_features: int) -> int:
    if max_features is None:
        return n_features
    if max_features == "sqrt":
        return max(1, int(np.sqrt(n_features)))
    if max_features == "log2":
        return max(1, int(np.log2(n_features)))
    if isinstance(max_features, numbers.Integral) and 1 <= max_features:
        return min(int(max_features), n_features)
    if isinstance(max_features, float) and 0 < max_features <= 1:
        return max(1, int(max_features * n_features))
    raise ValueError(
        f"max_features must be None, 'sqrt', 'log2', an int >= 1 or a float in (0, 1], got {max_features!r}"
    )


class BaseDecisionTree(BaseEstimator):
    def __init__(
        self,
        criterion="gini",
        max_depth=None,
        min_samples_split=2,
        min_samples_leaf=1,
        max_features=None,
        random_state=None,
    ):
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.random_state = random_state

    def grow(self, X, targets, criterion: str, rng=None) -> None:
        """Fit on validated X and per-sample statistics `targets` (n, s) under `criterion`."""
        for name in ("min_samples_split", "min_samples_leaf"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < (2 if name == "min_samples_split" else 1):
                raise ValueError(
                    f"{name} must be an integer >= {2 if name == 'min_samples_split' else 1}, got {value!r}"
                )
        if self.max_depth is not None and (
            not isinstance(self.max_depth, numbers.Integral) or self.max_depth < 1
        ):
            raise ValueError(f"max_depth must be None or an integer >= 1, got {self.max_depth!r}")
        self.n_features_in_ = X.shape[1]
        n_try = resolve_max_features(self.max_features, X.shape[1])
        rng = rng if rng is not None else check_random_state(self.random_state)
        builder = TreeBuilder(
            X, targets, criterion, self.max_depth, self.min_samples_split, self.min_samples_leaf, n_try, rng
        )
        builder.build()
        self.feature_ = np.array(builder.feature)
        self.threshold_ = np.array(builder.threshold)
        self.children_left_, self.children_right_ = np.array(builder.left), np.array(builder.right)
        self.value_ = np.array(builder.value)  # (nodes, K) class fractions or (nodes, 1) means
        total = builder.importances.sum()
        self.feature_importances_ = builder.importances / total if total > 0 else builder.importances
        self.node_count_ = len(self.feature_)
        self.max_depth_ = self.depth()

    def depth(self) -> int:
        depth, frontier = 0, [0]
        while True:
            frontier = [
                c
                for node in frontier
                for c in (self.children_left_[node], self.children_right_[node])
                if c >= 0
            ]
            if not frontier:
                return depth
            depth += 1

    def apply(self, X) -> np.ndarray:
        """Index of the leaf each sample lands in."""
        X = check_features(self, X)
        node = np.zeros(len(X), dtype=np.int64)
        while True:
            inner = self.children_left_[node] >= 0
            if not inner.any():
                return node
            rows = np.flatnonzero(inner)
            current = node[rows]
            left = X[rows, self.feature_[current]] <= self.threshold_[current]
            node[rows] = np.where(left, self.children_left_[current], self.children_right_[current])


class DecisionTreeClassifier(ClassifierMixin, BaseDecisionTree):
    """CART classifier (criterion 'gini' or 'entropy'); predict_proba = class fractions in the leaf."""

    def fit(self, X, y):
        check_choice("criterion", self.criterion, ("gini", "entropy", "log_loss"))
        X, y = check_X_y(X, y, estimator=self, classifier=True)
        self.classes_, codes = encode_labels(y)
        self.fit_encoded(X, codes, len(self.classes_))
        return self

    def fit_encoded(self, X, codes, n_classes, rng=None, weights=None):
        """Fit on integer labels 0..n_classes-1; `weights` (n,) counts repeated rows (a bootstrap)."""
        onehot = np.eye(n_classes)[codes]  # (n, K): per-sample class counts
        if weights is not None:
            onehot *= weights[:, None]
        self.grow(X, onehot, "entropy" if self.criterion == "log_loss" else self.criterion, rng)
        return self

    def predict_proba(self, X) -> np.ndarray:
        leaves = self.apply(X)
        return self.value_[leaves]

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


class DecisionTreeRegressor(RegressorMixin, BaseDecisionTree):
    """CART regressor (squared error): a leaf predicts the mean target of its training samples."""

    def __init__(
        self,
        criterion="squared_error",
        max_depth=None,
        min_samples_split=2,
        min_samples_leaf=1,
        max_features=None,
        random_state=None,
    ):
        super().__init__(
            criterion, max_depth, min_samples_split, min_samples_leaf, max_features, random_state
        )

    def fit(self, X, y):
        check_choice("criterion", self.criterion, ("squared_error",))
        X, y = check_X_y(X, y, estimator=self)
        # the statistics a split needs per sample: count, y, y^2
        self.grow(X, np.column_stack([np.ones_like(y), y, y**2]), "squared_error")
        return self

    def predict(self, X) -> np.ndarray:
        leaves = self.apply(X)
        return self.value_[leaves, 0]
