"""The Hessian of a loss without forming it: Hessian-vector products, top eigenvalues, the trace.

A network with P parameters has a P x P Hessian, too big to build beyond toy sizes, but H v costs
only two backward passes ("double backprop", Pearlmutter 1994): g = dL/dtheta built with
create_graph=True, then H v = d(g . v)/dtheta. Everything here needs only that product:

- `power_iteration`: v <- H v / |H v| converges to the eigenvector of largest |eigenvalue|;
  orthogonalizing against the ones found gives the next (deflation).
- `lanczos`: m products build an m x m tridiagonal matrix T = Q^T H Q whose eigenvalues (Ritz values)
  approach H's extremes first; with full reorthogonalization and m = P they are H's eigenvalues.
- `hutchinson_trace`: E[z^T H z] = tr(H) for Rademacher z (Hutchinson 1989).

Checked against `torch.autograd.functional.hessian` + `torch.linalg.eigvalsh` on small networks
(tests/theory/test_hessian.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


class HessianOperator:
    """v -> H v for the Hessian of `loss_fn()` with respect to `params`, on flat (P,) vectors."""

    def __init__(self, loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor]):
        self.params = [p for p in params if p.requires_grad]
        loss = loss_fn()
        self.grads = torch.autograd.grad(loss, self.params, create_graph=True)
        self.size = sum(p.numel() for p in self.params)
        self.dtype, self.device = self.params[0].dtype, self.params[0].device
        self.calls = 0

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        """(P,) -> (P,)"""
        self.calls += 1
        chunks = v.split([p.numel() for p in self.params])
        dot = sum((g * c.view_as(g)).sum() for g, c in zip(self.grads, chunks, strict=True))
        hv = torch.autograd.grad(dot, self.params, retain_graph=True)
        return torch.cat([h.reshape(-1) for h in hv]).detach()

    def random(self, generator: torch.Generator | None = None, rademacher: bool = False) -> torch.Tensor:
        v = torch.randn(self.size, generator=generator, dtype=self.dtype)
        return v.sign() if rademacher else v


def power_iteration(
    hvp: HessianOperator, k: int = 1, iters: int = 500, tol: float = 1e-10, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The k eigenvalues of largest magnitude and their eigenvectors: ((k,), (k, P))."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    g = torch.Generator().manual_seed(seed)
    values, vectors = [], []
    for _ in range(k):
        v = hvp.random(g)
        for u in vectors:
            v -= (v @ u) * u
        v /= v.norm()
        value = torch.tensor(0.0, dtype=v.dtype)
        for _ in range(iters):
            w = hvp(v)
            for u in vectors:  # deflate: search the complement of what was found
                w -= (w @ u) * u
            new_value = v @ w
            v = w / w.norm()
            converged = abs(new_value - value) <= tol * abs(new_value)
            value = new_value
            if converged:
                break
        values.append(value)
        vectors.append(v)
    return torch.stack(values), torch.stack(vectors)


def lanczos(hvp: HessianOperator, steps: int, seed: int = 0) -> torch.Tensor:
    """Ritz values (steps,) ascending: eigenvalues of the tridiagonal T from `steps` Lanczos steps,
    with full reorthogonalization (so they do not drift in floating point)."""
    steps = min(steps, hvp.size)
    g = torch.Generator().manual_seed(seed)
    q = hvp.random(g)
    basis = [q / q.norm()]
    alphas, betas = [], []
    for j in range(steps):
        w = hvp(basis[j])
        alphas.append(w @ basis[j])
        Q = torch.stack(basis)  # (j+1, P)
        w = w - Q.T @ (Q @ w)
        w = w - Q.T @ (Q @ w)  # twice is enough (Giraud et al. 2005)
        beta = w.norm()
        if j == steps - 1 or beta < 1e-12 * abs(alphas[0]):
            break
        betas.append(beta)
        basis.append(w / beta)
    alpha, beta = torch.stack(alphas), torch.stack(betas[: len(alphas) - 1]) if betas else None
    T = torch.diag(alpha)
    if beta is not None and len(beta):
        T += torch.diag(beta, 1) + torch.diag(beta, -1)
    return torch.linalg.eigvalsh(T)


def hutchinson_trace(hvp: HessianOperator, samples: int = 100, seed: int = 0) -> tuple[float, float]:
    """(estimate of tr(H), its standard error) from `samples` Rademacher probes."""
    g = torch.Generator().manual_seed(seed)
    draws = torch.stack([(z @ hvp(z)) for z in (hvp.random(g, rademacher=True) for _ in range(samples))])
    return float(draws.mean()), float(draws.std() / samples**0.5)
