"""Loss functions built from Tensor ops (so their gradients come from autograd, not hand rules).

Each follows the PyTorch function of the same name (reduction "mean" | "sum" | "none"); losses that
PyTorch lacks (focal, InfoNCE, contrastive) follow their papers, cited in the docstrings.
"""

from __future__ import annotations

import numpy as np

from groundup.grad.functional import log_softmax, softplus
from groundup.grad.ops import clip, maximum, where
from groundup.grad.tensor import Tensor


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _same_shape(op: str, a: Tensor, b) -> None:
    if a.shape != np.shape(b.data if isinstance(b, Tensor) else b):
        raise ValueError(
            f"{op}: input shape {a.shape} and target shape {np.shape(getattr(b, 'data', b))} differ"
        )


def mse_loss(x: Tensor, target, reduction: str = "mean") -> Tensor:
    _same_shape("mse_loss", x, target)
    d = x - target
    return _reduce(d * d, reduction)


def l1_loss(x: Tensor, target, reduction: str = "mean") -> Tensor:
    _same_shape("l1_loss", x, target)
    return _reduce((x - target).abs(), reduction)


def huber_loss(x: Tensor, target, delta: float = 1.0, reduction: str = "mean") -> Tensor:
    """0.5 d^2 for |d| <= delta, delta (|d| - delta/2) beyond: quadratic near 0, linear in the tails."""
    _same_shape("huber_loss", x, target)
    d = x - target
    a = d.abs()
    return _reduce(where(a.data <= delta, d * d * 0.5, (a - 0.5 * delta) * delta), reduction)


def binary_cross_entropy(p: Tensor, target, reduction: str = "mean") -> Tensor:
    """-(y log p + (1-y) log(1-p)); logs are clamped at -100 like torch so p = 0 or 1 stays finite."""
    _same_shape("binary_cross_entropy", p, target)
    log_p = maximum(p.log(), -100.0)
    log_q = maximum((1 - p).log(), -100.0)
    y = p._lift(target)
    return _reduce(-(log_p * y + log_q * (1 - y)), reduction)


def binary_cross_entropy_with_logits(x: Tensor, target, reduction: str = "mean") -> Tensor:
    """BCE on logits, stable form: softplus(x) - x y (never exponentiates a large positive number)."""
    _same_shape("binary_cross_entropy_with_logits", x, target)
    return _reduce(softplus(x, threshold=np.inf) - x * target, reduction)


def nll_loss(logp: Tensor, target, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """-logp[i, target_i] for log-probabilities (N, C); entries equal to ignore_index are skipped."""
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if logp.ndim != 2 or t.shape != logp.shape[:1]:
        raise ValueError(
            f"nll_loss: expected log-probs (N, C) and targets (N,), got {logp.shape} and {t.shape}"
        )
    keep = t != ignore_index
    picked = -logp[np.arange(len(t)), np.where(keep, t, 0)] * keep.astype(logp.dtype)  # (N,)
    if reduction == "mean":
        return picked.sum() * (1.0 / max(int(keep.sum()), 1))
    return _reduce(picked, reduction)


def cross_entropy(
    logits: Tensor, target, label_smoothing: float = 0.0, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    """Softmax cross-entropy for logits (N, C) against class indices (N,) or probabilities (N, C).

    Label smoothing mixes the one-hot target with the uniform distribution:
    loss = (1 - eps) * nll + eps * mean_c(-log p_c).
    """
    logp = log_softmax(logits, axis=-1)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind == "f":  # class probabilities
        _same_shape("cross_entropy", logits, t)
        n_cls = logits.shape[-1]
        t = t * (1 - label_smoothing) + label_smoothing / n_cls
        return _reduce(-(logp * t).sum(axis=-1), reduction)
    nll = nll_loss(logp, t, ignore_index, reduction)
    if label_smoothing == 0:
        return nll
    keep = (t != ignore_index).astype(logits.dtype)[:, None]
    smooth = -(logp * keep).mean(axis=-1)  # (N,)
    if reduction == "mean":
        smooth = smooth.sum() * (1.0 / max(int(keep.sum()), 1))
    else:
        smooth = _reduce(smooth, reduction)
    return nll * (1 - label_smoothing) + smooth * label_smoothing


def focal_loss(
    logits: Tensor, target, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "mean"
) -> Tensor:
    """Binary focal loss (Lin et al. 2017): BCE scaled by (1 - p_t)^gamma, weighted by alpha_t."""
    y = np.asarray(target.data if isinstance(target, Tensor) else target, dtype=logits.dtype)
    p = logits.sigmoid()
    ce = binary_cross_entropy_with_logits(logits, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * y + (1 - alpha) * (1 - y))
    return _reduce(loss, reduction)


def multi_margin_loss(x: Tensor, target, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """Multi-class hinge: sum over wrong classes of max(0, margin - x_y + x_j), divided by C."""
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    n, c = x.shape
    correct = x[np.arange(n), t].reshape(n, 1)
    hinge = maximum(x - correct + margin, 0.0)
    others = (np.arange(c) != t[:, None]).astype(x.dtype)
    return _reduce((hinge * others).sum(axis=1) * (1.0 / c), reduction)


def kl_div(logq: Tensor, target, reduction: str = "batchmean", log_target: bool = False) -> Tensor:
    """KL(target || q) with q given as log-probabilities, as torch.nn.functional.kl_div."""
    t = target if isinstance(target, Tensor) else Tensor(np.asarray(target, logq.dtype))
    if log_target:
        point = t.exp() * (t - logq)
    else:
        safe_log = np.log(np.where(t.data > 0, t.data, 1))  # 0 log 0 = 0
        point = t * (Tensor(safe_log) - logq)
    if reduction == "batchmean":
        return point.sum() * (1.0 / logq.shape[0])
    return _reduce(point, reduction)


def info_nce(queries: Tensor, keys: Tensor, temperature: float = 0.1) -> Tensor:
    """InfoNCE (van den Oord et al. 2018): row i of keys is query i's positive, the others negatives.

    Embeddings are L2-normalized; logits = q k^T / temperature; loss = cross-entropy with labels i.
    """
    if queries.shape != keys.shape:
        raise ValueError(f"info_nce: queries shape {queries.shape} and keys shape {keys.shape} differ")
    q = queries / (queries * queries).sum(axis=-1, keepdims=True).sqrt()
    k = keys / (keys * keys).sum(axis=-1, keepdims=True).sqrt()
    logits = (q @ k.T) * (1.0 / temperature)  # (N, N)
    return cross_entropy(logits, np.arange(queries.shape[0]))


def pairwise_distance(a: Tensor, b: Tensor, eps: float = 1e-6) -> Tensor:
    """||a - b + eps||_2 along the last axis (torch's pairwise_distance adds eps to the difference)."""
    d = a - b + eps
    return (d * d).sum(axis=-1).sqrt()


def triplet_margin_loss(
    anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, reduction: str = "mean"
) -> Tensor:
    """max(0, d(a, p) - d(a, n) + margin) with Euclidean distances."""
    loss = maximum(pairwise_distance(anchor, positive) - pairwise_distance(anchor, negative) + margin, 0.0)
    return _reduce(loss, reduction)


def contrastive_loss(a: Tensor, b: Tensor, same, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """Hadsell, Chopra and LeCun (2006): 1/2 [y d^2 + (1 - y) max(0, margin - d)^2], y = 1 for similar pairs."""
    y = np.asarray(same.data if isinstance(same, Tensor) else same, dtype=a.dtype)
    d = pairwise_distance(a, b)
    hinge = clip(margin - d, 0.0, None)
    return _reduce((d * d * y + hinge * hinge * (1 - y)) * 0.5, reduction)
