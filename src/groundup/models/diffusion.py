"""Denoising diffusion: DDPM (Ho et al., 2020, arXiv:2006.11239), DDIM (Song et al., 2020,
arXiv:2010.02502) and classifier-free guidance (Ho & Salimans, 2022, arXiv:2207.12598).

Forward process: a fixed schedule β_1..β_T adds Gaussian noise; with ᾱ_t = Π_{s≤t} (1 − β_s) it jumps
to any step in closed form,

    x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε,        ε ~ N(0, I)                        (`add_noise`)

A network ε_θ(x_t, t, y) learns to predict ε (loss ‖ε − ε_θ‖², `diffusion_loss`). Sampling runs the
process backwards. From x_t the prediction gives x̂_0 = (x_t − √(1−ᾱ_t) ε_θ) / √ᾱ_t (clipped to the data
range), then

    DDPM  x_{t'} = √ᾱ_{t'} β'_t/(1−ᾱ_t) · x̂_0 + √α'_t (1−ᾱ_{t'})/(1−ᾱ_t) · x_t + σ_t z,
          σ_t² = (1−ᾱ_{t'})/(1−ᾱ_t) · β'_t,  β'_t = 1 − ᾱ_t/ᾱ_{t'}, α'_t = 1 − β'_t      (`ddpm_step`)
    DDIM  x_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'} − σ²) ε_θ + σ z,  σ = η·σ_t            (`ddim_step`)

with t' the previous step (t − 1 for DDPM; a stride of T/n for DDIM, which is deterministic at η=0 and
needs ~50 steps instead of 1000). Classifier-free guidance trains one network with the label dropped
(replaced by a "null" class) a fraction of the time and samples with
ε = ε_θ(x, t, ∅) + w · (ε_θ(x, t, y) − ε_θ(x, t, ∅)).

Conventions follow diffusers' DDPMScheduler/DDIMScheduler defaults (ε-prediction, clip x̂_0 to
[−1, 1], "leading" DDIM timesteps, ᾱ = 1 before step 0), so each step equals theirs on the same inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

SCHEDULES = ("linear", "cosine")


def linear_betas(num_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """(T,) β rising linearly (DDPM's choice for T = 1000)."""
    return torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float32)


def cosine_betas(num_steps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """(T,) β from ᾱ(t) = cos²((t/T + s)/(1 + s) · π/2) (Nichol & Dhariwal, 2021): noise arrives more
    evenly than with the linear schedule, which destroys small images too early."""

    def alpha_bar(t: float) -> float:
        return math.cos((t + s) / (1 + s) * math.pi / 2) ** 2

    betas = [
        min(1 - alpha_bar((i + 1) / num_steps) / alpha_bar(i / num_steps), max_beta) for i in range(num_steps)
    ]
    return torch.tensor(betas, dtype=torch.float32)


@dataclass
class NoiseSchedule:
    """β_t and the products derived from it; `kind` is 'linear' or 'cosine'."""

    num_steps: int = 1000
    kind: str = "linear"

    def __post_init__(self):
        if self.num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {self.num_steps}")
        if self.kind not in SCHEDULES:
            raise ValueError(f"kind must be one of {SCHEDULES}, got {self.kind!r}")
        self.betas = linear_betas(self.num_steps) if self.kind == "linear" else cosine_betas(self.num_steps)
        self.alphas = 1.0 - self.betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)  # ᾱ_t, (T,)

    def alpha_bar(self, t: int) -> torch.Tensor:
        """ᾱ_t, with ᾱ = 1 for t < 0 (the clean image before the first step)."""
        return self.alphas_cumprod[t] if t >= 0 else torch.tensor(1.0)


def add_noise(
    schedule: NoiseSchedule, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """x_t = √ᾱ_t x0 + √(1−ᾱ_t) ε for a batch: x0, noise (B, ...), t (B,) int64."""
    ab = schedule.alphas_cumprod[t].to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))  # (B, 1, ...)
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def predict_x0(schedule: NoiseSchedule, x_t: torch.Tensor, eps: torch.Tensor, t: int, clip: bool = True):
    ab = schedule.alpha_bar(t)
    x0 = (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()
    return x0.clamp(-1, 1) if clip else x0


def ddpm_step(
    schedule: NoiseSchedule,
    eps: torch.Tensor,
    t: int,
    x_t: torch.Tensor,
    noise: torch.Tensor | None,
    prev_t=None,
) -> torch.Tensor:
    """One ancestral step x_t -> x_{t'} (t' = t − 1 unless given); `noise` ~ N(0, I) is used for t > 0."""
    prev_t = t - 1 if prev_t is None else prev_t
    ab, ab_prev = schedule.alpha_bar(t), schedule.alpha_bar(prev_t)
    beta = 1 - ab / ab_prev
    x0 = predict_x0(schedule, x_t, eps, t)
    mean = (ab_prev.sqrt() * beta / (1 - ab)) * x0 + ((1 - beta).sqrt() * (1 - ab_prev) / (1 - ab)) * x_t
    if t == 0:
        return mean
    variance = ((1 - ab_prev) / (1 - ab) * beta).clamp(min=1e-20)
    return mean + variance.sqrt() * noise


def ddim_timesteps(num_train_steps: int, num_steps: int) -> list[int]:
    """The "leading" subsequence T/n·(n−1), ..., T/n, 0 that DDIM visits."""
    if not 1 <= num_steps <= num_train_steps:
        raise ValueError(f"num_steps must be in 1..{num_train_steps}, got {num_steps}")
    ratio = num_train_steps // num_steps
    return [i * ratio for i in reversed(range(num_steps))]


def ddim_step(
    schedule: NoiseSchedule,
    eps: torch.Tensor,
    t: int,
    prev_t: int,
    x_t: torch.Tensor,
    eta: float = 0.0,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """One DDIM step x_t -> x_{prev_t}; deterministic when eta = 0."""
    ab, ab_prev = schedule.alpha_bar(t), schedule.alpha_bar(prev_t)
    x0 = predict_x0(schedule, x_t, eps, t)
    sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).sqrt()
    x_prev = ab_prev.sqrt() * x0 + (1 - ab_prev - sigma**2).sqrt() * eps
    if eta > 0:
        x_prev = x_prev + sigma * noise
    return x_prev


def diffusion_loss(
    model: Callable, schedule: NoiseSchedule, x0: torch.Tensor, labels: torch.Tensor, generator=None
) -> torch.Tensor:
    """‖ε − ε_θ(x_t, t, y)‖² at a uniformly drawn t per image (DDPM's simplified objective)."""
    t = torch.randint(0, schedule.num_steps, (x0.shape[0],), generator=generator)  # (B,)
    noise = torch.randn(x0.shape, generator=generator)
    return F.mse_loss(model(add_noise(schedule, x0, noise, t), t, labels), noise)


def guided_eps(model: Callable, x: torch.Tensor, t: int, labels: torch.Tensor, null_label: int, scale: float):
    """ε = ε(∅) + w·(ε(y) − ε(∅)), both halves in one batch; w = scale (0: unconditional, 1: conditional)."""
    b = x.shape[0]
    tt = torch.full((2 * b,), t, dtype=torch.long)
    both = model(torch.cat([x, x]), tt, torch.cat([labels, torch.full_like(labels, null_label)]))
    cond, uncond = both[:b], both[b:]
    return uncond + scale * (cond - uncond)


@torch.no_grad()
def sample(
    model: Callable,
    schedule: NoiseSchedule,
    labels: torch.Tensor,
    shape: tuple[int, ...],
    *,
    null_label: int,
    guidance: float = 1.0,
    method: str = "ddim",
    num_steps: int = 50,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Images (B, *shape) for `labels` (B,) from pure noise by DDPM (all T steps) or DDIM (num_steps)."""
    if method not in ("ddpm", "ddim"):
        raise ValueError(f"method must be 'ddpm' or 'ddim', got {method!r}")
    x = torch.randn((labels.shape[0], *shape), generator=generator)
    steps = (
        list(reversed(range(schedule.num_steps)))
        if method == "ddpm"
        else ddim_timesteps(schedule.num_steps, num_steps)
    )
    for i, t in enumerate(steps):
        eps = guided_eps(model, x, t, labels, null_label, guidance)
        noise = torch.randn(x.shape, generator=generator) if (method == "ddpm" and t > 0) or eta > 0 else None
        if method == "ddpm":
            x = ddpm_step(schedule, eps, t, x, noise)
        else:
            prev_t = steps[i + 1] if i + 1 < len(steps) else -1
            x = ddim_step(schedule, eps, t, prev_t, x, eta, noise)
    return x
