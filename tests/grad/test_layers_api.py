"""The explicit Layer API (0.2 capstone step 1): every hand-written backward equals our autograd and
torch's, and a `Network` of them trains."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from groundup.grad import Tensor
from groundup.grad import functional as gf
from groundup.grad import losses as gl
from groundup.grad.layers_api import (
    ActivationLayer,
    BatchNormLayer,
    DropoutLayer,
    LinearLayer,
    Network,
    SoftmaxCrossEntropy,
    mlp,
)
from groundup.grad.nn import BatchNorm1d

pytestmark = pytest.mark.module("0.2")
TOL = dict(rtol=1e-9, atol=1e-11)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def torch_grads(fn, *arrays, upstream):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.backward(torch.tensor(upstream))
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


def autograd_grads(fn, *arrays, upstream):
    ts = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.backward(upstream)
    return out.data, [t.grad for t in ts]


def test_linear_backward_equals_autograd_and_torch():
    layer = LinearLayer(5, 3, np.random.default_rng(0))
    x, g = randn(4, 5), randn(4, 3, seed=1)
    y = layer.forward(x)
    dx = layer.backward(g)
    W, b = layer.params["W"], layer.params["b"]
    for run in (torch_grads, autograd_grads):
        lin = F.linear if run is torch_grads else gf.linear
        out, (rx, rW, rb) = run(lin, x, W, b, upstream=g)
        np.testing.assert_allclose(y, out, **TOL)
        np.testing.assert_allclose(dx, rx, **TOL)
        np.testing.assert_allclose(layer.grads["W"], rW, **TOL)
        np.testing.assert_allclose(layer.grads["b"], rb, **TOL)


@pytest.mark.parametrize(
    ("name", "ours", "theirs"),
    [
        ("relu", gf.relu, torch.relu),
        ("tanh", gf.tanh, torch.tanh),
        ("sigmoid", gf.sigmoid, torch.sigmoid),
        ("gelu", gf.gelu, F.gelu),
        ("leaky_relu", gf.leaky_relu, F.leaky_relu),
    ],
)
def test_activation_backward_equals_autograd_and_torch(name, ours, theirs):
    layer = ActivationLayer(name)
    x, g = randn(6, 7), randn(6, 7, seed=1)
    y, dx = layer.forward(x), layer.backward(g)
    for run, fn in ((torch_grads, theirs), (autograd_grads, ours)):
        out, (rx,) = run(fn, x, upstream=g)
        np.testing.assert_allclose(y, out, **TOL)
        np.testing.assert_allclose(dx, rx, **TOL)
    with pytest.raises(ValueError, match="name must be one of"):
        ActivationLayer("swish")


def test_dropout_scales_survivors_and_routes_the_gradient_through_the_same_mask():
    layer = DropoutLayer(0.25, np.random.default_rng(0))
    x, g = np.ones((2000, 50)), randn(2000, 50, seed=1)
    y = layer.forward(x)
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01 and np.allclose(y[kept], 1 / 0.75)
    mask = torch.tensor(y)  # torch's gradient of x * m / (1 - p) for the same m
    _, (rx,) = torch_grads(lambda t: t * mask, x, upstream=g)
    np.testing.assert_allclose(layer.backward(g), rx, **TOL)
    layer.training = False
    assert layer.forward(x) is x and layer.backward(g) is g
    with pytest.raises(ValueError, match="p must be in"):
        DropoutLayer(1.0)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_backward_and_running_statistics_equal_torch_and_autograd(training):
    layer = BatchNormLayer(5)
    layer.params["gamma"], layer.params["beta"] = randn(5, seed=2), randn(5, seed=3)
    warm = randn(16, 5, seed=4) * 3 + 1
    layer.forward(warm)  # one training batch moves the running statistics
    running_mean, running_var = torch.zeros(5, dtype=torch.float64), torch.ones(5, dtype=torch.float64)
    F.batch_norm(torch.tensor(warm), running_mean, running_var, training=True, momentum=0.1)
    np.testing.assert_allclose(layer.running_mean, running_mean.numpy(), **TOL)
    np.testing.assert_allclose(layer.running_var, running_var.numpy(), **TOL)

    layer.training = training
    x, g = randn(8, 5, seed=5), randn(8, 5, seed=6)
    y, dx = layer.forward(x), layer.backward(g)
    gamma, beta = layer.params["gamma"], layer.params["beta"]

    def torch_bn(xt, w, b):
        return F.batch_norm(xt, running_mean.clone(), running_var.clone(), w, b, training=training)

    out, (rx, rg, rb) = torch_grads(torch_bn, x, gamma, beta, upstream=g)
    np.testing.assert_allclose(y, out, **TOL)
    np.testing.assert_allclose(dx, rx, **TOL)
    np.testing.assert_allclose(layer.grads["gamma"], rg, **TOL)
    np.testing.assert_allclose(layer.grads["beta"], rb, **TOL)

    ours = BatchNorm1d(5, dtype=np.float64)
    ours.load_state_dict(
        {
            "weight": gamma,
            "bias": beta,
            "running_mean": running_mean.numpy(),
            "running_var": running_var.numpy(),
            "num_batches_tracked": np.array(1),
        }
    )
    ours.train(training)
    xt = Tensor(x.copy(), requires_grad=True)
    ours(xt).backward(g)
    np.testing.assert_allclose(dx, xt.grad, **TOL)
    np.testing.assert_allclose(layer.grads["gamma"], ours.weight.grad, **TOL)


def test_softmax_cross_entropy_gradient_equals_torch_and_autograd():
    loss = SoftmaxCrossEntropy()
    z, y = randn(6, 4) * 3, np.array([0, 3, 1, 1, 2, 0])
    value, dz = loss.forward(z, y), loss.backward()
    zt = torch.tensor(z, requires_grad=True)
    expected = F.cross_entropy(zt, torch.tensor(y))
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(dz, zt.grad.numpy(), **TOL)
    za = Tensor(z.copy(), requires_grad=True)
    gl.cross_entropy(za, y).backward()
    np.testing.assert_allclose(dz, za.grad, **TOL)


def test_network_gradients_equal_a_torch_twin_layer_by_layer():
    """Linear -> BatchNorm -> GELU -> Linear -> tanh -> Linear: every parameter gradient of one
    backward through the Network equals torch autograd's for the same weights."""
    layers = mlp([6, 8, 7, 3], activation="gelu", batchnorm=True, seed=1)
    layers[-2] = ActivationLayer("tanh")
    net = Network(layers)
    x, y = randn(10, 6), np.arange(10) % 3
    loss = net.loss.forward(net.forward(x), y)
    net.backward(net.loss.backward())

    params = {
        (i, k): torch.tensor(v, requires_grad=True)
        for i, layer in enumerate(layers)
        for k, v in layer.params.items()
    }
    h = torch.tensor(x)
    for i, layer in enumerate(layers):
        if isinstance(layer, LinearLayer):
            h = F.linear(h, params[i, "W"], params[i, "b"])
        elif isinstance(layer, BatchNormLayer):
            h = F.batch_norm(h, None, None, params[i, "gamma"], params[i, "beta"], training=True)
        else:
            h = {"gelu": F.gelu, "tanh": torch.tanh}[layer.name](h)
    expected = F.cross_entropy(h, torch.tensor(y))
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    for (i, k), p in params.items():
        np.testing.assert_allclose(layers[i].grads[k], p.grad.numpy(), **TOL)


def test_network_trains_on_real_digits():
    from groundup.data import load_sklearn

    X, y = load_sklearn("digits")
    X = X / 16.0
    net = Network(mlp([64, 64, 10], dropout=0.1, batchnorm=True, seed=0), lr=0.05)
    history = net.fit(X[:1400], y[:1400], epochs=8, batch_size=32)
    assert history[-1] < 0.25 * history[0], history
    assert net.accuracy(X[1400:], y[1400:]) > 0.9


def test_gradient_profile_shows_the_sigmoid_vanishing_and_he_init_keeping_relu_alive():
    from groundup.grad.demos.layer_studies import gradient_profile

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 20)), rng.integers(0, 10, 64)
    ratio = {}
    for name, init in (("sigmoid", "gain"), ("relu", "default"), ("relu", "gain")):
        norms = gradient_profile(name, 8, 32, x, y, init=init)["grad_norm"]
        ratio[name, init] = norms[0] / norms[-1]
    assert ratio["sigmoid", "gain"] < 1e-3  # slope <= 1/4 per layer: the first layer learns nothing
    assert ratio["relu", "gain"] > 10 * ratio["relu", "default"] and ratio["relu", "gain"] > 0.2
