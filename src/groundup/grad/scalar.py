"""`Value`: a scalar autograd engine in the style of micrograd, plus a tiny MLP built from it.

Each op returns a new Value remembering its inputs and a rule `_backward(grad)` that adds the chain-rule
contribution to those inputs' `.grad`. The rule receives the output's gradient as an argument instead
of closing over the output Value, so the graph has no reference cycles: it is freed by reference
counting as soon as the loss goes out of scope (no garbage-collector passes per training step).
"""

from __future__ import annotations

import math
import random


class Value:
    __slots__ = ("data", "grad", "_prev", "_backward", "_op", "__weakref__")

    def __init__(self, data: float, _prev: tuple[Value, ...] = (), _op: str = ""):
        self.data = float(data)
        self.grad = 0.0
        self._prev = _prev
        self._backward = None  # rule(out_grad) -> None
        self._op = _op

    @staticmethod
    def _lift(x) -> Value:
        return x if isinstance(x, Value) else Value(x)

    def __add__(self, other) -> Value:
        other = Value._lift(other)
        out = Value(self.data + other.data, (self, other), "+")

        def rule(g):
            self.grad += g
            other.grad += g

        out._backward = rule
        return out

    def __mul__(self, other) -> Value:
        other = Value._lift(other)
        out = Value(self.data * other.data, (self, other), "*")

        def rule(g):
            self.grad += other.data * g
            other.grad += self.data * g

        out._backward = rule
        return out

    def __pow__(self, k: float) -> Value:
        if not isinstance(k, int | float):
            raise ValueError(f"Value ** k needs a constant exponent, got {type(k).__name__}")
        out = Value(self.data**k, (self,), f"**{k}")

        def rule(g):
            self.grad += k * self.data ** (k - 1) * g

        out._backward = rule
        return out

    def _unary(self, value: float, slope: float, op: str) -> Value:
        """An elementwise function with local derivative `slope` at this point."""
        out = Value(value, (self,), op)

        def rule(g):
            self.grad += slope * g

        out._backward = rule
        return out

    def exp(self) -> Value:
        e = math.exp(self.data)
        return self._unary(e, e, "exp")

    def log(self) -> Value:
        return self._unary(math.log(self.data), 1.0 / self.data, "log")

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return self._unary(t, 1 - t * t, "tanh")

    def relu(self) -> Value:
        return self._unary(max(self.data, 0.0), float(self.data > 0), "relu")

    def sigmoid(self) -> Value:
        s = (
            1 / (1 + math.exp(-self.data))
            if self.data >= 0
            else math.exp(self.data) / (1 + math.exp(self.data))
        )
        return self._unary(s, s * (1 - s), "sigmoid")

    def __neg__(self) -> Value:
        return self * -1

    def __sub__(self, other) -> Value:
        return self + (-Value._lift(other))

    def __truediv__(self, other) -> Value:
        return self * Value._lift(other) ** -1

    def __radd__(self, other) -> Value:
        return self + other

    def __rsub__(self, other) -> Value:
        return Value._lift(other) - self

    def __rmul__(self, other) -> Value:
        return self * other

    def __rtruediv__(self, other) -> Value:
        return Value._lift(other) / self

    def backward(self) -> None:
        """Topologically sort the graph, then apply each node's rule from the output back."""
        order, seen = [], set()
        stack = [(self, False)]
        while stack:  # iterative DFS: deep graphs do not hit the recursion limit
            node, done = stack.pop()
            if done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node._prev if id(p) not in seen)
        self.grad = 1.0
        for node in reversed(order):
            if node._backward is not None:
                node._backward(node.grad)

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"


class Neuron:
    def __init__(self, n_in: int, nonlin: bool = True, rng: random.Random | None = None):
        rng = rng or random.Random(0)
        self.w = [Value(rng.uniform(-1, 1)) for _ in range(n_in)]
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x: list) -> Value:
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.tanh() if self.nonlin else act

    def parameters(self) -> list[Value]:
        return self.w + [self.b]


class MLP:
    """Fully connected layers of tanh neurons; the last layer is linear. `sizes` = [in, hidden..., out]."""

    def __init__(self, n_in: int, sizes: list[int], seed: int = 0):
        rng = random.Random(seed)
        dims = [n_in] + list(sizes)
        self.layers = [
            [Neuron(dims[i], nonlin=i < len(sizes) - 1, rng=rng) for _ in range(dims[i + 1])]
            for i in range(len(sizes))
        ]

    def __call__(self, x: list) -> list[Value] | Value:
        for layer in self.layers:
            x = [neuron(x) for neuron in layer]
        return x[0] if len(x) == 1 else x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for neuron in layer for p in neuron.parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0
