"""Shared test setup: the curriculum plugin (module markers + results file) and common fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Two xdist workers share two cores: one BLAS/torch thread each avoids oversubscription, which made
# small torch steps ~30x slower under load. Set before any test module imports numpy or torch.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

pytest_plugins = ["groundup.curriculum.pytest_plugin", "pytester"]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The corpora folder ($GROUNDUP_DATA); tests that need real text skip with a reason without it."""
    value = os.environ.get("GROUNDUP_DATA")
    if not value or not Path(value).is_dir():
        pytest.skip("set GROUNDUP_DATA to the corpora folder (make test does) to run this check")
    return Path(value)
