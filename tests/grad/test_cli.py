"""`groundup grad demo xor`: the report, the plot and the hand-vs-autograd check of the first step.

The parser is built from `groundup.commands.grad.register` alone, so other areas' commands cannot affect it.
"""

from __future__ import annotations

import argparse
import re

import pytest

from groundup.commands import grad as cli

pytestmark = pytest.mark.module("0.2")


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="groundup")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_xor_demo_writes_report_and_matches_hand_gradients(tmp_path, capsys):
    assert run(["grad", "demo", "xor", "--out", str(tmp_path), "--epochs", "300"]) == 0
    printed = capsys.readouterr().out
    report = (tmp_path / "xor.md").read_text()
    assert (tmp_path / "xor_loss.png").stat().st_size > 1000
    assert "Solved: **True**" in report
    diffs = [float(d) for d in re.findall(r"max \|diff\| ([0-9.e+-]+)", printed)]
    assert len(diffs) == 4 and max(diffs) < 1e-12  # hand-derived chain rule == autograd


def test_demo_rejects_bad_epochs():
    with pytest.raises(ValueError, match="--epochs must be >= 1"):
        run(["grad", "demo", "xor", "--epochs", "-3"])
