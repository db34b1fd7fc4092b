"""Optimizers, learning-rate schedules and gradient clipping for `groundup.grad` parameters."""

from groundup.grad.optim.clip import clip_grad_norm_, clip_grad_value_
from groundup.grad.optim.optimizers import SGD, Adafactor, Adagrad, Adam, AdamW, Lion, Optimizer, RMSprop
from groundup.grad.optim.schedulers import (
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    ExponentialLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    PolynomialLR,
    ReduceLROnPlateau,
    StepLR,
    WarmupCosineLR,
)

__all__ = [
    "SGD",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "ExponentialLR",
    "LRScheduler",
    "Lion",
    "MultiStepLR",
    "OneCycleLR",
    "Optimizer",
    "PolynomialLR",
    "RMSprop",
    "ReduceLROnPlateau",
    "StepLR",
    "WarmupCosineLR",
    "clip_grad_norm_",
    "clip_grad_value_",
]
