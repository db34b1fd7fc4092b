"""The micrograd-style scalar engine: random expression graphs against torch autograd (float64)."""

from __future__ import annotations

import gc
import random
import weakref

import pytest
import torch

from groundup.grad import MLP, Value

pytestmark = pytest.mark.module("0.7")

UNARY = ["exp", "tanh", "relu", "sigmoid", "log", "pow"]
BINARY = ["+", "-", "*", "/"]


def random_graph(rng: random.Random, leaves, lib: str, plan):
    """Apply the same random op plan to our Values or torch tensors."""
    nodes = list(leaves)
    for op, i, j, k in plan:
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        if op == "+":
            nodes.append(a + b)
        elif op == "-":
            nodes.append(a - b * 0.5)
        elif op == "*":
            nodes.append(a * b)
        elif op == "/":
            nodes.append(a / (b * b + 1.0))
        elif op == "pow":
            nodes.append((a * a + 0.5) ** k)
        elif op == "log":
            nodes.append((a * a + 0.1).log())
        elif op == "exp":
            nodes.append((a * 0.3).exp())
        else:
            nodes.append(getattr(a, op)())
    out = nodes[-1]
    for n in nodes[len(leaves) : -1]:
        out = out + n * 0.1
    return out


@pytest.mark.parametrize("seed", range(20))
def test_random_graph_matches_torch(seed):
    rng = random.Random(seed)
    values = [rng.uniform(-2, 2) for _ in range(4)]
    plan = [
        (rng.choice(UNARY + BINARY), rng.randrange(99), rng.randrange(99), rng.choice([2, 3, -1.5, 0.5]))
        for _ in range(12)
    ]
    ours = [Value(v) for v in values]
    theirs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    out = random_graph(rng, ours, "ours", plan)
    ref = random_graph(rng, theirs, "torch", plan)
    out.backward()
    ref.backward()
    assert out.data == pytest.approx(ref.item(), rel=1e-9, abs=1e-12)
    for v, t in zip(ours, theirs):
        expected = 0.0 if t.grad is None else t.grad.item()
        assert v.grad == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_mlp_training_step_frees_graph_without_gc():
    """The graph has no reference cycles: with gc disabled, dropping the loss frees every node."""
    model = MLP(3, [4, 4, 1])
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    gc.collect()
    gc.disable()
    try:
        losses = []
        for _ in range(20):
            loss = sum(((model(x) - y) ** 2 for x, y in zip(xs, ys)), Value(0.0))
            model.zero_grad()
            loss.backward()
            for p in model.parameters():
                p.data -= 0.05 * p.grad
            losses.append(loss.data)
        probe = weakref.ref(loss)
        del loss
        assert probe() is None
        assert gc.collect() == 0
    finally:
        gc.enable()
    assert losses[-1] < 0.5 * losses[0]
