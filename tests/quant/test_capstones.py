"""The CLI wiring of the capstones, and (slow) the MNIST capstones end to end on real data."""

from __future__ import annotations

import argparse
import re

import pytest

from groundup.commands import compress as compress_cli
from groundup.commands import quant as quant_cli


@pytest.mark.module("1.1")
def test_quant_and_compress_commands_are_registered():
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers(required=True)
    quant_cli.register(subparsers)
    compress_cli.register(subparsers)
    for argv in (
        ["quant", "basics"],
        ["quant", "qat-vs-ptq"],
        ["compress", "prune"],
        ["compress", "distill"],
        ["compress", "lora"],
    ):
        args = parser.parse_args([*argv, "--out", "x"])
        assert callable(args.func)


def accuracies(report_text: str, row_start: str) -> list[float]:
    line = next(line for line in report_text.splitlines() if line.startswith(f"| {row_start}"))
    return [float(v) for v in re.findall(r"\| (0\.\d+|1\.0?)(?= \|)", line)]


@pytest.mark.slow
@pytest.mark.module("1.1")
def test_basic_quantizer_capstone_int8_keeps_fp32_accuracy(tmp_path):
    from groundup.quant.basic_quantizer import main

    text = main(tmp_path, epochs=2, observers=("minmax",)).read_text()
    fp32 = accuracies(text, "FP32")[0]
    per_channel = accuracies(text, "INT8 per-channel W + per-tensor A")[0]
    assert fp32 > 0.85 and per_channel > fp32 - 0.02
    assert (tmp_path / "histograms.png").stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.module("1.3")
def test_lora_capstone_adapts_to_rotated_digits(tmp_path):
    from groundup.compress.lora_study import main

    text = main(tmp_path, epochs=2, adapt_epochs=2, ranks=(4,)).read_text()
    before = accuracies(text, "pretrained")[0]
    lora = accuracies(text, "LoRA r=4")[0]
    assert lora > before + 0.2
