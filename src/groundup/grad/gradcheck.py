"""Finite-difference gradient check: compare autograd's gradient with central differences.

For each input entry, (f(x + eps) - f(x - eps)) / (2 eps) of the scalar sum(f(x) * w), with a fixed
random weighting w so that every output entry matters. Use float64 inputs; eps ~1e-6 gives ~1e-8
accuracy for smooth functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from groundup.grad.tensor import Tensor


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> float:
    """Raise AssertionError if autograd and finite differences disagree; return the max abs error."""
    for x in inputs:
        if x.dtype != np.float64:
            raise ValueError(f"gradcheck needs float64 inputs for accurate differences, got {x.dtype}")
    out = fn(*inputs)
    weights = np.random.default_rng(0).standard_normal(out.shape)
    for x in inputs:
        x.grad = None
    (out * weights).sum().backward()
    worst = 0.0
    for k, x in enumerate(inputs):
        if not x.requires_grad:
            continue
        analytic = np.zeros_like(x.data) if x.grad is None else x.grad
        numeric = np.zeros_like(x.data)
        flat = x.data.reshape(-1)  # a view: editing it edits x
        for i in range(flat.size):
            saved = flat[i]
            flat[i] = saved + eps
            plus = float((fn(*inputs).data * weights).sum())
            flat[i] = saved - eps
            minus = float((fn(*inputs).data * weights).sum())
            flat[i] = saved
            numeric.reshape(-1)[i] = (plus - minus) / (2 * eps)
        err = np.abs(analytic - numeric)
        worst = max(worst, float(err.max(initial=0)))
        if not np.all(err <= atol + rtol * np.abs(numeric)):
            i = int(np.argmax(err - rtol * np.abs(numeric)))
            raise AssertionError(
                f"gradcheck: input {k} entry {np.unravel_index(i, x.shape)}: autograd "
                f"{analytic.reshape(-1)[i]:.8g} vs finite difference {numeric.reshape(-1)[i]:.8g}"
            )
    return worst
