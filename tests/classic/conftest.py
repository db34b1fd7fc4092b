"""Shared fixtures for the classical-ML checks: scikit-learn's four bundled tables, raw and standardized."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from groundup.data import load_sklearn

DATASETS = ("iris", "wine", "breast_cancer", "digits")
SMALL = ("iris", "wine", "breast_cancer")  # digits is the slow one for trees, forests and SVC


@pytest.fixture(scope="session", autouse=True)
def one_blas_thread():
    """One BLAS/OpenMP thread per test process: under pytest -n 2 on a shared machine, more threads
    only fight each other (small matrices gain nothing from them)."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="session")
def tables() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {name: load_sklearn(name) for name in DATASETS}


@pytest.fixture(scope="session")
def scaled_tables(tables) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each table with zero-mean, unit-variance columns (constant columns left at zero)."""
    out = {}
    for name, (X, y) in tables.items():
        std = X.std(axis=0)
        out[name] = ((X - X.mean(axis=0)) / np.where(std > 0, std, 1.0), y)
    return out


def regression_problem(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A regression target from a classification table: predict its first varying column from the rest."""
    first = int(np.flatnonzero(X.std(axis=0) > 0)[0])
    return np.delete(X, first, axis=1), X[:, first]
