"""The curriculum 0.1 exercises run and reach scikit-learn's answers; the CLI finds them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from groundup.checkout import repo_root
from groundup.commands.classic import EXAMPLES, run_module

pytestmark = pytest.mark.module("0.1")


def load_example(name: str):
    path = repo_root() / "examples" / "classic" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"classic_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_cli_example_has_a_script():
    for name in EXAMPLES:
        assert (repo_root() / "examples" / "classic" / f"{name.replace('-', '_')}.py").is_file()


def test_pca_from_eigendecomposition_matches_sklearn():
    errors = load_example("pca_eig").main()
    assert max(errors.values()) < 1e-6


def test_gradient_descent_reaches_least_squares():
    gaps = load_example("linear_regression_gd").main()
    assert gaps["gd_gap"] < 1e-6 and gaps["normal_gap"] < 1e-6


@pytest.mark.slow
def test_cli_runs_an_example():
    done = subprocess.run(
        [sys.executable, "-m", "groundup", "classic", "example", "pca-eig"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "digits" in done.stdout and "agrees: True" in done.stdout


def test_example_runner_uses_the_checkout(capfd):
    assert run_module("examples.classic.pca_eig") == 0
    assert "agrees: True" in capfd.readouterr().out
