"""GPTQ against a column-by-column Optimal Brain Quantization reference written here, and against RTN."""

import pytest
import torch

from groundup.quant.llm.gptq import HessianAccumulator, gptq_quantize
from groundup.quant.llm.qweight import fake_quantize, group_params
from groundup.quant.llm.rtn import rtn_quantize

pytestmark = pytest.mark.module("1.2")


def obq_reference(weight, hessian, bits, group_size, damp=0.01, act_order=False, static_groups=False):
    """Textbook OBQ with a fixed column order: keep the full inverse Hessian, quantize one column,
    spread its error with that column's row of H⁻¹, then eliminate the column from H⁻¹ (Gaussian step)."""
    W = weight.double().clone()
    H = hessian.double().clone()
    n = W.shape[1]
    dead = H.diagonal() == 0
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    g = group_size or n
    fixed = static_groups or group_size is None
    params = {}
    if fixed:
        for k in range(-(-n // g)):
            params[k] = group_params(W[:, k * g : (k + 1) * g], bits)
    order = torch.argsort(H.diagonal(), descending=True, stable=True) if act_order else torch.arange(n)
    H = H + damp * H.diagonal()[order].mean() * torch.eye(n, dtype=torch.float64)
    Hinv = torch.linalg.inv(H)
    W_hat = torch.zeros_like(W)
    for pos, p in enumerate(order.tolist()):
        if fixed:
            s, z = params[p // g]
        else:
            if pos % g == 0:
                cols = order[pos : pos + g]
                params[pos // g] = group_params(W[:, cols], bits)
            s, z = params[pos // g]
        q = fake_quantize(W[:, p : p + 1], s, z, bits)[:, 0]
        W -= ((W[:, p] - q) / Hinv[p, p])[:, None] * Hinv[p][None, :]
        W[:, p] = q
        W_hat[:, p] = q
        Hinv = Hinv - Hinv[:, p : p + 1] @ Hinv[p : p + 1, :] / Hinv[p, p]
    return W_hat


def correlated_inputs(n_tokens, dim, seed):
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(dim, dim, generator=g) / dim**0.5
    scales = torch.rand(dim, generator=g) * 3 + 0.1
    return (torch.randn(n_tokens, dim, generator=g) @ mix) * scales


@pytest.mark.parametrize(
    ("bits", "group_size", "act_order", "static_groups", "in_f"),
    [
        (4, None, False, False, 128),
        (4, 32, False, False, 128),
        (3, 32, True, False, 128),
        (4, 32, True, True, 128),
        (8, 64, False, False, 128),
        (4, 64, False, False, 96),  # a shorter last group (96 = 64 + 32), like SmolLM2's 576 with g128
        (4, 64, True, True, 96),
    ],
)
def test_gptq_equals_column_by_column_obq(bits, group_size, act_order, static_groups, in_f):
    torch.manual_seed(0)
    W = torch.randn(24, in_f, dtype=torch.float64)
    X = correlated_inputs(512, in_f, seed=1).double()
    acc = HessianAccumulator(in_f)
    acc.add(X[:200])
    acc.add(X[200:])
    H = acc.hessian()
    torch.testing.assert_close(H, 2 * X.T @ X / 512)
    ours = gptq_quantize(
        W, H, bits, group_size, block_size=48, act_order=act_order, static_groups=static_groups
    ).dequantize()
    ref = obq_reference(W, H, bits, group_size, act_order=act_order, static_groups=static_groups)
    assert (ours.double() - ref).abs().max() < 1e-5


def test_gptq_block_size_does_not_change_the_result():
    W = torch.randn(16, 128)
    H = 2 * (lambda X: X.T @ X / len(X))(correlated_inputs(300, 128, seed=2)).double()
    a = gptq_quantize(W, H, 4, 32, block_size=32).dequantize()
    b = gptq_quantize(W, H, 4, 32, block_size=128).dequantize()
    assert torch.equal(a, b)


def test_gptq_reduces_layer_output_error_vs_rtn():
    torch.manual_seed(3)
    W = torch.randn(64, 128)
    X = correlated_inputs(1024, 128, seed=4)
    acc = HessianAccumulator(128)
    acc.add(X)
    for bits, gs in ((4, 128), (3, 32), (4, None)):
        err_gptq = ((X @ gptq_quantize(W, acc.hessian(), bits, gs).dequantize().T - X @ W.T) ** 2).mean()
        err_rtn = ((X @ rtn_quantize(W, bits, gs).dequantize().T - X @ W.T) ** 2).mean()
        assert err_gptq < 0.8 * err_rtn, (bits, gs, float(err_gptq), float(err_rtn))


def test_gptq_handles_dead_inputs_and_rejects_bad_specs():
    W = torch.randn(8, 64)
    X = torch.randn(100, 64)
    X[:, 5] = 0
    acc = HessianAccumulator(64)
    acc.add(X)
    qw = gptq_quantize(W, acc.hessian(), 4, 32)
    assert torch.isfinite(qw.dequantize()).all()
    with pytest.raises(ValueError, match="bits must be one of"):
        gptq_quantize(W, acc.hessian(), 5, 32)
    with pytest.raises(ValueError, match="group_size must be one of"):
        gptq_quantize(W, acc.hessian(), 4, 48)
    with pytest.raises(ValueError, match="no calibration tokens"):
        HessianAccumulator(4).hessian()
