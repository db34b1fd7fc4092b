"""The pieces of PPO-RLHF (Schulman et al., 2017, arXiv:1707.06347; Ziegler et al., 2019,
arXiv:1909.08593; Ouyang et al., 2022): per-token rewards with a KL penalty, generalized advantage
estimation, the clipped policy and value losses, and the adaptive KL coefficient.

Per response token t the reward is −β (log π(a_t) − log π_ref(a_t)), and the reward model's score is
added at the last token, so the policy is paid for the score and charged for drifting from the
reference. With a value head V, the TD residual δ_t = r_t + γ V_{t+1} − V_t and

    A_t = Σ_l (γλ)^l δ_{t+l}      (GAE, computed backwards: A_t = δ_t + γλ A_{t+1}),   R_t = A_t + V_t

    policy loss = mean_t max(−A_t ρ_t, −A_t clip(ρ_t, 1 − ε, 1 + ε)),   ρ_t = π(a_t) / π_old(a_t)
    value loss  = ½ mean_t max((V_t − R_t)², (clip(V_t, V_old ± ε_v) − R_t)²)

The adaptive controller moves β so that the measured KL tracks a target: β ← β (1 + clip(KL/target − 1,
±0.2) · n/horizon).
"""

from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1)


def kl_penalized_rewards(
    scores: torch.Tensor, logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor, beta: float
) -> torch.Tensor:
    """(B, T) per-token rewards: −β·(log π − log π_ref) on response tokens, plus scores (B,) at the last one."""
    rewards = -beta * (logp - ref_logp) * mask
    last = mask.long().cumsum(1).argmax(1)  # (B,) index of the last response token
    return rewards.scatter_add(1, last[:, None], scores[:, None].to(rewards.dtype))


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0, lam: float = 0.95
) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns), both (B, T), for response tokens marked by mask (B, T); the value after the
    last token is 0 (the episode ends)."""
    mask = mask.to(values.dtype)
    advantages = torch.zeros_like(values)
    next_value = torch.zeros_like(values[:, 0])  # (B,)
    running = torch.zeros_like(values[:, 0])
    for t in reversed(range(values.shape[1])):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = (delta + gamma * lam * running) * mask[:, t]
        advantages[:, t] = running
        next_value = values[:, t] * mask[:, t]
    return advantages, (advantages + values) * mask


def policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip: float = 0.2,
) -> torch.Tensor:
    """PPO's clipped surrogate (to minimize), averaged over response tokens."""
    ratio = (logp - old_logp).exp()
    losses = torch.maximum(-advantages * ratio, -advantages * ratio.clamp(1 - clip, 1 + clip))
    return masked_mean(losses, mask)


def value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    clip: float = 0.2,
) -> torch.Tensor:
    clipped = old_values + (values - old_values).clamp(-clip, clip)
    return 0.5 * masked_mean(torch.maximum((values - returns) ** 2, (clipped - returns) ** 2), mask)


class AdaptiveKLController:
    """β that grows when the KL to the reference overshoots `target` and shrinks when it undershoots."""

    def __init__(self, init_beta: float = 0.1, target: float = 6.0, horizon: int = 10000):
        if init_beta <= 0 or target <= 0 or horizon < 1:
            raise ValueError("init_beta and target must be > 0 and horizon >= 1")
        self.value, self.target, self.horizon = init_beta, target, horizon

    def update(self, kl: float, n_steps: int) -> float:
        error = max(-0.2, min(0.2, kl / self.target - 1))
        self.value *= 1 + error * n_steps / self.horizon
        return self.value
