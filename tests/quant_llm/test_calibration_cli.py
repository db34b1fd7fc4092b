"""Calibration windows, the instruction set builder, and the CLI's refusals of bad requests."""

import pytest
import torch

from groundup.cli import main
from groundup.quant.llm.calibration import calibration_windows
from groundup.quant.llm.instruct import PROMPT, wikitext_pairs

pytestmark = pytest.mark.module("1.2")


def test_calibration_windows_are_even_and_disjoint():
    ids = torch.arange(1000)
    w = calibration_windows(ids, 4, 100)
    assert w.shape == (4, 100)
    assert w[:, 0].tolist() == [0, 250, 500, 750]
    assert len(set(w.reshape(-1).tolist())) == 400


def test_calibration_text_too_short_names_the_limit():
    with pytest.raises(ValueError, match="4 samples of 100 tokens need 400 tokens, the text has 399"):
        calibration_windows(torch.arange(399), 4, 100)


def test_instruction_pairs_follow_the_text():
    text = " = Title = \n The first sentence is long enough to count. The second sentence follows it here, also long. Third.\n"
    ((prefix, response),) = wikitext_pairs(text, 1)
    assert prefix.startswith("The first") and response.startswith("The second")
    assert "{prefix}" in PROMPT
    with pytest.raises(ValueError, match="only 1 instruction examples, 2 were asked for"):
        wikitext_pairs(text, 2)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["quantize", "--method", "awq", "--bits", "8"], "awq: bits must be one of (3, 4)"),
        (["quantize", "--method", "gptq", "--group-size", "100"], "group_size must be one of"),
        (["quantize", "--method", "smoothquant", "--bits", "8", "--group-size", "64"], "group_size is fixed"),
        (["quantize", "--method", "gptq", "--gguf", "x.gguf"], "only 4-bit group-32"),
    ],
)
def test_cli_refuses_unsupported_requests(argv, message, capsys):
    assert main(argv) == 1
    assert message in capsys.readouterr().err
