"""QuantLinear / QuantConv2d, swap_quant_layers, static and dynamic PTQ, QAT with the straight-through estimator."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from groundup.quant import (
    QScheme,
    QuantConfig,
    QuantConv2d,
    QuantLinear,
    calibrate,
    convert,
    fake_quantize_affine,
    model_nbytes,
    swap_quant_layers,
)
from groundup.quant.modules import weight_qparams

pytestmark = pytest.mark.module("1.1")


def tiny_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 16),
        nn.ReLU(),
        nn.Linear(16, 10),
    )


def inputs(n=32, seed=0):
    return torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


def test_quantize_model_swaps_layers_and_honours_skip():
    q = swap_quant_layers(tiny_cnn(), QuantConfig(skip=("5",)))
    assert isinstance(q[0], QuantConv2d) and isinstance(q[3], QuantLinear) and type(q[5]) is nn.Linear


@pytest.mark.parametrize("mode", ["fake", "int"])
def test_static_ptq_stays_close_to_float(mode):
    model, x = tiny_cnn().eval(), inputs()
    q = calibrate(swap_quant_layers(model, QuantConfig(mode=mode)), [x[:16], x[16:]]).eval()
    y, y_q = model(x), q(x)
    assert ((y - y_q).abs().max() / y.abs().max()) < 0.05


def test_integer_execution_equals_fake_quant_simulation():
    """Equivalence of the two paths: int8 GEMM + rescale vs float math on fake-quantized tensors."""
    model, x = tiny_cnn().eval(), inputs()
    fake = calibrate(swap_quant_layers(model, QuantConfig(mode="fake")), [x]).eval()
    integer = convert(fake).eval()
    assert integer[0].weight_q.dtype == torch.int8
    torch.testing.assert_close(integer(x), fake(x), rtol=1e-4, atol=1e-5)


def test_dynamic_ptq_uses_each_batchs_own_range():
    model, x = tiny_cnn().eval(), inputs()
    q = swap_quant_layers(model, QuantConfig(mode="int", dynamic=True)).eval()
    small, large = q(x), q(x * 100)
    assert ((small - model(x)).abs().max() / model(x).abs().max()) < 0.05
    assert ((large - model(x * 100)).abs().max() / model(x * 100).abs().max()) < 0.05


def test_weight_only_int8_is_exactly_float_on_dequantized_weights():
    model, x = tiny_cnn().eval(), inputs()
    q = swap_quant_layers(model, QuantConfig(mode="int", activation=None)).eval()
    w_hat = q[3].weight_q.float() * q[3].weight_scale
    h = q[:3](x)
    torch.testing.assert_close(q[3](h), h @ w_hat.t() + q[3].bias, rtol=1e-5, atol=1e-5)


def test_qat_gradients_equal_the_ste_definition():
    """dL/dW = dL/dŴ · 1[code in range]; dL/dx likewise; compared with torch's fake-quant autograd."""
    torch.manual_seed(0)
    linear = nn.Linear(12, 6)
    config = QuantConfig(
        weight=QScheme(bits=4, granularity="channel"), activation=QScheme(bits=4, symmetric=False)
    )
    layer = QuantLinear.from_float(linear, config).train()
    x = (torch.randn(8, 12) * 2).requires_grad_()
    layer(x).square().sum().backward()

    w_scale, w_zero = weight_qparams(linear.weight, config)
    a_scale, a_zero = layer.observer.qparams()
    w_ref = linear.weight.detach().clone().requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    w_fq = torch.fake_quantize_per_channel_affine(w_ref, w_scale.reshape(-1), w_zero.reshape(-1), 0, -8, 7)
    x_fq = torch.fake_quantize_per_tensor_affine(x_ref, a_scale.reshape(()), a_zero.reshape(()), -8, 7)
    nn.functional.linear(x_fq, w_fq, linear.bias).square().sum().backward()
    torch.testing.assert_close(layer.weight.grad, w_ref.grad, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-6, atol=1e-6)


def test_ste_gradient_is_identity_inside_and_zero_outside_the_clipping_range():
    x = torch.linspace(-3, 3, 61, requires_grad=True)
    y = fake_quantize_affine(x, torch.tensor(0.1), torch.tensor(0), -8, 7)  # range [-0.8, 0.7]
    y.backward(torch.ones_like(y))
    codes = torch.round(x.detach() / 0.1)
    assert torch.equal(x.grad, ((codes >= -8) & (codes <= 7)).float())


def test_qat_training_reduces_loss_and_converts_to_integers():
    torch.manual_seed(0)
    x = torch.randn(96, 1, 8, 8)
    y = (x.mean(dim=(1, 2, 3)) > 0).long()
    model = swap_quant_layers(tiny_cnn(), QuantConfig(weight=QScheme(bits=4, granularity="channel")))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(8):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.8
    integer = convert(model).eval()
    torch.testing.assert_close(integer(x), model.eval()(x), rtol=1e-4, atol=1e-4)


def test_model_size_counts_bits():
    model = tiny_cnn()
    float_bytes = sum(p.numel() for p in model.parameters()) * 4
    assert model_nbytes(model) == float_bytes
    q8 = swap_quant_layers(model, QuantConfig(weight=QScheme(bits=8)))
    q4 = swap_quant_layers(model, QuantConfig(weight=QScheme(bits=4)))
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d))
    biases = sum(m.bias.numel() for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d))
    assert model_nbytes(q8) == weights + 3 * 4 + biases * 4
    assert model_nbytes(q4) == weights // 2 + 3 * 4 + biases * 4  # every layer's weight count is even
