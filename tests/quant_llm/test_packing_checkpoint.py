"""Bit-packing round trips (and equals groundup.quant's INT4 layout), RTN against torch's per-channel
fake-quant, and the safetensors + manifest checkpoint: exact round trip, clear errors, nothing half-loaded."""

import copy
import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from groundup.quant.llm.checkpoint import CheckpointError, load_quantized, save_quantized
from groundup.quant.llm.quantize import check_request, quantize_llm
from groundup.quant.llm.rtn import rtn_quantize
from groundup.quant.packing import pack_bits, pack_int4, unpack_bits

pytestmark = pytest.mark.module("1.2")


@settings(max_examples=40, deadline=None)
@given(bits=st.sampled_from([2, 3, 4, 8]), n=st.integers(1, 300), seed=st.integers(0, 2**16))
def test_pack_unpack_round_trips_exactly(bits, n, seed):
    codes = torch.randint(0, 2**bits, (n,), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)
    packed = pack_bits(codes, bits)
    assert packed.numel() == (n if bits == 8 else (n + 7) // 8 * bits)
    assert torch.equal(unpack_bits(packed, bits, n), codes)


def test_int4_packing_matches_the_fundamentals_layout():
    codes = torch.randint(0, 16, (64,), dtype=torch.uint8)
    assert torch.equal(pack_bits(codes, 4), pack_int4(codes))


def test_packing_rejects_out_of_range_codes():
    with pytest.raises(ValueError, match=r"codes must lie in \[0, 7\]"):
        pack_bits(torch.tensor([8], dtype=torch.uint8), 3)
    with pytest.raises(ValueError, match="bits must be one of"):
        pack_bits(torch.tensor([1]), 5)


@pytest.mark.parametrize("bits", [8, 4, 3])
def test_rtn_per_channel_matches_torch_fake_quant(bits):
    torch.manual_seed(bits)
    w = torch.randn(32, 64)
    qw = rtn_quantize(w, bits, None)
    scale, zero = qw.scale[:, 0], qw.zero[:, 0]
    ref = torch.fake_quantize_per_channel_affine(w, scale, zero, 0, 0, 2**bits - 1)
    torch.testing.assert_close(qw.dequantize(), ref, atol=1e-6, rtol=0)
    lo, hi = w.amin(1).clamp(max=0), w.amax(1).clamp(min=0)
    torch.testing.assert_close(scale, ((hi - lo) / (2**bits - 1)).half().float())


def test_rtn_group_wise_is_per_channel_on_each_group():
    w = torch.randn(8, 96)  # 96 = 64 + a short group of 32
    grouped = rtn_quantize(w, 4, 64).dequantize()
    torch.testing.assert_close(grouped[:, :64], rtn_quantize(w[:, :64], 4, None).dequantize())
    torch.testing.assert_close(grouped[:, 64:], rtn_quantize(w[:, 64:], 4, None).dequantize())


def test_bad_requests_name_the_limit():
    with pytest.raises(ValueError, match="awq: bits must be one of"):
        check_request("awq", 8, 128)
    with pytest.raises(ValueError, match="group_size must be one of"):
        check_request("gptq", 4, 100)
    with pytest.raises(ValueError, match="smoothquant: group_size is fixed"):
        check_request("smoothquant", 8, 128)
    with pytest.raises(ValueError, match="method must be one of"):
        check_request("bnb", 4, 128)


@pytest.mark.parametrize(
    ("method", "bits", "gs"), [("gptq", 3, 32), ("smoothquant", 8, None), ("nf4", 4, None)]
)
def test_checkpoint_round_trip_is_exact(tmp_path, tiny_llama, windows, method, bits, gs):
    model = quantize_llm(copy.deepcopy(tiny_llama), method, bits, gs, windows=windows, act_order=True)
    save_quantized(model, tmp_path, {"method": method, "bits": bits, "group_size": gs})
    loaded, info = load_quantized(tmp_path)
    assert info["method"] == method
    with torch.no_grad():
        assert torch.equal(loaded(windows), model(windows))


def test_checkpoint_mismatch_is_refused(tmp_path, tiny_llama):
    model = quantize_llm(copy.deepcopy(tiny_llama), "rtn", 4, 32)
    save_quantized(model, tmp_path, {"method": "rtn"})
    tensors = load_file(tmp_path / "model.safetensors")
    tensors["blocks.0.attn.qkv.codes"] = tensors["blocks.0.attn.qkv.codes"][:-1].clone()
    save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError, match="manifest and tensors disagree.*nothing was loaded"):
        load_quantized(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["version"] = 99
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="version 1"):
        load_quantized(tmp_path)
    with pytest.raises(CheckpointError, match="needs manifest.json"):
        load_quantized(tmp_path / "nowhere")
