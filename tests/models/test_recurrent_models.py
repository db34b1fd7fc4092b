"""Linear attention, RWKV and RetNet: each recurrent form equals its parallel form, token-by-token
decoding through a `RecurrentState` equals the full forward, and RWKV equals transformers'
`RwkvForCausalLM` with copied weights."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from groundup.models.gpt import GPTConfig
from groundup.models.layers import CausalLM
from groundup.models.linear_attention import (
    EPS,
    LinearAttentionGPT,
    feature_map,
    linear_attention,
    linear_attention_recurrent,
)
from groundup.models.retnet import (
    RetNet,
    RetNetConfig,
    decays,
    retention_chunkwise,
    retention_parallel,
    retention_recurrent,
)
from groundup.models.rwkv import RWKV, RWKVConfig, wkv, wkv_chunkwise, wkv_recurrent

pytestmark = pytest.mark.module("3.4")


def qkv(seed: int, shape=(2, 3, 13, 4)) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(3))


def decode_in_pieces(model, ids: torch.Tensor, prompt: int) -> tuple[torch.Tensor, object]:
    """Logits of a `prompt`-token call and then one call per token, through one RecurrentState."""
    cache = model.new_cache(ids.shape[0])
    steps = [model(ids[:, :prompt], kv_cache=cache)]
    steps += [model(ids[:, t : t + 1], kv_cache=cache) for t in range(prompt, ids.shape[1])]
    return torch.cat(steps, dim=1), cache


# ---- linear attention --------------------------------------------------------------------------------


def test_linear_attention_parallel_equals_recurrent_and_the_explicit_sum():
    q, k, v = qkv(0)
    q, k = feature_map(q), feature_map(k)
    parallel, _ = linear_attention(q, k, v)
    torch.testing.assert_close(parallel, linear_attention_recurrent(q, k, v), atol=1e-12, rtol=0)
    weights = (q @ k.transpose(-1, -2)).tril()  # (B, H, T, T): phi(q_i) . phi(k_j), j <= i
    explicit = (weights @ v) / (weights.sum(-1, keepdim=True) + EPS)
    torch.testing.assert_close(parallel, explicit, atol=1e-12, rtol=0)


def test_linear_attention_blocks_after_a_state_equal_one_block():
    q, k, v = qkv(1)
    q, k = feature_map(q), feature_map(k)
    whole, (S, z) = linear_attention(q, k, v)
    first, state = linear_attention(q[..., :5, :], k[..., :5, :], v[..., :5, :])
    second, (S2, z2) = linear_attention(q[..., 5:, :], k[..., 5:, :], v[..., 5:, :], state)
    torch.testing.assert_close(torch.cat([first, second], dim=-2), whole, atol=1e-12, rtol=0)
    torch.testing.assert_close((S2, z2), (S, z), atol=1e-12, rtol=0)


def test_linear_attention_gpt_decodes_like_its_full_forward():
    torch.manual_seed(2)
    model = LinearAttentionGPT(GPTConfig(vocab_size=30, block_size=32, n_layer=2, n_head=2, n_embd=16))
    model = model.double().eval()
    assert isinstance(model, CausalLM)
    ids = torch.randint(0, 30, (2, 14))
    with torch.no_grad():
        steps, cache = decode_in_pieces(model, ids, 5)
        torch.testing.assert_close(steps, model(ids), atol=1e-10, rtol=0)
    assert cache.length == 14


# ---- RWKV --------------------------------------------------------------------------------------------


def test_wkv_parallel_equals_recurrent_including_after_a_state():
    g = torch.Generator().manual_seed(3)
    k, v = (5 * torch.randn(2, 11, 6, generator=g, dtype=torch.float64) for _ in range(2))  # big logits
    w, u = (
        torch.rand(6, generator=g, dtype=torch.float64) * 2,
        torch.randn(6, generator=g, dtype=torch.float64),
    )
    out, state = wkv(w, u, k, v)
    ref, ref_state = wkv_recurrent(w, u, k, v)
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-12)
    head, mid = wkv(w, u, k[:, :4], v[:, :4])
    tail, end = wkv(w, u, k[:, 4:], v[:, 4:], mid)
    torch.testing.assert_close(torch.cat([head, tail], dim=1), ref, atol=1e-12, rtol=1e-12)
    for ours, theirs in zip(end, ref_state):  # (num, den) relative to a maximum: compare num/den
        assert ours.shape == theirs.shape
    torch.testing.assert_close(end[0] / end[1], ref_state[0] / ref_state[1], atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("chunk_size", [1, 3, 8, 16])
def test_wkv_chunkwise_values_and_gradients_equal_the_recurrent_form(chunk_size):
    """The training form (the parallel form on chunks, the state carried between them) gives the
    recurrent form's outputs, final state and gradients, also after a state and with a ragged last chunk."""
    g = torch.Generator().manual_seed(7)
    k, v = (3 * torch.randn(2, 13, 5, generator=g, dtype=torch.float64) for _ in range(2))
    w, u = (
        torch.rand(5, generator=g, dtype=torch.float64) * 2,
        torch.randn(5, generator=g, dtype=torch.float64),
    )
    _, start = wkv_recurrent(w, u, k[:, :3], v[:, :3])
    inputs = [x.clone().requires_grad_() for x in (w, u, k, v)]
    results = []
    for form in (wkv_recurrent, partial(wkv_chunkwise, chunk_size=chunk_size)):
        out, (num, den, _) = form(*inputs, start)
        grads = torch.autograd.grad((out * out.detach().sign()).sum() + (num / den).sum(), inputs)
        results.append((out, num / den, *grads))
    for ours, ref in zip(results[1], results[0]):
        torch.testing.assert_close(ours, ref, atol=1e-11, rtol=1e-11)


def test_wkv_follows_its_definition():
    """wkv_t = (sum_{i<t} e^{k_i - (t-1-i) w} v_i + e^{u + k_t} v_t) / (the same without v), directly."""
    g = torch.Generator().manual_seed(4)
    k, v = (torch.randn(1, 6, 3, generator=g, dtype=torch.float64) for _ in range(2))
    w, u = torch.rand(3, generator=g, dtype=torch.float64), torch.randn(3, generator=g, dtype=torch.float64)
    out, _ = wkv(w, u, k, v)
    for t in range(6):
        weights = [torch.exp(k[0, i] - (t - 1 - i) * w) for i in range(t)] + [torch.exp(u + k[0, t])]
        num = sum(wt * v[0, i] for i, wt in enumerate(weights))
        torch.testing.assert_close(out[0, t], num / sum(weights), atol=1e-12, rtol=1e-12)


def test_rwkv_model_forms_and_decoding_agree():
    torch.manual_seed(5)
    model = RWKV(RWKVConfig(vocab_size=30, dim=16, n_layers=2, max_context=32)).double().eval()
    assert isinstance(model, CausalLM)
    ids = torch.randint(0, 30, (2, 12))
    with torch.no_grad():
        model.form = "recurrent"
        recurrent = model(ids)
        model.form = "parallel"
        torch.testing.assert_close(model(ids), recurrent, atol=1e-10, rtol=0)
        model.form = "chunk"
        torch.testing.assert_close(model(ids), recurrent, atol=1e-10, rtol=0)
        steps, cache = decode_in_pieces(model, ids, 4)
        size = cache.nbytes()
        model(ids[:, :1], kv_cache=cache)
    torch.testing.assert_close(steps, recurrent, atol=1e-10, rtol=0)
    assert cache.nbytes() == size  # a constant-size state


def test_rwkv_equals_transformers_rwkv_for_causal_lm():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(6)
    cfg = RWKVConfig(vocab_size=30, dim=16, n_layers=2, max_context=32)
    ours = RWKV(cfg).double().eval()
    hf_cfg = transformers.RwkvConfig(
        vocab_size=30,
        context_length=32,
        hidden_size=16,
        num_hidden_layers=2,
        attention_hidden_size=16,
        intermediate_size=cfg.hidden_dim,
        layer_norm_epsilon=cfg.norm_eps,
        rescale_every=0,
        tie_word_embeddings=False,
    )
    ref = transformers.RwkvForCausalLM(hf_cfg).double().eval()
    state = {(k if k.startswith("head.") else "rwkv." + k): t for k, t in ours.state_dict().items()}
    ref.load_state_dict(state, strict=True)
    ids = torch.randint(0, 30, (2, 9))
    with torch.no_grad():
        theirs = ref(ids).logits
        torch.testing.assert_close(ours(ids).to(theirs.dtype), theirs, atol=1e-6, rtol=1e-6)


# ---- RetNet ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 4, 5, 13, 20])
def test_retention_parallel_recurrent_and_chunkwise_are_equal(chunk):
    q, k, v = qkv(7)
    gamma = decays(3)
    parallel = retention_parallel(q, k, v, gamma)
    recurrent, S = retention_recurrent(q, k, v, gamma)
    chunked, R = retention_chunkwise(q, k, v, gamma, chunk)
    torch.testing.assert_close(recurrent, parallel, atol=1e-12, rtol=0)
    torch.testing.assert_close(chunked, parallel, atol=1e-12, rtol=0)
    torch.testing.assert_close(R, S, atol=1e-12, rtol=0)


def test_retention_follows_its_definition():
    """o_n = sum_{m <= n} gamma^(n-m) (q_n . k_m) v_m, written as a loop."""
    q, k, v = qkv(8, (1, 2, 6, 3))
    gamma = decays(2)
    out = retention_parallel(q, k, v, gamma)
    for h in range(2):
        for n in range(6):
            ref = sum(gamma[h] ** (n - m) * (q[0, h, n] @ k[0, h, m]) * v[0, h, m] for m in range(n + 1))
            torch.testing.assert_close(out[0, h, n], ref, atol=1e-12, rtol=0)


def test_retnet_forms_and_decoding_agree():
    torch.manual_seed(9)
    model = RetNet(RetNetConfig(vocab_size=30, dim=16, n_layers=2, n_heads=2, max_context=32)).double()
    model.eval()
    assert isinstance(model, CausalLM)
    ids = torch.randint(0, 30, (2, 13))
    with torch.no_grad():
        parallel = model(ids)
        model.form = "recurrent"
        torch.testing.assert_close(model(ids), parallel, atol=1e-10, rtol=0)
        model.form, model.cfg.chunk_size = "chunk", 4
        torch.testing.assert_close(model(ids), parallel, atol=1e-10, rtol=0)
        steps, cache = decode_in_pieces(model, ids, 6)
    torch.testing.assert_close(steps, parallel, atol=1e-10, rtol=0)
    assert cache.length == 13


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: RetNetConfig(dim=16, n_heads=3), "n_heads"),
        (lambda: RetNetConfig(n_layers=0), "n_layers"),
        (lambda: RWKVConfig(dim=0), "dim"),
    ],
)
def test_bad_configs_name_the_parameter(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_decoding_past_the_cache_is_refused():
    model = RetNet(RetNetConfig(vocab_size=10, dim=8, n_layers=1, n_heads=2, max_context=8)).eval()
    cache = model.new_cache(1, 4)
    with torch.no_grad(), pytest.raises(ValueError, match="kv_cache"):
        model(torch.zeros(1, 5, dtype=torch.long), kv_cache=cache)
