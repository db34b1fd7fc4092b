"""Generalization bounds that can be computed: Rademacher complexity of a linear class and PAC-Bayes.

Rademacher: for F = {x -> <w, x> : |w|_2 <= B} on a sample x_1..x_n, the supremum inside
R_S(F) = E_sigma sup_w (1/n) sum_i sigma_i <w, x_i> is reached at w parallel to sum_i sigma_i x_i, so
R_S = (B/n) E|sum_i sigma_i x_i|, estimated by Monte Carlo over sigma; Jensen gives the closed form
R_S <= (B/n) sqrt(sum_i |x_i|^2), and Khintchine-Kahane puts it within a factor sqrt(2) below.

PAC-Bayes (McAllester 1999; Langford & Seeger 2001; Maurer 2004): with probability 1 - delta, for
every posterior Q over weights, kl(err_S(Q) || err(Q)) <= (KL(Q||P) + ln(2 sqrt(n)/delta)) / n, so the
true error of the stochastic classifier Q is at most the kl-inverse. With Q = N(w, diag s^2) and
P = N(w0, l I) the KL is closed form; Dziugaite & Roy (2017) optimize s (and w) to minimize the bound,
which is what `pac_bayes_study` in the CLI does for a small MNIST network.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def rademacher_linear(X: np.ndarray, B: float = 1.0, draws: int = 2000, seed: int = 0) -> tuple[float, float]:
    """(Monte Carlo R_S, closed-form bound (B/n) sqrt(sum |x_i|^2)) for the B-ball linear class."""
    rng = np.random.default_rng(seed)
    n = len(X)
    sigma = rng.choice([-1.0, 1.0], size=(draws, n))
    mc = B / n * float(np.mean(np.linalg.norm(sigma @ X, axis=1)))
    return mc, B / n * float(np.sqrt(np.sum(X**2)))


def binary_kl(q: float, p: float) -> float:
    """kl(q||p) between Bernoulli(q) and Bernoulli(p)."""
    eps = 1e-12
    p = min(max(p, eps), 1 - eps)
    terms = 0.0
    if q > 0:
        terms += q * math.log(q / p)
    if q < 1:
        terms += (1 - q) * math.log((1 - q) / (1 - p))
    return terms


def kl_inverse(q: float, c: float, iters: int = 100) -> float:
    """The largest p in [q, 1] with kl(q||p) <= c (bisection)."""
    lo, hi = q, 1.0
    for _ in range(iters):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if binary_kl(q, mid) <= c else (lo, mid)
    return hi


def gaussian_kl(mean_q: torch.Tensor, var_q: torch.Tensor, mean_p: torch.Tensor, var_p) -> torch.Tensor:
    """KL(N(mean_q, diag var_q) || N(mean_p, var_p I)), summed over all coordinates; `var_p` a float or a
    scalar tensor (differentiable, so the prior's variance can be optimized too)."""
    var_p = torch.as_tensor(var_p, dtype=var_q.dtype)
    return 0.5 * torch.sum(
        var_q / var_p + (mean_q - mean_p) ** 2 / var_p - 1 + torch.log(var_p) - torch.log(var_q)
    )


def mcallester_bound(train_error: float, kl: float, n: int, delta: float = 0.05) -> float:
    """Upper bound on the true error of Q: kl^-1(train_error, (KL + ln(2 sqrt(n)/delta)) / n)."""
    return kl_inverse(train_error, (kl + math.log(2 * math.sqrt(n) / delta)) / n)


def sample_convergence(mc_error: float, draws: int, delta: float) -> float:
    """Upper bound on err_S(Q) from `draws` sampled networks (Langford & Caruana 2002): kl^-1(mc, ln(2/delta)/m)."""
    return kl_inverse(mc_error, math.log(2 / delta) / draws)
