"""Contracts on public boundaries: shapes, dtypes, value ranges and probability axioms, checked at call.

A decorated function states what it takes and returns, and every call is checked against it:

    @contract(logits=tensor("B V", dtype="float"), returns=probabilities("B V"))
    def sampling_probs(logits, params): ...

Dimension names bind across the arguments and the result of one call ("B V" in and "B V" out must
agree), integers fix a size, "*" matches any one dimension and "..." any number of leading ones. A
broken contract raises `ContractError` (a `GroundupError` and a `ValueError`) naming the function,
the argument and what was expected and found, at the boundary instead of deep inside the next layer.

Checks cost a few microseconds per call plus a pass over the values, so hot loops turn them off:
`GROUNDUP_CONTRACTS=0` in the environment, or `with contracts_disabled(): ...` around the loop.
Works on NumPy arrays and torch tensors alike without importing torch (this module sits at the
bottom of the layers, usable from every area).
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from groundup.errors import GroundupError

_enabled = os.environ.get("GROUNDUP_CONTRACTS", "1").lower() not in ("0", "off", "false", "no")


class ContractError(GroundupError, ValueError):
    """A value crossing a public boundary broke the function's stated contract."""


def contracts_enabled() -> bool:
    return _enabled


def set_contracts(enabled: bool) -> bool:
    """Turn checking on or off for the process; returns the previous setting."""
    global _enabled
    previous, _enabled = _enabled, bool(enabled)
    return previous


@contextmanager
def contracts_disabled() -> Iterator[None]:
    """No checks inside the block (a hot loop); the previous setting comes back after it."""
    previous = set_contracts(False)
    try:
        yield
    finally:
        set_contracts(previous)


def as_numpy(x) -> np.ndarray:
    """A NumPy view of an array or tensor (a torch tensor is detached, moved to the CPU, widened)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        if not (x.dtype.is_floating_point or x.dtype.is_complex):
            return x.numpy()
        return x.double().numpy()
    return np.asarray(x)


def dtype_kind(x) -> str:
    """'float', 'int', 'bool' or 'other' for an array or tensor."""
    dtype = x.dtype
    if hasattr(dtype, "is_floating_point"):  # torch
        if dtype.is_floating_point:
            return "float"
        return "bool" if str(dtype) == "torch.bool" else ("int" if not dtype.is_complex else "other")
    return {"f": "float", "i": "int", "u": "int", "b": "bool"}.get(np.dtype(dtype).kind, "other")


@dataclass(frozen=True)
class Spec:
    """What one argument (or the result) must be: `shape` like "B T V" / "... V" / "2 *"; `dtype` one
    of float/int/bool; values within [low, high]; `finite`: no NaN or inf; `simplex_axis`: entries
    non-negative and summing to 1 (within `atol`) along that axis; `optional`: None is allowed."""

    shape: str | None = None
    dtype: str | None = None
    low: float | None = None
    high: float | None = None
    finite: bool = False
    simplex_axis: int | None = None
    atol: float = 1e-5
    optional: bool = False

    def check(self, x, where: str, dims: dict[str, int]) -> None:
        if x is None:
            if not self.optional:
                raise ContractError(f"{where}: expected an array, got None")
            return
        if not hasattr(x, "shape"):
            x = np.asarray(x)
        if self.shape is not None:
            bind_shape(self.shape, tuple(x.shape), where, dims)
        if self.dtype is not None and dtype_kind(x) != self.dtype:
            raise ContractError(f"{where}: expected a {self.dtype} dtype, got {x.dtype}")
        if self.low is None and self.high is None and not self.finite and self.simplex_axis is None:
            return
        values = as_numpy(x)
        if values.size == 0:
            return
        if (self.finite or self.simplex_axis is not None) and not np.all(np.isfinite(values)):
            raise ContractError(f"{where}: expected finite values, found NaN or inf")
        lo, hi = values.min(), values.max()
        if self.low is not None and lo < self.low:
            raise ContractError(f"{where}: expected values >= {self.low}, found {lo:.6g}")
        if self.high is not None and hi > self.high:
            raise ContractError(f"{where}: expected values <= {self.high}, found {hi:.6g}")
        if self.simplex_axis is not None:
            if lo < -self.atol:
                raise ContractError(f"{where}: probabilities must be >= 0, found {lo:.6g}")
            total = values.sum(axis=self.simplex_axis)
            worst = float(np.max(np.abs(total - 1)))
            if worst > self.atol * max(1, values.shape[self.simplex_axis] ** 0.5):
                raise ContractError(
                    f"{where}: probabilities must sum to 1 along axis {self.simplex_axis}, off by {worst:.3g}"
                )


def tensor(shape: str | None = None, dtype: str | None = None, **kwargs) -> Spec:
    return Spec(shape=shape, dtype=dtype, **kwargs)


def probabilities(shape: str | None = None, axis: int = -1, atol: float = 1e-5, **kwargs) -> Spec:
    """A distribution along `axis`: float, finite, non-negative, summing to 1."""
    return Spec(shape=shape, dtype="float", simplex_axis=axis, atol=atol, **kwargs)


def bind_shape(spec: str, shape: tuple[int, ...], where: str, dims: dict[str, int]) -> None:
    """Match `shape` against `spec`, binding dimension names in `dims` (shared by one call)."""
    names = spec.split()
    if names and names[0] == "...":
        names = names[1:]
        if len(shape) < len(names):
            raise ContractError(
                f"{where}: expected at least {len(names)} dimensions ({spec}), got shape {shape}"
            )
        shape = shape[len(shape) - len(names) :]
    elif len(shape) != len(names):
        raise ContractError(f"{where}: expected {len(names)} dimensions ({spec}), got shape {shape}")
    for name, size in zip(names, shape, strict=True):
        if name == "*":
            continue
        if name.isdigit():
            if int(name) != size:
                raise ContractError(
                    f"{where}: expected size {name} for a dimension of ({spec}), got shape {shape}"
                )
        elif dims.setdefault(name, size) != size:
            raise ContractError(
                f"{where}: dimension {name} is {size} here but {dims[name]} elsewhere in the call"
            )


def contract(returns: Spec | None = None, **specs: Spec) -> Callable:
    """Decorate a function with argument specs (by parameter name) and a result spec."""

    def decorate(fn: Callable) -> Callable:
        signature = inspect.signature(fn)
        unknown = set(specs) - set(signature.parameters)
        if unknown:
            raise TypeError(f"contract on {fn.__qualname__} names unknown parameters {sorted(unknown)}")

        @functools.wraps(fn)
        def checked(*args, **kwargs):
            if not _enabled:
                return fn(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            dims: dict[str, int] = {}
            for name, spec in specs.items():
                if name in bound.arguments:
                    spec.check(bound.arguments[name], f"{fn.__qualname__}({name})", dims)
            result = fn(*args, **kwargs)
            if returns is not None:
                returns.check(result, f"{fn.__qualname__} -> result", dims)
            return result

        checked.__contract__ = (specs, returns)
        return checked

    return decorate
