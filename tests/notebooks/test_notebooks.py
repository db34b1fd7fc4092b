"""Every notebook in notebooks/ runs from top to bottom: jupytext reads the percent-format `.py`,
nbclient executes it in a fresh kernel, and a failing cell fails its test with that cell's source and
traceback (nbclient's CellExecutionError). Outputs are thrown away: nothing executed is committed.

Each notebook runs on its small settings. The three that need only seconds of CPU (01, 04, 06) run in
the default suite; the four that train or run SmolLM2 for tens of seconds (02, 03, 05, 07) are `slow`
and run in `make test-notebooks` (all seven, its own budget: ~6 minutes on a loaded 2-core machine).
`make notebooks` writes the `.ipynb` files (git-ignored) for Jupyter.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the kernel colours its tracebacks
TIMEOUT_S = 600  # per cell, on a loaded 2-core machine

# notebook -> (curriculum module, slow?)
CASES = {
    "01_micrograd_to_mlp": ("0.7", False),
    "02_cnn": ("0.3", True),
    "03_makemore_to_gpt": ("0.7", True),
    "04_tokenizers": ("0.7", False),
    "05_smollm2_first_token": ("2.1", True),
    "06_quantization": ("1.1", False),
    "07_serving_engine": ("2.2", True),
}


def params():
    for name, (module, slow) in CASES.items():
        marks = [pytest.mark.module(module)] + ([pytest.mark.slow] if slow else [])
        yield pytest.param(name, marks=marks, id=name)


def test_every_notebook_has_a_case():
    assert sorted(p.stem for p in NOTEBOOKS.glob("[0-9]*.py")) == sorted(CASES)


@pytest.mark.parametrize("name", list(params()))
def test_notebook_runs(name, tmp_path, monkeypatch):
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    from nbclient.exceptions import CellExecutionError

    notebook = jupytext.read(NOTEBOOKS / f"{name}.py")
    src = os.pathsep.join([str(NOTEBOOKS.parent / "src"), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", src)  # the kernel imports this checkout's groundup
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = nbclient.NotebookClient(
        notebook, timeout=TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    start = time.perf_counter()
    failure = None
    try:
        client.execute()
    except CellExecutionError as exc:  # its message holds the failing cell's source and traceback
        failure = ANSI.sub("", str(exc))
    if failure:
        pytest.fail(f"notebooks/{name}.py: a cell failed\n{failure}", pytrace=False)
    print(f"{name}: {time.perf_counter() - start:.1f} s")
