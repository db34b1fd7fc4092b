"""Reacting to a validation metric that stopped improving: lower the learning rate, or stop.

Both watch one number per evaluation and count the evaluations since it last improved by more than
a threshold (relative, as torch's default: better means below best * (1 - threshold) for "min").

- `ReduceOnPlateau` (torch.optim.lr_scheduler.ReduceLROnPlateau's rule): after more than `patience`
  bad evaluations, multiply every group's lr by `factor` (not below `min_lr`), then wait `cooldown`
  evaluations before counting again. A smaller step often gets past a plateau that the larger one
  bounced around in.
- `EarlyStopping`: after `patience` bad evaluations, stop, keeping the best state seen so far:
  the validation curve has turned, and more steps only fit the training set better.
"""

from __future__ import annotations

import math


class _Watch:
    def __init__(self, mode: str, threshold: float):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {threshold}")
        self.mode, self.threshold = mode, threshold
        self.best = math.inf if mode == "min" else -math.inf
        self.bad = 0

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best * (1 - self.threshold) if self.best != math.inf else True
        return value > self.best * (1 + self.threshold) if self.best != -math.inf else True

    def observe(self, value: float) -> bool:
        """Record `value`; True if it is a new best."""
        if self.improved(value):
            self.best, self.bad = value, 0
            return True
        self.bad += 1
        return False


class ReduceOnPlateau(_Watch):
    def __init__(
        self,
        optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ):
        super().__init__(mode, threshold)
        if not 0 < factor < 1:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        self.optimizer, self.factor, self.patience = optimizer, factor, patience
        self.cooldown, self.min_lr, self.eps = cooldown, min_lr, eps
        self.cooling = 0

    def step(self, value: float) -> bool:
        """Observe one evaluation; True if the learning rate was reduced."""
        self.observe(value)
        if self.cooling > 0:
            self.cooling -= 1
            self.bad = 0  # bad evaluations during cooldown do not count
        if self.bad <= self.patience:
            return False
        reduced = False
        for group in self.optimizer.param_groups:
            new = max(group["lr"] * self.factor, self.min_lr)
            if group["lr"] - new > self.eps:  # changes smaller than eps are ignored, as torch does
                group["lr"], reduced = new, True
        self.cooling, self.bad = self.cooldown, 0
        return reduced

    def state_dict(self) -> dict:
        return {"best": self.best, "bad": self.bad, "cooling": self.cooling}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.bad, self.cooling = state["best"], state["bad"], state["cooling"]


class EarlyStopping(_Watch):
    def __init__(self, patience: int, mode: str = "min", threshold: float = 0.0):
        super().__init__(mode, threshold)
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.patience = patience

    def step(self, value: float) -> bool:
        """Observe one evaluation; True when it is time to stop."""
        self.observe(value)
        return self.bad >= self.patience
