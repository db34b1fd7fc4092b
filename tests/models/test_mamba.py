"""Mamba: ZOH discretization, the three scans, transformers' MambaMixer / MambaForCausalLM with copied
weights, and token-by-token decoding equal to the full forward."""

from __future__ import annotations

import pytest
import torch

from groundup.models.layers import CausalLM
from groundup.models.mamba import (
    Mamba,
    MambaConfig,
    MambaMixer,
    discretize,
    scan_parallel,
    scan_sequential,
    selective_scan,
)

pytestmark = pytest.mark.module("3.4")


def test_zero_order_hold_equals_the_matrix_exponential():
    """For dh/dt = A h + B u with u held constant over a step delta, exp([[A, B], [0, 0]] delta) holds
    (Abar, Bbar) in its first row; our closed form for diagonal A must match it."""
    torch.manual_seed(0)
    N = 5
    A, B = -torch.rand(N, dtype=torch.float64) * 3, torch.randn(N, dtype=torch.float64)
    delta = torch.tensor([0.37], dtype=torch.float64)
    Abar, Bbar = discretize(delta, A[None], B, exact=True)  # (1, N) each
    for n in range(N):
        M = torch.tensor([[A[n], B[n]], [0.0, 0.0]], dtype=torch.float64) * delta
        E = torch.linalg.matrix_exp(M)
        assert Abar[0, n].item() == pytest.approx(E[0, 0].item(), rel=1e-12)
        assert Bbar[0, n].item() == pytest.approx(E[0, 1].item(), rel=1e-12)
    _, euler = discretize(delta, A[None], B)  # Mamba's delta B: the first-order term of the same series
    torch.testing.assert_close(euler, delta * B[None], atol=0, rtol=0)


@pytest.mark.parametrize("T", [1, 2, 7, 16, 33])
def test_parallel_scan_equals_sequential(T):
    torch.manual_seed(T)
    a, b = torch.rand(2, T, 3, 4, dtype=torch.float64), torch.randn(2, T, 3, 4, dtype=torch.float64)
    h0 = torch.randn(2, 3, 4, dtype=torch.float64)
    torch.testing.assert_close(scan_parallel(a, b, h0), scan_sequential(a, b, h0), atol=1e-12, rtol=0)
    torch.testing.assert_close(scan_parallel(a, b), scan_sequential(a, b), atol=1e-12, rtol=0)


def test_fused_scan_values_and_gradients_equal_the_autograd_scans():
    torch.manual_seed(1)
    Bt, T, Di, N = 2, 9, 5, 3
    args = [
        torch.randn(Bt, T, Di),  # u
        torch.rand(Bt, T, Di),  # delta
        -torch.rand(Di, N),  # A
        torch.randn(Bt, T, N),  # B
        torch.randn(Bt, T, N),  # C
        torch.randn(Di),  # D
        torch.randn(Bt, Di, N),  # h0
    ]
    args = [t.double().requires_grad_() for t in args]
    weights = torch.linspace(0, 1, Di, dtype=torch.float64)
    results = {}
    for scan in ("fused", "parallel", "sequential"):
        y, h = selective_scan(*args, scan=scan)
        loss = (y * weights).sum() + h.square().sum()
        results[scan] = (y, h, torch.autograd.grad(loss, args))
    for scan in ("parallel", "sequential"):
        for ours, ref in zip(
            results["fused"][:2] + results["fused"][2], results[scan][:2] + results[scan][2]
        ):
            torch.testing.assert_close(ours, ref, atol=1e-12, rtol=0)
    fused = lambda *a: selective_scan(*a, scan="fused")  # noqa: E731
    assert torch.autograd.gradcheck(fused, args)


def test_time_major_scan_values_and_gradients_equal_the_fused_scan():
    """The training scan (discretize and read out in bulk, loop only h = a h + b) gives the fused
    scan's outputs and gradients; "auto" takes it when a gradient is wanted and the fused one when not."""
    torch.manual_seed(4)
    Bt, T, Di, N = 3, 11, 4, 5
    args = [torch.randn(Bt, T, Di), torch.rand(Bt, T, Di), -torch.rand(Di, N) * 4]
    args += [torch.randn(Bt, T, N), torch.randn(Bt, T, N), torch.randn(Di), torch.randn(Bt, Di, N)]
    args = [t.double().requires_grad_() for t in args]
    weights = torch.linspace(-1, 1, Di, dtype=torch.float64)
    results = {}
    for scan in ("fused", "time_major", "auto"):
        y, h = selective_scan(*args, scan=scan)
        loss = (y * weights).sum() + (h * h.detach().sign()).sum()
        results[scan] = (y, h, *torch.autograd.grad(loss, args))
    for scan in ("time_major", "auto"):
        for ours, ref in zip(results[scan], results["fused"]):
            torch.testing.assert_close(ours, ref, atol=1e-12, rtol=0)
    time_major = lambda *a: selective_scan(*a, scan="time_major")  # noqa: E731
    assert torch.autograd.gradcheck(time_major, args)
    with torch.no_grad():
        torch.testing.assert_close(selective_scan(*args, scan="auto")[0], results["fused"][0], atol=0, rtol=0)


def test_training_step_is_the_same_with_every_scan():
    """One loss and its parameter gradients through the whole model: the scan changes only the speed."""
    ids = torch.randint(0, 30, (2, 17), generator=torch.Generator().manual_seed(5))
    grads = {}
    for scan in ("fused", "time_major", "parallel"):
        torch.manual_seed(6)
        model = Mamba(MambaConfig(vocab_size=30, dim=16, n_layers=2, d_state=4, scan=scan)).double()
        loss = torch.nn.functional.cross_entropy(model(ids[:, :-1]).flatten(0, 1), ids[:, 1:].flatten())
        loss.backward()
        grads[scan] = [loss.detach()] + [p.grad for p in model.parameters()]
    for scan in ("time_major", "parallel"):
        for ours, ref in zip(grads[scan], grads["fused"]):
            torch.testing.assert_close(ours, ref, atol=1e-12, rtol=0)


def hf_mamba_config(cfg: MambaConfig):
    transformers = pytest.importorskip("transformers")
    return transformers.MambaConfig(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.dim,
        state_size=cfg.d_state,
        num_hidden_layers=cfg.n_layers,
        expand=cfg.expand,
        conv_kernel=cfg.d_conv,
        time_step_rank=cfg.dt_rank,
        use_bias=False,
        use_conv_bias=True,
        layer_norm_epsilon=cfg.norm_eps,
        residual_in_fp32=False,
        tie_word_embeddings=True,
    )


def test_mixer_equals_transformers_mamba_mixer():
    from transformers.models.mamba.modeling_mamba import MambaMixer as HFMixer

    torch.manual_seed(2)
    cfg = MambaConfig(vocab_size=50, dim=32, n_layers=1, d_state=8)
    ours = MambaMixer(cfg).double()
    ref = HFMixer(hf_mamba_config(cfg), 0).double().eval()
    ref.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(2, 11, 32, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0], ref(x), atol=1e-9, rtol=0)


def test_model_equals_transformers_mamba_for_causal_lm():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(3)
    cfg = MambaConfig(vocab_size=50, dim=32, n_layers=2, d_state=8)
    ours = Mamba(cfg).double().eval()
    ref = transformers.MambaForCausalLM(hf_mamba_config(cfg)).double().eval()
    rename = {"embed.": "backbone.embeddings.", "blocks.": "backbone.layers.", "norm_f.": "backbone.norm_f."}
    state = {}
    for name, value in ours.state_dict().items():
        prefix = next((p for p in rename if name.startswith(p)), "")
        state[rename.get(prefix, "") + name[len(prefix) :]] = value
    ref.load_state_dict(state, strict=True)
    ids = torch.randint(0, 50, (2, 13))
    with torch.no_grad():
        # transformers returns float32 logits
        torch.testing.assert_close(ours(ids).float(), ref(ids).logits, atol=1e-6, rtol=0)


@pytest.mark.parametrize("scan", ["auto", "time_major", "fused", "parallel", "sequential"])
def test_decoding_token_by_token_equals_the_full_forward(scan):
    torch.manual_seed(4)
    model = Mamba(MambaConfig(vocab_size=40, dim=32, n_layers=2, d_state=8, scan=scan)).double().eval()
    assert isinstance(model, CausalLM)
    ids = torch.randint(0, 40, (2, 15))
    with torch.no_grad():
        full = model(ids)
        cache = model.new_cache(2)
        steps = [model(ids[:, :6], kv_cache=cache)]
        size = cache.nbytes()
        steps += [model(ids[:, t : t + 1], kv_cache=cache) for t in range(6, 15)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-12, rtol=0)
    assert cache.nbytes() == size and cache.length == 15  # the state does not grow


def test_bad_config_names_the_parameter():
    with pytest.raises(ValueError, match="scan"):
        MambaConfig(scan="blelloch")
    with pytest.raises(ValueError, match="d_state"):
        MambaConfig(d_state=0)
