"""Input checks every estimator runs first, with scikit-learn's exception types and clear messages.

Bad input (NaN/inf, 1-D X, complex or sparse data, mismatched X/y lengths, a different number of
features at predict time) raises ValueError/TypeError naming the problem and the fix.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from groundup.classic.base import check_is_fitted


class DataConversionWarning(UserWarning):
    """The input had to be reshaped or converted (e.g. a column-vector y was raveled)."""


def check_array(X, *, name: str = "X", min_samples: int = 1, ensure_2d: bool = True) -> np.ndarray:
    """X as a finite float64 2-D array; ValueError/TypeError that says what is wrong otherwise."""
    if hasattr(X, "tocsr") or hasattr(X, "toarray"):
        raise TypeError(
            f"Sparse data was passed for {name}, but dense data is required; convert it with {name}.toarray()"
        )
    array = np.asarray(X)
    if np.iscomplexobj(array):
        raise ValueError(f"Complex data not supported in {name}; pass real numbers")
    if array.dtype.kind in "OUS":
        array = array.astype(np.float64)  # strings/objects that are not numbers raise here
    array = np.asarray(array, dtype=np.float64)
    if ensure_2d:
        if array.ndim != 2:
            raise ValueError(
                f"Expected 2D array for {name}, got {array.ndim}D array instead. Reshape your data either "
                "using array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) "
                "if it contains a single sample."
            )
        n, p = array.shape
        if n < min_samples:
            raise ValueError(
                f"Found array with {n} sample(s) (shape={array.shape}) while a minimum of {min_samples} "
                "is required."
            )
        if p < 1:
            raise ValueError(
                f"Found array with 0 feature(s) (shape={array.shape}) while a minimum of 1 is required."
            )
    if np.isnan(array).any():
        raise ValueError(f"Input {name} contains NaN; impute or drop the missing values first")
    if np.isinf(array).any():
        raise ValueError(f"Input {name} contains infinity; clip or drop the infinite values first")
    return array


def check_X_y(X, y, *, estimator=None, classifier: bool = False, min_samples: int = 1):
    """(X float64 2-D, y 1-D) of equal length; y stays in its own dtype for classifiers (labels)."""
    if y is None:
        who = type(estimator).__name__ if estimator is not None else "this estimator"
        raise ValueError(f"{who} requires y to be passed, but the target y is None")
    X = check_array(X, min_samples=min_samples)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the shape of y "
            "to (n_samples,), for example using ravel().",
            DataConversionWarning,
            stacklevel=3,
        )
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y should be a 1d array, got an array of shape {y.shape} instead")
    if len(y) != len(X):
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: X has {len(X)} rows, "
            f"y has {len(y)}; pass one target per row of X"
        )
    if classifier:
        check_classification_targets(y)
    else:
        y = check_array(y, name="y", ensure_2d=False)
    return X, y


def check_classification_targets(y: np.ndarray) -> None:
    """Labels must be discrete: integers or strings, not continuous floats."""
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            raise ValueError("Input y contains NaN or infinity; class labels must be finite")
        if np.any(y != np.round(y)):
            raise ValueError(
                "Unknown label type: continuous. Classifiers need discrete labels (integers or strings); "
                "use a regressor for continuous targets"
            )
    elif y.dtype.kind not in "iubUSO":
        raise ValueError(f"Unknown label type: {y.dtype}; pass integer or string labels")


def check_features(estimator, X) -> np.ndarray:
    """Validate X at predict/transform time: fitted, finite, with the number of features seen in fit."""
    check_is_fitted(estimator)
    X = check_array(X)
    expected = estimator.n_features_in_
    if X.shape[1] != expected:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting {expected} "
            "features as input"
        )
    return X


def check_random_state(seed) -> np.random.RandomState:
    """A RandomState from None, an int, or an existing RandomState (scikit-learn's convention)."""
    if seed is None or isinstance(seed, numbers.Integral):
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(f"random_state must be None, an int or a RandomState, got {seed!r}")


def encode_labels(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(classes_, y as indices 0..K-1 into classes_)."""
    classes, encoded = np.unique(y, return_inverse=True)
    return classes, encoded.ravel()


def check_positive(name: str, value, *, allow_zero: bool = False) -> None:
    ok = isinstance(value, numbers.Real) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a number {bound}, got {value!r}")


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
