"""The PPO-RLHF loop (InstructGPT's third step) over the pieces in `ppo.py`.

One iteration:

1. rollout: the policy answers a batch of prompts (sampled, KV-cached, `rollout.sample_batch`);
2. score: the reward model's scalar per answer; the policy's and the reference's per-token log-probs
   (the reference is the policy with its LoRA adapters switched off: no second copy); a value per
   position from a linear value head on the policy's last hidden state;
3. rewards −β·(log π − log π_ref) per token plus the score at the last token, GAE advantages
   (whitened over the batch's response tokens) and returns;
4. a few epochs of the clipped policy loss plus the clipped value loss on that one rollout;
5. the adaptive controller moves β toward the target KL.

The value head reads the hidden state detached from the policy (a critic on the policy's features):
the policy's adapters learn only from the policy loss, which keeps a short run stable.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from groundup.align.batch import Batch, batch_from_ids, format_prompt, token_logprobs
from groundup.align.ppo import (
    AdaptiveKLController,
    gae,
    kl_penalized_rewards,
    masked_mean,
    policy_loss,
    value_loss,
)
from groundup.align.rollout import sample_batch
from groundup.compress.lora import lora_layers


@contextlib.contextmanager
def adapters_off(model: nn.Module):
    """Inside the block the model is its base (every LoRA update B·A is zero): the frozen reference."""
    layers = lora_layers(model)
    saved = [layer.lora_B.detach().clone() for layer in layers]
    with torch.no_grad():
        for layer in layers:
            layer.lora_B.zero_()
    try:
        yield model
    finally:
        with torch.no_grad():
            for layer, b in zip(layers, saved):
                layer.lora_B.copy_(b)


@dataclass
class PPOConfig:
    iterations: int = 6
    prompts_per_iteration: int = 6
    max_new_tokens: int = 24
    epochs: int = 4
    lr: float = 5e-4
    init_kl_coef: float = 0.05
    target_kl: float = 2.0  # nats per sequence
    kl_horizon: int = 200
    clip: float = 0.2
    value_clip: float = 0.5
    value_coef: float = 0.5
    gamma: float = 1.0
    lam: float = 0.95
    temperature: float = 1.0


def rollout_batch(generator_model, tokenizer, prompts, cfg: PPOConfig, seed: int):
    """(Batch of the exact sampled tokens with the end token when the answer finished, rollouts)."""
    rows = [
        r[0]
        for r in sample_batch(
            generator_model, tokenizer, prompts, 1, cfg.max_new_tokens, cfg.temperature, seed=seed
        )
    ]
    prompt_ids = [tokenizer.encode(format_prompt(tokenizer, p), add_bos=False) for p in prompts]
    response_ids = [
        r.token_ids + ([tokenizer.eos_token_id] if r.finished or not r.token_ids else []) for r in rows
    ]
    return batch_from_ids(prompt_ids, response_ids), rows


def ppo_step(
    policy, value_head, optimizer, batch: Batch, scores, kl_ctl: AdaptiveKLController, cfg: PPOConfig
):
    """Steps 2–5 for one scored rollout batch; returns the statistics of the iteration."""
    mask = batch.response_mask[:, 1:].float()  # (B, T-1): position t predicts response token t+1
    with torch.no_grad():
        old_logp = token_logprobs(policy, batch)  # (B, T-1)
        with adapters_off(policy):
            ref_logp = token_logprobs(policy, batch)
        features = policy.hidden(batch.input_ids, batch.lengths)[:, :-1]  # (B, T-1, C)
        old_values = value_head(features)[..., 0] * mask  # (B, T-1)
        rewards = kl_penalized_rewards(scores, old_logp, ref_logp, mask, kl_ctl.value)
        advantages, returns = gae(rewards, old_values, mask, cfg.gamma, cfg.lam)
        mean = masked_mean(advantages, mask)
        std = masked_mean((advantages - mean) ** 2, mask).sqrt()
        advantages = (advantages - mean) / (std + 1e-8) * mask
    for _ in range(cfg.epochs):
        logp = token_logprobs(policy, batch)
        values = value_head(features)[..., 0]
        loss = policy_loss(logp, old_logp, advantages, mask, cfg.clip) + cfg.value_coef * value_loss(
            values, old_values, returns, mask, cfg.value_clip
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    kl = ((old_logp - ref_logp) * mask).sum(1).mean().item()  # nats per sequence
    beta = kl_ctl.value
    kl_ctl.update(kl, len(batch))
    return {"score": scores.mean().item(), "kl": kl, "beta": beta, "loss": loss.item()}


def train_ppo(
    generator_model,
    policy,
    reward_fn: Callable[[Batch], torch.Tensor],
    tokenizer,
    prompts: Sequence[str],
    cfg: PPOConfig,
    seed: int = 0,
    log=print,
) -> dict:
    """Run `cfg.iterations` PPO iterations. `policy` (a `split.Top` or any model with `hidden`) carries
    the LoRA adapters that `generator_model` (the full model sharing them) samples with; `reward_fn`
    scores a Batch. Returns the per-iteration curves and the time per iteration."""
    params = [p for layer in lora_layers(policy) for p in (layer.lora_A, layer.lora_B)]
    value_head = nn.Linear(policy.norm.weight.shape[0], 1)
    nn.init.zeros_(value_head.weight)
    nn.init.zeros_(value_head.bias)
    optimizer = torch.optim.AdamW([*params, *value_head.parameters()], lr=cfg.lr)
    kl_ctl = AdaptiveKLController(cfg.init_kl_coef, cfg.target_kl, cfg.kl_horizon)
    rng, curve = random.Random(seed), {"score": [], "kl": [], "beta": [], "loss": [], "seconds": []}
    for it in range(cfg.iterations):
        start = time.perf_counter()
        chosen = rng.sample(list(prompts), min(cfg.prompts_per_iteration, len(prompts)))
        batch, _ = rollout_batch(generator_model, tokenizer, chosen, cfg, seed + it)
        with torch.no_grad():
            scores = reward_fn(batch)  # (B,)
        stats = ppo_step(policy, value_head, optimizer, batch, scores, kl_ctl, cfg)
        stats["seconds"] = time.perf_counter() - start
        for key, value in stats.items():
            curve[key].append(value)
        log(f"ppo {it + 1}/{cfg.iterations}: " + ", ".join(f"{k} {v:.3f}" for k, v in stats.items()))
    return curve
