"""`Tensor`: a NumPy array that records the operations applied to it, for reverse-mode autodiff.

Every op builds its output with `Tensor._make(data, parents, backward)`, where `backward(g)` maps the
gradient of the output to one gradient per parent. The backward function closes over the parents and
the NumPy arrays it needs, never over the output tensor, so the graph has no reference cycles and is
freed by reference counting alone (no garbage-collector passes during training). `backward()` walks
the graph in reverse topological order, sums gradients per node, and then drops the graph (like
PyTorch's default `retain_graph=False`).

Broadcasting: a binary op's gradient has the broadcast output shape; `unbroadcast` sums it back to
each input's shape (leading axes added by broadcasting, and axes that were 1).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np

_GRAD_ENABLED = True


@contextlib.contextmanager
def no_grad():
    """Inside this block ops record no graph (evaluation, optimizer updates)."""
    global _GRAD_ENABLED
    previous, _GRAD_ENABLED = _GRAD_ENABLED, False
    try:
        yield
    finally:
        _GRAD_ENABLED = previous


def is_grad_enabled() -> bool:
    return _GRAD_ENABLED


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` (a broadcast result's gradient) back to `shape`."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if ones:
        grad = grad.sum(axis=ones, keepdims=True)
    return grad


def broadcast_shape(op: str, a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast shape of `a` and `b`, or a ValueError naming both shapes and the op."""
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        raise ValueError(f"{op}: shapes {a} and {b} do not broadcast") from None


def normalize_axes(axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim if ndim else 0 for a in axes)


class Tensor:
    """A NumPy array plus autograd bookkeeping (`requires_grad`, `.grad`, parents, backward fn)."""

    __slots__ = ("data", "grad", "requires_grad", "_parents", "_backward", "__weakref__")
    __array_priority__ = 100  # so `ndarray * Tensor` calls Tensor.__rmul__

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        array = np.asarray(data.data if isinstance(data, Tensor) else data, dtype=dtype)
        if dtype is None and array.dtype.kind == "f" and array.dtype not in (np.float32, np.float64):
            array = array.astype(np.float32)
        if requires_grad and array.dtype.kind != "f":
            raise ValueError(f"requires_grad needs a float tensor, got dtype {array.dtype}")
        self.data = array
        self.grad: np.ndarray | None = None
        self.requires_grad = requires_grad
        self._parents: tuple[Tensor, ...] = ()
        self._backward: Callable | None = None

    @classmethod
    def _make(cls, data: np.ndarray, parents: tuple[Tensor, ...], backward: Callable) -> Tensor:
        """The output of an op; it joins the graph only if grad is on and a parent needs a gradient."""
        out = cls.__new__(cls)
        out.data, out.grad = data, None
        out._parents, out._backward = (), None
        out.requires_grad = False
        if _GRAD_ENABLED and any(p.requires_grad for p in parents):
            out.requires_grad = True
            out._parents, out._backward = parents, backward
        return out

    # ---- basic properties -------------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    T = property(lambda self: self.transpose())

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        flag = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({self.data!r}{flag})"

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        return self.data.item()

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor(self.data)

    def astype(self, dtype) -> Tensor:
        src = self.dtype
        return Tensor._make(self.data.astype(dtype), (self,), lambda g: (g.astype(src),))

    # ---- backward ---------------------------------------------------------------------------------
    def backward(self, gradient=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad`; then free the graph."""
        if not self.requires_grad:
            raise ValueError("backward(): this tensor does not require grad (no input had requires_grad)")
        if gradient is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward() on a non-scalar tensor of shape {self.shape} needs a gradient: pass "
                    "gradient= of the same shape, or reduce the output first (e.g. .sum())"
                )
            gradient = np.ones_like(self.data)
        gradient = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient, self.dtype)
        if gradient.shape != self.shape:
            raise ValueError(f"backward(): gradient shape {gradient.shape} != tensor shape {self.shape}")
        grads = {id(self): gradient}
        for node in reversed(self._topological_order()):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._backward is None:  # a leaf
                node.grad = g.copy() if node.grad is None else node.grad + g
                continue
            for parent, pg in zip(node._parents, node._backward(g)):
                if pg is None or not parent.requires_grad:
                    continue
                pg = unbroadcast(np.asarray(pg, dtype=parent.dtype), parent.shape)
                key = id(parent)
                grads[key] = pg if key not in grads else grads[key] + pg
            node._parents, node._backward = (), None

    def _topological_order(self) -> list[Tensor]:
        """Nodes in an order where every node comes after its parents (iterative DFS)."""
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node._parents if p.requires_grad and id(p) not in seen)
        return order

    # ---- arithmetic -------------------------------------------------------------------------------
    def _lift(self, other) -> Tensor:
        """A constant (Python number or array) as a tensor of our dtype."""
        if isinstance(other, Tensor):
            return other
        dtype = self.dtype if self.dtype.kind == "f" else None
        return Tensor(np.asarray(other, dtype=dtype))

    def __add__(self, other) -> Tensor:
        other = self._lift(other)
        broadcast_shape("add", self.shape, other.shape)
        return Tensor._make(self.data + other.data, (self, other), lambda g: (g, g))

    def __sub__(self, other) -> Tensor:
        other = self._lift(other)
        broadcast_shape("sub", self.shape, other.shape)
        return Tensor._make(self.data - other.data, (self, other), lambda g: (g, -g))

    def __mul__(self, other) -> Tensor:
        other = self._lift(other)
        broadcast_shape("mul", self.shape, other.shape)
        a, b = self.data, other.data
        return Tensor._make(a * b, (self, other), lambda g: (g * b, g * a))

    def __truediv__(self, other) -> Tensor:
        other = self._lift(other)
        broadcast_shape("div", self.shape, other.shape)
        a, b = self.data, other.data
        return Tensor._make(a / b, (self, other), lambda g: (g / b, -g * a / (b * b)))

    def __pow__(self, other) -> Tensor:
        if isinstance(other, Tensor):  # tensor exponent: d(a^b)/db = a^b log a
            broadcast_shape("pow", self.shape, other.shape)
            a, b = self.data, other.data
            out = a**b
            return Tensor._make(
                out, (self, other), lambda g: (g * b * a ** (b - 1), g * out * np.log(np.where(a > 0, a, 1)))
            )
        a, c = self.data, float(other)
        return Tensor._make(a**c, (self,), lambda g: (g * c * a ** (c - 1),))

    def __neg__(self) -> Tensor:
        return Tensor._make(-self.data, (self,), lambda g: (-g,))

    def __radd__(self, other) -> Tensor:
        return self + other

    def __rsub__(self, other) -> Tensor:
        return self._lift(other) - self

    def __rmul__(self, other) -> Tensor:
        return self * other

    def __rtruediv__(self, other) -> Tensor:
        return self._lift(other) / self

    def __rpow__(self, other) -> Tensor:
        return self._lift(other) ** self

    def __matmul__(self, other) -> Tensor:
        return matmul(self, self._lift(other))

    def __rmatmul__(self, other) -> Tensor:
        return matmul(self._lift(other), self)

    # comparisons give plain boolean arrays (no gradient flows through them)
    def __lt__(self, other):
        return self.data < _raw(other)

    def __le__(self, other):
        return self.data <= _raw(other)

    def __gt__(self, other):
        return self.data > _raw(other)

    def __ge__(self, other):
        return self.data >= _raw(other)

    # ---- elementwise math -------------------------------------------------------------------------
    def exp(self) -> Tensor:
        out = np.exp(self.data)
        return Tensor._make(out, (self,), lambda g: (g * out,))

    def log(self) -> Tensor:
        x = self.data
        return Tensor._make(np.log(x), (self,), lambda g: (g / x,))

    def sqrt(self) -> Tensor:
        out = np.sqrt(self.data)
        return Tensor._make(out, (self,), lambda g: (g / (2 * out),))

    def abs(self) -> Tensor:
        x = self.data
        return Tensor._make(np.abs(x), (self,), lambda g: (g * np.sign(x),))

    def tanh(self) -> Tensor:
        out = np.tanh(self.data)
        return Tensor._make(out, (self,), lambda g: (g * (1 - out * out),))

    def sigmoid(self) -> Tensor:
        out = _sigmoid(self.data)
        return Tensor._make(out, (self,), lambda g: (g * out * (1 - out),))

    def relu(self) -> Tensor:
        mask = self.data > 0
        return Tensor._make(self.data * mask, (self,), lambda g: (g * mask,))

    # ---- reductions -------------------------------------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        axes, shape = normalize_axes(axis, self.ndim), self.shape

        def backward(g):
            if not keepdims:
                g = np.expand_dims(g, axes)
            return (np.broadcast_to(g, shape),)

        return Tensor._make(np.sum(self.data, axis=axes, keepdims=keepdims), (self,), backward)

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        axes = normalize_axes(axis, self.ndim)
        count = int(np.prod([self.shape[a] for a in axes]))
        return self.sum(axes, keepdims) * (1.0 / count)

    def max(self, axis=None, keepdims: bool = False) -> Tensor:
        return self._extremum(np.max, axis, keepdims)

    def min(self, axis=None, keepdims: bool = False) -> Tensor:
        return self._extremum(np.min, axis, keepdims)

    def _extremum(self, reduce, axis, keepdims) -> Tensor:
        """max/min: the gradient goes to the extreme entries, split evenly between ties (as torch)."""
        axes, x = normalize_axes(axis, self.ndim), self.data
        kept = reduce(x, axis=axes, keepdims=True)

        def backward(g):
            mask = x == kept
            share = mask / mask.sum(axis=axes, keepdims=True)
            return ((g if keepdims else np.expand_dims(g, axes)) * share,)

        out = kept if keepdims else np.squeeze(kept, axis=axes)
        return Tensor._make(out, (self,), backward)

    def var(self, axis=None, keepdims: bool = False, correction: int = 1) -> Tensor:
        """Variance with `correction` (1 = unbiased, torch's default; 0 = population)."""
        axes = normalize_axes(axis, self.ndim)
        count = int(np.prod([self.shape[a] for a in axes]))
        centered = self - self.mean(axes, keepdims=True)
        return (centered * centered).sum(axes, keepdims) * (1.0 / max(count - correction, 0))

    def std(self, axis=None, keepdims: bool = False, correction: int = 1) -> Tensor:
        return self.var(axis, keepdims, correction).sqrt()

    # ---- shapes -----------------------------------------------------------------------------------
    def reshape(self, *shape) -> Tensor:
        shape = tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else shape
        src = self.shape
        try:
            out = self.data.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot view shape {src} as {shape}") from None
        return Tensor._make(out, (self,), lambda g: (g.reshape(src),))

    view = reshape

    def flatten(self, start: int = 0) -> Tensor:
        return self.reshape(self.shape[:start] + (-1,))

    def transpose(self, a: int = -2, b: int = -1) -> Tensor:
        """Swap two axes (a 1-D or 0-D tensor is returned unchanged)."""
        if self.ndim < 2:
            return self
        order = list(range(self.ndim))
        order[a], order[b] = order[b], order[a]
        return self.permute(*order)

    def permute(self, *order) -> Tensor:
        order = tuple(order[0]) if len(order) == 1 and not isinstance(order[0], int) else order
        inverse = tuple(np.argsort(order))
        return Tensor._make(self.data.transpose(order), (self,), lambda g: (g.transpose(inverse),))

    def unsqueeze(self, axis: int) -> Tensor:
        return self.reshape(np.expand_dims(self.data, axis).shape)

    def squeeze(self, axis: int) -> Tensor:
        return self.reshape(np.squeeze(self.data, axis).shape)

    def __getitem__(self, index) -> Tensor:
        """Slices, integers, integer arrays and boolean masks; repeated indices accumulate."""
        index = tuple(_raw(i) for i in index) if isinstance(index, tuple) else _raw(index)
        parts = index if isinstance(index, tuple) else (index,)
        advanced = any(isinstance(i, np.ndarray | list) for i in parts)
        src, dtype = self.shape, self.dtype

        def backward(g):
            full = np.zeros(src, dtype)
            if advanced:
                np.add.at(full, index, g)
            else:
                full[index] = g
            return (full,)

        return Tensor._make(self.data[index], (self,), backward)


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """1/(1+e^-x) without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Batched, broadcasting matrix product (NumPy `@` semantics, 1-D operands included)."""
    if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned (inner dims differ)")
    x, y = a.data, b.data
    try:
        out = x @ y
    except ValueError:
        raise ValueError(f"matmul: batch shapes of {a.shape} and {b.shape} do not broadcast") from None

    def backward(g):
        # Lift 1-D operands to matrices so one formula covers every case.
        x2 = x[None, :] if x.ndim == 1 else x  # (..., n, k)
        y2 = y[:, None] if y.ndim == 1 else y  # (..., k, m)
        g2 = g
        if x.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if y.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        gx = unbroadcast(g2 @ np.swapaxes(y2, -1, -2), x2.shape).reshape(x.shape)
        gy = unbroadcast(np.swapaxes(x2, -1, -2) @ g2, y2.shape).reshape(y.shape)
        return gx, gy

    return Tensor._make(out, (a, b), backward)
