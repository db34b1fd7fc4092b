"""Fine-tuning a BERT sentence classifier, predicting, and accuracy with its confidence interval.

The recipe of Devlin et al. (section 4.1) scaled to a CPU: AdamW (weight decay 0.01, none on biases
and LayerNorm), linear warmup over the first 10% of steps then linear decay to zero, cross-entropy on
the class logits, batches padded to their longest text. `loss_fn` replaces the cross-entropy (the
distillation loss of the compression capstone) and `after_step` runs after every optimizer step
(pruning re-applies its masks there).

Accuracy comes with a 95% Wilson score interval: for k correct out of n, with p = k/n and z = 1.96,

    centre = (p + z²/2n) / (1 + z²/n),   half-width = z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n)

which stays inside [0, 1] and is accurate for small n, unlike p ± z·sqrt(p(1-p)/n).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from groundup.models.bert import encode_texts
from groundup.nlp.datasets import LabelledTexts
from groundup.tokenizers.wordpiece import WordPiece

# loss_fn(logits (B, C), labels (B,), rows (B,) indices into the training set) -> scalar loss
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class FinetuneConfig:
    """Optimisation settings of `finetune`."""

    epochs: float = 1.0
    lr: float = 5e-5
    batch_size: int = 32
    max_length: int = 64
    warmup: float = 0.1
    weight_decay: float = 0.01
    seed: int = 0

    def __post_init__(self):
        if self.epochs <= 0 or self.lr <= 0 or self.batch_size < 1 or self.max_length < 2:
            raise ValueError(
                "FinetuneConfig: epochs, lr > 0, batch_size >= 1 and max_length >= 2 are required"
            )
        if not 0.0 <= self.warmup < 1.0:
            raise ValueError(f"warmup must be a fraction in [0, 1), got {self.warmup}")


def optimizer_for(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, LayerNorm or embeddings' 1-D params)."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    rest = [p for p in params if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}], lr=lr
    )


def linear_warmup_decay(step: int, total: int, warmup: float) -> float:
    """LR multiplier: 0 -> 1 over the warmup steps, then 1 -> 0 linearly at the last step."""
    warm = max(1, int(warmup * total))
    if step < warm:
        return (step + 1) / warm
    return max(0.0, (total - step) / max(1, total - warm))


def finetune(
    model: nn.Module,
    tokenizer: WordPiece,
    data: LabelledTexts,
    cfg: FinetuneConfig | None = None,
    *,
    loss_fn: LossFn | None = None,
    after_step: Callable[[nn.Module], None] | None = None,
    log: Callable[[int, int, float], None] | None = None,
) -> list[float]:
    """Train `model(input_ids, attention_mask, token_type_ids) -> logits` on `data`; returns step losses.

    Leaves the model in eval mode. `log(step, total, loss)` is called after every step.
    """
    cfg = cfg or FinetuneConfig()
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)  # dropout masks
    per_epoch = math.ceil(len(data) / cfg.batch_size)
    total = max(1, round(cfg.epochs * per_epoch))
    opt = optimizer_for(model, cfg.lr, cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: linear_warmup_decay(s, total, cfg.warmup))
    labels = torch.tensor(data.labels)
    model.train()
    losses, order = [], []
    for step in range(total):
        if len(order) < cfg.batch_size:
            fresh = list(range(len(data)))
            rng.shuffle(fresh)
            order += fresh
        rows, order = order[: cfg.batch_size], order[cfg.batch_size :]
        batch = encode_texts(tokenizer, [data.texts[i] for i in rows], cfg.max_length)
        logits = model(batch.input_ids, batch.attention_mask, batch.token_type_ids)  # (B, C)
        idx = torch.tensor(rows)
        loss = loss_fn(logits, labels[idx], idx) if loss_fn else F.cross_entropy(logits, labels[idx])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if after_step is not None:
            after_step(model)
        losses.append(loss.item())
        if log is not None:
            log(step, total, losses[-1])
    model.eval()
    return losses


@torch.no_grad()
def predict_logits(
    model: nn.Module, tokenizer: WordPiece, texts: list[str], batch_size: int = 64, max_length: int = 64
) -> torch.Tensor:
    """Class logits (n, C) in eval mode, texts batched by length (rows come back in input order)."""
    model.eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = None
    for start in range(0, len(texts), batch_size):
        rows = order[start : start + batch_size]
        batch = encode_texts(tokenizer, [texts[i] for i in rows], max_length)
        logits = model(batch.input_ids, batch.attention_mask, batch.token_type_ids)
        out = torch.empty(len(texts), logits.shape[-1]) if out is None else out
        out[rows] = logits.float()
    return out


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% (z = 1.96) Wilson score interval for a proportion correct/n."""
    if n <= 0 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n and n > 0, got correct={correct}, n={n}")
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Accuracy:
    """Accuracy on n examples with its 95% Wilson interval."""

    value: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.value:.2%} (95% CI {self.low:.2%}–{self.high:.2%}, n = {self.n})"


def accuracy(logits: torch.Tensor, labels: list[int]) -> Accuracy:
    correct = int((logits.argmax(-1) == torch.tensor(labels)).sum())
    low, high = wilson_interval(correct, len(labels))
    return Accuracy(correct / len(labels), low, high, len(labels))
