"""Learning-rate schedules. Each is a closed-form function of the step count, applied to every param
group's base lr; `step()` advances one step and writes the new lr into the optimizer (torch's API:
construct, then call `optimizer.step()` and `scheduler.step()` once per step or epoch).
"""

from __future__ import annotations

import math

from groundup.grad.optim.optimizers import Optimizer


class LRScheduler:
    def __init__(self, optimizer: Optimizer):
        self.optimizer = optimizer
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    def lr_at(self, base_lr: float, step: int) -> float:
        raise NotImplementedError

    def _apply(self) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(base, self.last_epoch)

    def step(self) -> None:
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]


def _cosine(start: float, end: float, fraction: float) -> float:
    """From `start` at fraction 0 to `end` at fraction 1 along half a cosine."""
    return end + (start - end) * (1 + math.cos(math.pi * fraction)) / 2


class StepLR(LRScheduler):
    """lr * gamma^(step // step_size)."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, base, t):
        return base * self.gamma ** (t // self.step_size)


class MultiStepLR(LRScheduler):
    """lr * gamma^(number of milestones passed)."""

    def __init__(self, optimizer, milestones: list[int], gamma: float = 0.1):
        self.milestones, self.gamma = sorted(milestones), gamma
        super().__init__(optimizer)

    def lr_at(self, base, t):
        return base * self.gamma ** sum(t >= m for m in self.milestones)


class ExponentialLR(LRScheduler):
    def __init__(self, optimizer, gamma: float):
        self.gamma = gamma
        super().__init__(optimizer)

    def lr_at(self, base, t):
        return base * self.gamma**t


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from lr down to eta_min over T_max steps."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, base, t):
        return _cosine(base, self.eta_min, t / self.T_max)


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR (Loshchilov and Hutter 2017): cosine cycles of length T_0, T_0 T_mult, T_0 T_mult^2, ..."""

    def __init__(self, optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0):
        if T_0 <= 0 or T_mult < 1:
            raise ValueError(f"need T_0 > 0 and T_mult >= 1, got T_0={T_0}, T_mult={T_mult}")
        self.T_0, self.T_mult, self.eta_min = T_0, T_mult, eta_min
        super().__init__(optimizer)

    def lr_at(self, base, t):
        if self.T_mult == 1:
            t_cur, t_i = t % self.T_0, self.T_0
        else:  # cycle n starts at T_0 (T_mult^n - 1) / (T_mult - 1)
            n = int(math.log(t / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
            t_cur = t - self.T_0 * (self.T_mult**n - 1) // (self.T_mult - 1)
            t_i = self.T_0 * self.T_mult**n
        return _cosine(base, self.eta_min, t_cur / t_i)


class WarmupCosineLR(LRScheduler):
    """Linear warmup from lr * start_factor to lr over `warmup` steps, then cosine to eta_min at `total`."""

    def __init__(self, optimizer, warmup: int, total: int, start_factor: float = 0.0, eta_min: float = 0.0):
        if not 0 < warmup < total:
            raise ValueError(f"need 0 < warmup < total, got warmup={warmup}, total={total}")
        self.warmup, self.total, self.start_factor, self.eta_min = warmup, total, start_factor, eta_min
        super().__init__(optimizer)

    def lr_at(self, base, t):
        if t < self.warmup:
            return base * (self.start_factor + (1 - self.start_factor) * t / self.warmup)
        return _cosine(
            base, self.eta_min, min(t - self.warmup, self.total - self.warmup) / (self.total - self.warmup)
        )


class OneCycleLR(LRScheduler):
    """Smith's 1cycle: cosine up from max_lr/div_factor to max_lr over pct_start of the steps, then down
    to max_lr/(div_factor * final_div_factor). (Momentum is not cycled.)"""

    def __init__(
        self, optimizer, max_lr: float, total_steps: int, pct_start=0.3, div_factor=25.0, final_div_factor=1e4
    ):
        self.max_lr, self.total_steps, self.pct_start = max_lr, total_steps, pct_start
        self.initial = max_lr / div_factor
        self.final = self.initial / final_div_factor
        super().__init__(optimizer)

    def lr_at(self, base, t):
        if t >= self.total_steps:
            raise ValueError(f"OneCycleLR stepped {t} times, beyond total_steps={self.total_steps}")
        peak = float(self.pct_start * self.total_steps) - 1
        if t <= peak:
            return _cosine(self.initial, self.max_lr, t / peak)
        return _cosine(self.max_lr, self.final, (t - peak) / (self.total_steps - 1 - peak))


class PolynomialLR(LRScheduler):
    """lr * (1 - min(t, total_iters) / total_iters)^power."""

    def __init__(self, optimizer, total_iters: int = 5, power: float = 1.0):
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer)

    def lr_at(self, base, t):
        return base * (1 - min(t, self.total_iters) / self.total_iters) ** self.power


class ReduceLROnPlateau:
    """Multiply lr by `factor` when the metric has not improved for `patience` steps (mode "min"/"max",
    relative threshold), then wait `cooldown` steps; never below min_lr."""

    def __init__(
        self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, cooldown=0, min_lr=0.0, eps=1e-8
    ):
        if mode not in ("min", "max") or not 0 < factor < 1:
            raise ValueError(f"need mode 'min'/'max' and 0 < factor < 1, got mode={mode!r}, factor={factor}")
        self.optimizer, self.mode, self.factor, self.patience = optimizer, mode, factor, patience
        self.threshold, self.cooldown, self.min_lr, self.eps = threshold, cooldown, min_lr, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.bad_steps, self.cooldown_left = 0, 0

    def _better(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best * (1 - self.threshold)
        return value > self.best * (1 + self.threshold)

    def step(self, metric: float) -> None:
        if self._better(metric):
            self.best, self.bad_steps = metric, 0
        else:
            self.bad_steps += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad_steps = 0
        if self.bad_steps > self.patience:
            for g in self.optimizer.param_groups:
                new = max(g["lr"] * self.factor, self.min_lr)
                if g["lr"] - new > self.eps:
                    g["lr"] = new
            self.cooldown_left, self.bad_steps = self.cooldown, 0

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]
