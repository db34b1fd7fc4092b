"""The groundup source checkout (tests/, benchmarks/, docs/), for commands that need more than the package."""

from __future__ import annotations

from pathlib import Path

from groundup.errors import GroundupError


def repo_root() -> Path:
    """The nearest folder above the cwd (or above this file) holding pyproject.toml and tests/."""
    for start in (Path.cwd(), Path(__file__).resolve()):
        for folder in (start, *start.parents):
            if (folder / "pyproject.toml").is_file() and (folder / "tests").is_dir():
                return folder
    raise GroundupError(
        "cannot find the groundup checkout (a folder with pyproject.toml and tests/); run from it"
    )
