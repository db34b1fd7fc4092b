"""Curriculum 1.6 on the decode step: a torch.profiler trace and operator table, the memory-bandwidth
roofline, the study report `groundup profile decode` writes, and TensorBoard histograms of a
quantization-aware training run read back from the event file."""

from __future__ import annotations

import gzip
import json

import pytest
import torch

from groundup.models.llama import Llama, LlamaConfig
from groundup.models.quantized import quantize_linears
from groundup.profiling.decode import Roofline, bytes_per_token, profile_decode, stream_bandwidth
from groundup.profiling.decode_report import run_decode_study

pytestmark = pytest.mark.module("1.6")

CFG = LlamaConfig(vocab_size=96, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=128, max_context=64)


class Chars:
    """The smallest tokenizer the study needs: one id per character."""

    def encode(self, text):
        return [ord(c) % CFG.vocab_size for c in text]


def tiny(bits: int | None = None) -> Llama:
    torch.manual_seed(0)
    model = Llama(CFG).eval()
    if bits:
        quantize_linears(model, bits)
    return model


def test_profile_decode_writes_a_chrome_trace_and_ranks_operators(tmp_path):
    trace = tmp_path / "decode.json.gz"
    profile = profile_decode(tiny(4), [1, 2, 3], tokens=3, label="int4", trace=trace, profiled_tokens=2)
    assert profile.tokens_per_s > 0 and profile.step_ms > 0 and profile.trace == trace
    events = json.loads(gzip.decompress(trace.read_bytes()))["traceEvents"]
    assert any(e.get("ph") == "X" for e in events)  # complete events: what Perfetto draws
    assert profile.top and all(a.self_ms >= b.self_ms for a, b in zip(profile.top, profile.top[1:]))
    assert abs(sum(r.share for r in profile.top) - 1) < 1e-6 or sum(r.share for r in profile.top) < 1


def test_bytes_per_token_counts_stored_weights_once():
    dense, q8, q4 = tiny(), tiny(8), tiny(4)
    linear_weights = sum(m.weight.numel() for m in dense.modules() if isinstance(m, torch.nn.Linear))
    assert bytes_per_token(dense) == 4 * linear_weights  # the tied head counted once, embedding not
    # the tied head stays float in a quantize_linears model: compare the projections alone
    head = 4 * CFG.vocab_size * CFG.dim
    projections = linear_weights - CFG.vocab_size * CFG.dim
    assert bytes_per_token(q8) - head == projections * (1 + 2 / 32)  # int8 code + float16 scale per 32
    assert bytes_per_token(q4) - head == projections * (0.5 + 4 / 32)  # nibble + float16 scale and min


def test_roofline_arithmetic():
    roof = Roofline("x", bytes_per_token=100_000_000, tokens_per_s=50.0, read_gb_s=10.0)
    assert roof.limit_tokens_per_s == pytest.approx(100.0)
    assert roof.effective_gb_s == pytest.approx(5.0) and roof.fraction_of_limit == pytest.approx(0.5)
    measured = stream_bandwidth(n_bytes=8 * 2**20, repeats=2)
    assert measured["read"] > 0 and measured["copy"] > 0


def test_decode_study_writes_report_plots_and_json(tmp_path):
    models = {"float32": lambda: tiny(), "int4": lambda: tiny(4)}
    report = run_decode_study(list(models), tmp_path, lambda c: (models[c](), Chars()), tokens=2, top=5)
    text = report.read_text()
    assert "## Summary" in text and "## Top operators: int4" in text and "bandwidth limit" in text
    assert (tmp_path / "decode-roofline.png").stat().st_size > 0
    assert (tmp_path / "traces" / "decode-int4.json.gz").exists()
    results = json.loads((tmp_path / "results.json").read_text())
    by_config = {c["config"]: c for c in results["configs"]}
    assert by_config["int4"]["bytes_per_token"] < by_config["float32"]["bytes_per_token"]


def test_tensorboard_histograms_of_a_qat_run_read_back(tmp_path):
    pytest.importorskip("tensorboard")
    from groundup.profiling.tensorboard import HistogramLogger, read_histograms
    from groundup.quant.model import swap_quant_layers
    from groundup.quant.modules import QuantConfig, QuantLinear

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    model = swap_quant_layers(model, QuantConfig(mode="fake", observer="moving_average"))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with HistogramLogger(tmp_path, layer_types=(QuantLinear,)) as logger:
        for step in range(3):
            with logger.activations(model):
                loss = model(torch.randn(32, 8)).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            logger.log(model, step)
    tags = read_histograms(tmp_path)
    assert {"weights/0.weight", "activations/0", "activations/2"} <= set(tags)
    steps = tags["weights/0.weight"]
    assert [s for s, *_ in steps] == [0, 1, 2] and steps[0][1] == 8 * 16  # one value per weight
    assert tags["activations/2"][0][1] == 32 * 4
    final = model[0].weight.detach()
    assert steps[-1][2] == pytest.approx(float(final.min())) and steps[-1][3] == pytest.approx(
        float(final.max())
    )
