"""Learning-rate schedule: linear warmup, then cosine decay to a floor (nanoGPT's `get_lr`).

    lr(s) = lr_max * (s + 1) / (warmup + 1)                                 for s < warmup
    lr(s) = lr_min + (lr_max - lr_min) * (1 + cos(pi * r)) / 2,  r = (s - warmup) / (decay - warmup)
    lr(s) = lr_min                                                          for s > decay

Warmup keeps the first Adam steps small while its second-moment estimates are still noisy; the cosine
tail anneals into a minimum. The schedule is a pure function of the step, so its checkpoint state is
just the step it has reached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class WarmupCosine:
    lr_max: float
    lr_min: float
    warmup_iters: int
    decay_iters: int
    step: int = 0

    def __post_init__(self):
        if self.warmup_iters < 0 or self.decay_iters < 0:
            raise ValueError("warmup_iters and decay_iters must be >= 0")

    def lr_at(self, step: int) -> float:
        if step < self.warmup_iters:
            return self.lr_max * (step + 1) / (self.warmup_iters + 1)
        if step > self.decay_iters or self.decay_iters <= self.warmup_iters:
            return self.lr_min
        ratio = (step - self.warmup_iters) / (self.decay_iters - self.warmup_iters)
        return self.lr_min + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (self.lr_max - self.lr_min)

    def apply(self, optimizer) -> float:
        """Set the lr of every parameter group for the current step, then advance; returns that lr."""
        lr = self.lr_at(self.step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        self.step += 1
        return lr

    def describe(self, max_iters: int) -> str:
        """The schedule a run of `max_iters` steps actually follows, in words (for its report)."""
        if self.lr_max == self.lr_min:
            return f"constant lr {self.lr_max:g}"
        warm = (
            f"linear warmup to {self.lr_max:g} over {self.warmup_iters} iterations, "
            if self.warmup_iters
            else ""
        )
        if max_iters <= self.warmup_iters:
            return f"{warm}cut off at iteration {max_iters} (still warming up, lr {self.lr_at(max_iters - 1):.3g})"
        if self.decay_iters <= self.warmup_iters:
            return f"{warm}then constant lr {self.lr_min:g}"
        end = min(max_iters, self.decay_iters)
        tail = (
            f", then constant {self.lr_min:g} to iteration {max_iters}"
            if max_iters > self.decay_iters
            else ""
        )
        reached = "" if end == self.decay_iters else f" (cut off at {end}: lr {self.lr_at(end - 1):.3g})"
        return f"{warm}cosine decay {self.lr_max:g} -> {self.lr_min:g} by iteration {self.decay_iters}{reached}{tail}"

    def state_dict(self) -> dict:
        return {"step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])
