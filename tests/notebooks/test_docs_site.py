"""The documentation site builds with `mkdocs build --strict` (a broken link or a missing page fails),
and its generated pages are there: every notebook, an API page per area, a source page per file, and
the dashboard. `slow`: the build renders every docstring and source file (about a minute of CPU);
`make docs` runs the same build in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_site_builds_strict(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    pytest.importorskip("mkdocstrings")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), NO_MKDOCS_2_WARNING="1")
    site = tmp_path / "site"
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    for page in (
        "index.html",
        "dashboard/index.html",
        "lab/index.html",
        "notebooks/01_micrograd_to_mlp/index.html",
        "api/grad/index.html",
        "source/src/groundup/grad/scalar/index.html",
        "notes/0.7-micrograd/index.html",
    ):
        assert (site / page).is_file(), page
    micrograd = (site / "api/grad/index.html").read_text(encoding="utf-8")
    assert "groundup.grad.scalar" in micrograd and "Value" in micrograd
    notebook = (site / "notebooks/02_cnn/index.html").read_text(encoding="utf-8")
    assert 'class="arithmatex"' in notebook  # the convolution's equation, for KaTeX
