"""What `fit` trains: each task says how a batch becomes a loss and which metrics evaluation tracks.

    ClassificationTask    cross-entropy; loss, accuracy, macro-F1     (images, labelled text)
    RegressionTask        mean squared error; loss, RMSE and MAE in the target's units, R^2
    LanguageModelTask     next-token cross-entropy; loss, bits per token (and per character)

A batch is a tuple whose last element is the target and whose other elements are the model's
inputs, so `(images, labels)` and `(ids, mask, labels)` both work.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _split(batch):
    *inputs, target = batch
    return inputs, target


class ClassificationTask:
    def __init__(self, n_classes: int):
        self.n_classes = n_classes

    def loss(self, model, batch) -> torch.Tensor:
        inputs, y = _split(batch)
        return F.cross_entropy(model(*inputs).float(), y)

    def evaluate(self, model, loader) -> dict[str, float]:
        total, count = 0.0, 0
        confusion = torch.zeros(self.n_classes, self.n_classes, dtype=torch.long)  # (true, predicted)
        for batch in loader:
            inputs, y = _split(batch)
            logits = model(*inputs).float()
            total += F.cross_entropy(logits, y, reduction="sum").item()
            count += len(y)
            confusion += torch.bincount(
                y * self.n_classes + logits.argmax(-1), minlength=self.n_classes**2
            ).view(self.n_classes, self.n_classes)
        return {
            "loss": total / count,
            "accuracy": confusion.diag().sum().item() / count,
            "macro_f1": macro_f1(confusion),
        }


def macro_f1(confusion: torch.Tensor) -> float:
    """Mean over classes of 2 TP / (2 TP + FP + FN), from a (true, predicted) confusion matrix."""
    tp = confusion.diag().float()
    fp, fn = confusion.sum(0).float() - tp, confusion.sum(1).float() - tp
    denom = 2 * tp + fp + fn
    f1 = torch.where(denom > 0, 2 * tp / denom.clamp_min(1), torch.zeros_like(tp))
    return f1.mean().item()


class RegressionTask:
    """Targets standardised for training: y_std = (y - mean) / scale; metrics back in y's units."""

    def __init__(self, mean: float = 0.0, scale: float = 1.0):
        self.mean, self.scale = mean, scale

    def loss(self, model, batch) -> torch.Tensor:
        inputs, y = _split(batch)
        return F.mse_loss(model(*inputs).float().squeeze(-1), (y - self.mean) / self.scale)

    def evaluate(self, model, loader) -> dict[str, float]:
        preds, targets = [], []
        for batch in loader:
            inputs, y = _split(batch)
            preds.append(model(*inputs).float().squeeze(-1) * self.scale + self.mean)
            targets.append(y)
        p, y = torch.cat(preds), torch.cat(targets)
        mse = F.mse_loss(p, y).item()
        return {
            "loss": mse / self.scale**2,
            "rmse": math.sqrt(mse),
            "mae": (p - y).abs().mean().item(),
            "r2": 1 - mse / y.var(unbiased=False).item(),
        }


class LanguageModelTask:
    """Batches (x (B, T), y (B, T)); `chars_per_token` turns bits/token into bits/character."""

    def __init__(self, chars_per_token: float = 1.0):
        self.chars_per_token = chars_per_token

    def loss(self, model, batch) -> torch.Tensor:
        x, y = batch
        logits = model(x)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))

    def evaluate(self, model, loader) -> dict[str, float]:
        total, count = 0.0, 0
        for x, y in loader:
            logits = model(x).float()
            total += F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum"
            ).item()
            count += y.numel()
        loss = total / count
        return {
            "loss": loss,
            "bits_per_token": loss / math.log(2),
            "bits_per_char": loss / math.log(2) / self.chars_per_token,
        }
