"""RoPE scaling: our frequency table against transformers' ROPE_INIT_FUNCTIONS on the same configs."""

from __future__ import annotations

import math

import pytest
import torch

from groundup.models.layers import RotaryEmbedding
from groundup.models.rope_scaling import RopeScaling, base_frequencies, rope_frequencies

pytestmark = pytest.mark.module("3.4")

HEAD_DIM = 32


def hf_frequencies(rope_parameters: dict, max_positions: int, seq_len=None):
    transformers = pytest.importorskip("transformers")
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    cfg = transformers.LlamaConfig(
        hidden_size=2 * HEAD_DIM,
        num_attention_heads=2,
        max_position_embeddings=max_positions,
        rope_parameters=rope_parameters,
    )
    kind = rope_parameters["rope_type"]
    return ROPE_INIT_FUNCTIONS[kind](cfg, "cpu", *([seq_len] if seq_len else []))


@pytest.mark.parametrize("factor", [2.0, 4.0])
def test_linear_matches_transformers(factor):
    ref, attention = hf_frequencies({"rope_type": "linear", "rope_theta": 10000.0, "factor": factor}, 64)
    ours, ours_attention = rope_frequencies(HEAD_DIM, 10000.0, RopeScaling("linear", factor, 64))
    torch.testing.assert_close(ours, ref, atol=0, rtol=0)
    assert ours_attention == attention == 1.0


@pytest.mark.parametrize("seq_len", [32, 64, 100, 256, 1000])
def test_dynamic_ntk_matches_transformers_at_every_length(seq_len):
    params = {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 4.0}
    ref, _ = hf_frequencies(params, 64, seq_len)
    ours, _ = rope_frequencies(HEAD_DIM, 10000.0, RopeScaling("dynamic", 4.0, 64), seq_len=seq_len)
    torch.testing.assert_close(ours, ref, atol=1e-9, rtol=1e-6)


def test_static_ntk_is_dynamic_ntk_at_the_length_where_its_stretch_equals_the_factor():
    """Dynamic NTK stretches the base by s' = s T / L - (s - 1); at T = L (2s - 1) / s that is s."""
    s, L = 4.0, 64
    T = int(L * (2 * s - 1) / s)  # 112
    ref, _ = hf_frequencies({"rope_type": "dynamic", "rope_theta": 10000.0, "factor": s}, L, T)
    ours, _ = rope_frequencies(HEAD_DIM, 10000.0, RopeScaling("ntk", s, L))
    torch.testing.assert_close(ours, ref, atol=0, rtol=0)
    # the fastest pair keeps its frequency, the slowest is slowed by exactly s
    base = base_frequencies(HEAD_DIM, 10000.0)
    assert ours[0] == base[0] and float(base[-1] / ours[-1]) == pytest.approx(s, rel=1e-5)


@pytest.mark.parametrize(("factor", "beta_fast", "beta_slow"), [(4.0, 32.0, 1.0), (8.0, 16.0, 2.0)])
def test_yarn_matches_transformers(factor, beta_fast, beta_slow):
    params = {
        "rope_type": "yarn",
        "rope_theta": 10000.0,
        "factor": factor,
        "original_max_position_embeddings": 64,
        "beta_fast": beta_fast,
        "beta_slow": beta_slow,
    }
    ref, attention = hf_frequencies(params, int(64 * factor))
    scaling = RopeScaling("yarn", factor, 64, beta_fast=beta_fast, beta_slow=beta_slow)
    ours, ours_attention = rope_frequencies(HEAD_DIM, 10000.0, scaling)
    torch.testing.assert_close(ours, ref, atol=1e-7, rtol=1e-6)
    assert ours_attention == pytest.approx(attention) == pytest.approx(0.1 * math.log(factor) + 1)


@pytest.mark.parametrize("theta", [10000.0, 500000.0])
def test_llama3_matches_transformers(theta):
    params = {
        "rope_type": "llama3",
        "rope_theta": theta,
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 64,
    }
    ref, _ = hf_frequencies(params, 512)
    ours, _ = rope_frequencies(HEAD_DIM, theta, RopeScaling("llama3", 8.0, 64))
    torch.testing.assert_close(ours, ref, atol=0, rtol=0)
    base = base_frequencies(HEAD_DIM, theta)
    assert (ours == base).any() and (ours == base / 8).any()  # both ends of the blend are present


def test_rotary_embedding_default_is_unchanged_and_yarn_scales_cos_sin():
    plain = RotaryEmbedding(HEAD_DIM, 128)
    explicit = RotaryEmbedding(HEAD_DIM, 128, rope_scaling=RopeScaling())
    torch.testing.assert_close(plain.cos, explicit.cos, atol=0, rtol=0)
    yarn = RotaryEmbedding(HEAD_DIM, 128, rope_scaling=RopeScaling("yarn", 4.0, 32))
    inv_freq, attention = rope_frequencies(HEAD_DIM, 10000.0, RopeScaling("yarn", 4.0, 32))
    angle = 7 * inv_freq
    cos, sin = yarn(torch.tensor([7]))
    torch.testing.assert_close(cos[0, 0, : HEAD_DIM // 2], attention * angle.cos(), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(sin[0, 0, : HEAD_DIM // 2], attention * angle.sin(), atol=1e-6, rtol=1e-6)


def test_rotary_dynamic_recomputes_past_the_original_context():
    rope = RotaryEmbedding(HEAD_DIM, 256, rope_scaling=RopeScaling("dynamic", 2.0, 32))
    inside, _ = rope(torch.arange(32))
    torch.testing.assert_close(inside, RotaryEmbedding(HEAD_DIM, 256).cos[:32, None], atol=0, rtol=0)
    positions = torch.arange(100)
    cos, sin = rope(positions)
    inv_freq, _ = rope_frequencies(HEAD_DIM, 10000.0, RopeScaling("dynamic", 2.0, 32), seq_len=100)
    torch.testing.assert_close(cos[99, 0, : HEAD_DIM // 2], (99 * inv_freq).cos(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"kind": "cubic"}, "kind"),
        ({"factor": 0.5}, "factor"),
        ({"kind": "llama3", "high_freq_factor": 1.0}, "high_freq"),
    ],
)
def test_bad_scaling_names_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        RopeScaling(**kwargs)
