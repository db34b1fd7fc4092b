"""Layers against torch.nn with identical weights: forward, input gradient and every parameter gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from groundup.grad import Tensor, gradcheck, nn

F64 = np.float64


def run_both(ours, theirs, inputs: list[np.ndarray], rtol=1e-9, atol=1e-11, pick=None, call=None):
    """Copy torch's weights into ours, run both on the same inputs, compare outputs and all gradients."""
    theirs = theirs.double()
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    pick = pick or (lambda out: out)
    call = call or (lambda module, *args: module(*args))
    xs = [Tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in inputs]
    txs = [torch.tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in inputs]
    out, ref = pick(call(ours, *xs)), pick(call(theirs, *txs))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=atol)
    upstream = np.random.default_rng(9).standard_normal(out.shape)
    out.backward(upstream)
    ref.backward(torch.tensor(upstream))
    for x, tx in zip(xs, txs):
        if x.requires_grad:
            np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=rtol, atol=atol)
    theirs_params = dict(theirs.named_parameters())
    assert set(dict(ours.named_parameters())) == set(theirs_params)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(
            p.grad, theirs_params[name].grad.numpy(), rtol=rtol, atol=atol, err_msg=name
        )
    return ours, theirs


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.module("0.2")
def test_linear_and_sequential():
    ours = nn.Sequential(nn.Linear(4, 5, dtype=F64), nn.Tanh(), nn.Linear(5, 2, dtype=F64))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    run_both(ours, theirs, [randn(3, 4)])


@pytest.mark.module("0.3")
def test_conv_pool_flatten_stack():
    ours = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, dtype=F64),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 3, groups=2, dtype=F64),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(4, 3, dtype=F64),
    )
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 4, 3, groups=2),
        torch.nn.AvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 3),
    )
    run_both(ours, theirs, [randn(2, 2, 8, 8)])


@pytest.mark.module("0.2")
def test_embedding_layer():
    run_both(nn.Embedding(7, 3, dtype=F64), torch.nn.Embedding(7, 3), [np.array([[1, 2, 2], [6, 0, 1]])])


@pytest.mark.module("0.6")
@pytest.mark.parametrize(
    "ours,theirs,shape",
    [
        (lambda: nn.LayerNorm(5, dtype=F64), lambda: torch.nn.LayerNorm(5), (3, 4, 5)),
        (lambda: nn.LayerNorm((4, 5), dtype=F64), lambda: torch.nn.LayerNorm((4, 5)), (3, 4, 5)),
        (lambda: nn.GroupNorm(2, 4, dtype=F64), lambda: torch.nn.GroupNorm(2, 4), (3, 4, 3, 2)),
        (
            lambda: nn.InstanceNorm2d(3, affine=True, dtype=F64),
            lambda: torch.nn.InstanceNorm2d(3, affine=True),
            (2, 3, 4, 5),
        ),
        (lambda: nn.RMSNorm(5, dtype=F64), lambda: torch.nn.RMSNorm(5), (3, 5)),
        (lambda: nn.RMSNorm(5, eps=1e-3, dtype=F64), lambda: torch.nn.RMSNorm(5, eps=1e-3), (2, 3, 5)),
    ],
)
def test_norm_layers(ours, theirs, shape):
    t = theirs()
    with torch.no_grad():  # non-trivial affine weights
        for p in t.parameters():
            p.add_(torch.randn(p.shape) * 0.5)
    run_both(ours(), t, [randn(*shape)])


@pytest.mark.module("0.6")
@pytest.mark.parametrize("kind,shape", [("1d", (6, 3)), ("1d", (4, 3, 5)), ("2d", (4, 3, 2, 5))])
def test_batchnorm_train_then_eval(kind, shape):
    """Train mode: batch statistics and running-stat updates; eval mode: running statistics."""
    ours = (nn.BatchNorm1d if kind == "1d" else nn.BatchNorm2d)(3, momentum=0.2, dtype=F64)
    theirs = (torch.nn.BatchNorm1d if kind == "1d" else torch.nn.BatchNorm2d)(3, momentum=0.2)
    for step in range(3):
        run_both(ours, theirs, [randn(*shape, seed=step) * 2 + 1])
    ours.train()
    theirs.train()
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.double().state_dict().items()})
    x = randn(*shape, seed=7) * 3 - 1
    ours(Tensor(x))
    theirs(torch.tensor(x))
    for name, buf in ours.named_buffers():
        np.testing.assert_allclose(buf, theirs.state_dict()[name].numpy(), rtol=1e-12, err_msg=name)
    ours.eval()
    theirs.eval()
    run_both(ours, theirs, [randn(*shape, seed=8)])


@pytest.mark.module("0.6")
def test_dropout_train_and_eval_semantics():
    x = Tensor(np.ones((200, 50)), requires_grad=True)
    layer = nn.Dropout(0.3, rng=np.random.default_rng(0))
    y = layer(x)
    kept = y.data != 0
    assert abs(1 - kept.mean() - 0.3) < 0.02  # torch's Bernoulli(1 - p) keep rate
    np.testing.assert_allclose(y.data[kept], 1 / 0.7)  # survivors scaled as in torch
    y.sum().backward()
    np.testing.assert_allclose(x.grad, y.data)  # gradient is the same mask and scale
    layer.eval()
    assert layer(x) is x
    t = torch.nn.Dropout(0.3)
    t.eval()
    assert torch.equal(t(torch.ones(3)), torch.ones(3))


@pytest.mark.module("0.4")
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_cells_match_torch(kind):
    ours, theirs = getattr(nn, kind + "Cell")(3, 4, dtype=F64), getattr(torch.nn, kind + "Cell")(3, 4)
    if kind == "LSTM":
        for i in range(2):
            run_both(
                ours,
                theirs,
                [randn(2, 3), randn(2, 4, seed=1), randn(2, 4, seed=2)],
                pick=lambda out, i=i: out[i],
                call=lambda m, x, h, c: m(x, (h, c)),
            )
    else:
        run_both(ours, theirs, [randn(2, 3), randn(2, 4, seed=1)])


@pytest.mark.module("0.4")
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_sequence_modules_bptt(kind, batch_first):
    """Two layers, five steps: outputs and gradients through time match torch."""
    ours = getattr(nn, kind)(3, 4, num_layers=2, batch_first=batch_first, dtype=F64)
    theirs = getattr(torch.nn, kind)(3, 4, num_layers=2, batch_first=batch_first)
    run_both(ours, theirs, [randn(5, 2, 3)], pick=lambda out: out[0])

    # final states too (through the summed graph)
    def final(out):
        return out[1][1] if kind == "LSTM" else out[1]

    run_both(ours, theirs, [randn(5, 2, 3, seed=2)], pick=final)


@pytest.mark.module("0.4")
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_bidirectional_modules_match_torch(kind):
    """bidirectional=True: two layers over both directions, outputs (T, N, 2H), final states
    (layers * 2, N, H) and every gradient (incl. the *_reverse weights) equal torch's."""
    ours = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, dtype=F64)
    theirs = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True)
    run_both(ours, theirs, [randn(5, 2, 3)], pick=lambda out: out[0])
    run_both(ours, theirs, [randn(5, 2, 3, seed=3)], pick=lambda out: out[1][0] if kind == "LSTM" else out[1])
    assert ours(Tensor(randn(5, 2, 3)))[0].shape == (5, 2, 8)


@pytest.mark.module("0.2")
@pytest.mark.parametrize("causal,padding", [(False, False), (True, False), (False, True)])
def test_multi_head_attention(causal, padding):
    ours, theirs = nn.MultiHeadAttention(8, 2, dtype=F64), torch.nn.MultiheadAttention(8, 2, batch_first=True)
    mask = np.array([[False] * 5, [False, False, False, True, True]]) if padding else None
    tmask = torch.tensor(mask) if padding else None
    causal_mask = torch.triu(torch.ones(5, 5, dtype=torch.bool), 1) if causal else None

    class Ours(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = ours

        def forward(self, q, kv):
            return self.attn(q, kv, kv, key_padding_mask=mask, causal=causal)

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = theirs

        def forward(self, q, kv):
            return self.attn(q, kv, kv, key_padding_mask=tmask, attn_mask=causal_mask)

    for pick in (lambda o: o[0], lambda o: o[1]):
        run_both(Ours(), Theirs(), [randn(2, 5, 8), randn(2, 5, 8, seed=1)], pick=pick)


GRADCHECK_LAYERS = {
    "linear": (lambda r: nn.Linear(3, 2, dtype=F64, rng=r), (2, 3)),
    "conv2d": (lambda r: nn.Conv2d(2, 2, 2, stride=2, padding=1, dtype=F64, rng=r), (1, 2, 3, 3)),
    "batchnorm1d": (lambda r: nn.BatchNorm1d(3, dtype=F64), (4, 3)),
    "batchnorm2d": (lambda r: nn.BatchNorm2d(2, dtype=F64), (2, 2, 2, 2)),
    "layernorm": (lambda r: nn.LayerNorm(3, dtype=F64), (2, 3)),
    "instancenorm": (lambda r: nn.InstanceNorm2d(2, affine=True, dtype=F64), (1, 2, 2, 3)),
    "rmsnorm": (lambda r: nn.RMSNorm(3, dtype=F64), (2, 3)),
    "rnn": (lambda r: nn.RNN(2, 2, num_layers=2, dtype=F64, rng=r), (3, 1, 2)),
    "lstm": (lambda r: nn.LSTM(2, 2, dtype=F64, rng=r), (3, 1, 2)),
    "attention": (lambda r: _SelfAttention(nn.MultiHeadAttention(4, 2, dtype=F64, rng=r)), (1, 3, 4)),
}


class _SelfAttention(nn.Module):
    def __init__(self, attn):
        super().__init__()
        self.attn = attn

    def forward(self, x):
        return self.attn(x, x, x, causal=True)


@pytest.mark.module("0.2")
@pytest.mark.parametrize("name", GRADCHECK_LAYERS)
def test_every_layer_gradcheck(name):
    """Finite differences for the input and every parameter of each layer (float64)."""
    make, shape = GRADCHECK_LAYERS[name]
    rng = np.random.default_rng(0)
    layer = make(rng)
    params = layer.parameters()
    x = Tensor(rng.standard_normal(shape), requires_grad=True)

    def fn(x, *ps):
        out = layer(x)
        return out[0] if isinstance(out, tuple) else out

    gradcheck(fn, [x, *params])


@pytest.mark.module("0.2")
def test_layer_gradcheck():
    """Finite differences through a small conv/norm/rnn stack (float64)."""
    rng = np.random.default_rng(0)
    conv = nn.Conv2d(2, 2, 2, dtype=F64, rng=rng)
    norm = nn.GroupNorm(1, 2, dtype=F64)
    x = Tensor(rng.standard_normal((2, 2, 3, 3)), requires_grad=True)
    gradcheck(lambda x, w: norm(conv(x)) * w.sum(), [x, conv.weight])
    gru = nn.GRU(2, 3, dtype=F64, rng=rng)
    seq = Tensor(rng.standard_normal((3, 1, 2)), requires_grad=True)
    gradcheck(lambda s, w: gru(s)[0] * w.sum(), [seq, gru.weight_hh_l0])
