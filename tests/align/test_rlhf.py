"""The PPO-RLHF loop on a tiny model: the reference is the policy with adapters off, and a run raises
a reward whose optimum is known (answers made of the letter 'e')."""

import pytest
import torch

from groundup.align.batch import encode_examples, token_logprobs
from groundup.align.rlhf import PPOConfig, adapters_off, rollout_batch, train_ppo
from groundup.align.split import Top, Trunk
from groundup.compress.lora import apply_lora, lora_layers

pytestmark = pytest.mark.module("3.5")

PROMPTS = ["Hi?", "Go on", "Why not", "Tell me", "And then?", "Sure", "Well", "Ok?"]


def _policy(model, scale=0.02):
    with torch.no_grad():
        model.lm_head.weight.mul_(scale)  # a flatter next-token distribution
    top = Top(model, Trunk(model, 1))
    apply_lora(top, ["attn.qkv", "attn.out", "mlp.gate_up", "mlp.down"], r=4, alpha=8)
    return top


def test_adapters_off_is_the_base_model_and_restores_the_adapters(byte_llama, byte_tokenizer):
    batch = encode_examples(byte_tokenizer, ["Hi?"], ["there"])
    base = token_logprobs(byte_llama, batch).detach()
    top = _policy(byte_llama)
    base = token_logprobs(top, batch).detach()
    for layer in lora_layers(top):
        torch.nn.init.normal_(layer.lora_B, std=0.5)
    tuned = token_logprobs(top, batch).detach()
    with adapters_off(top):
        torch.testing.assert_close(token_logprobs(top, batch), base)
    torch.testing.assert_close(token_logprobs(top, batch), tuned)
    assert not torch.allclose(tuned, base)


def test_rollout_batch_keeps_the_sampled_tokens(byte_llama, byte_tokenizer):
    top = _policy(byte_llama)
    batch, rows = rollout_batch(byte_llama, byte_tokenizer, PROMPTS[:3], PPOConfig(max_new_tokens=5), seed=0)
    for i, r in enumerate(rows):
        response = batch.input_ids[i][batch.response_mask[i]].tolist()
        assert response[: len(r.token_ids)] == r.token_ids
    assert token_logprobs(top, batch).shape == (3, batch.input_ids.shape[1] - 1)


def test_ppo_raises_a_reward_with_a_known_optimum(byte_llama, byte_tokenizer):
    """Reward: the fraction of answer tokens that are lowercase letters (optimum 1; ~0.5 at the start)."""
    torch.manual_seed(0)
    top = _policy(byte_llama, scale=0.3)

    def reward(batch):  # (B,)
        ids, mask = batch.input_ids, batch.response_mask
        return ((ids >= ord("a")) & (ids <= ord("z")) & mask).sum(1) / mask.sum(1)

    cfg = PPOConfig(
        iterations=20, prompts_per_iteration=16, max_new_tokens=6, epochs=4, lr=5e-3, init_kl_coef=0.01
    )
    curve = train_ppo(byte_llama, top, reward, byte_tokenizer, PROMPTS * 2, cfg, seed=0, log=lambda m: None)
    first, last = sum(curve["score"][:5]) / 5, sum(curve["score"][-5:]) / 5
    assert last > max(0.75, first + 0.2), curve["score"]
    assert all(k in curve for k in ("kl", "beta", "loss", "seconds")) and curve["kl"][-1] > 0
