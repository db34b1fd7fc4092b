"""Shared test setup: the curriculum plugin (module markers + results file) and common fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["groundup.curriculum.pytest_plugin", "pytester"]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The corpora folder ($GROUNDUP_DATA); tests that need real text skip with a reason without it."""
    value = os.environ.get("GROUNDUP_DATA")
    if not value or not Path(value).is_dir():
        pytest.skip("set GROUNDUP_DATA to the corpora folder (make test does) to run this check")
    return Path(value)
