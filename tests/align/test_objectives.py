"""SFT masking, the Bradley–Terry reward loss and DPO/IPO/hinge, each against TRL or transformers'
own code on the same inputs."""

from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from groundup.align.batch import encode_examples, sequence_logprobs, token_logprobs
from groundup.align.dpo import dpo_loss
from groundup.align.reward import RewardModel, bradley_terry_loss, pair_accuracy
from groundup.align.sft import response_perplexity, sft_loss

pytestmark = pytest.mark.module("3.5")

PROMPTS = ["Name a primary colour.", "What is 2 + 3?", "Say hello in French."]
RESPONSES = ["Red.", "2 + 3 = 5.", "Bonjour !"]


def test_encoding_marks_exactly_the_response_and_applies_the_chat_template(smol_tokenizer):
    batch = encode_examples(smol_tokenizer, PROMPTS, RESPONSES)
    assert batch.input_ids.shape[0] == 3
    for row, response in enumerate(RESPONSES):
        ids = batch.input_ids[row, : batch.lengths[row]]
        mask = batch.response_mask[row, : batch.lengths[row]]
        assert smol_tokenizer.decode(ids[mask].tolist()) == response + "<|im_end|>"
        prompt_text = smol_tokenizer.decode(ids[~mask].tolist())
        assert prompt_text.endswith("<|im_start|>assistant\n") and PROMPTS[row] in prompt_text
    assert not batch.response_mask[:, batch.lengths.min() :].all()


def test_sft_loss_equals_transformers_causal_lm_loss(tiny_llama, smol_tokenizer):
    from transformers.loss.loss_utils import ForCausalLMLoss

    batch = encode_examples(smol_tokenizer, PROMPTS, RESPONSES)
    labels = batch.input_ids.masked_fill(~batch.response_mask, -100)
    with torch.no_grad():
        ours = sft_loss(tiny_llama, batch)
        ref = ForCausalLMLoss(tiny_llama(batch.input_ids), labels, vocab_size=smol_tokenizer.vocab_size)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    assert response_perplexity(tiny_llama, [batch]) == pytest.approx(ours.exp().item(), rel=1e-5)


def test_masked_prompt_positions_get_zero_gradient(tiny_llama, smol_tokenizer):
    batch = encode_examples(smol_tokenizer, PROMPTS, RESPONSES)
    logits = tiny_llama(batch.input_ids).detach().requires_grad_(True)
    sft_loss(lambda ids, logits_index=slice(None): logits[:, logits_index], batch).backward()
    per_position = logits.grad.abs().sum(-1)  # (B, T): position t predicts token t+1
    predicts_response = torch.zeros_like(batch.response_mask)
    predicts_response[:, :-1] = batch.response_mask[:, 1:]
    assert per_position[~predicts_response].abs().max() == 0
    assert (per_position[predicts_response] > 0).all()


def _trl_reward_loss(chosen, rejected):
    """RewardTrainer.compute_loss on a model whose logits are the given rewards."""
    from trl import RewardTrainer

    identity = SimpleNamespace(gather=lambda t: t, gather_for_metrics=lambda t: t)
    fake = SimpleNamespace(
        model=SimpleNamespace(training=False),
        args=SimpleNamespace(center_rewards_coefficient=None),
        accelerator=identity,
        _metrics=defaultdict(lambda: defaultdict(list)),
        _total_train_tokens=0,
        _tp_size=1,
    )
    logits = torch.cat([chosen, rejected])[:, None]
    inputs = {"input_ids": torch.zeros(len(logits), 1, dtype=torch.long)}
    return RewardTrainer.compute_loss(fake, lambda **kw: SimpleNamespace(logits=logits), inputs)


def test_bradley_terry_loss_equals_trl_reward_trainer():
    pytest.importorskip("trl", reason="TRL is the reference for the reward loss")
    g = torch.Generator().manual_seed(0)
    chosen, rejected = torch.randn(16, generator=g) * 3, torch.randn(16, generator=g) * 3
    torch.testing.assert_close(bradley_terry_loss(chosen, rejected), _trl_reward_loss(chosen, rejected))


def test_reward_model_reads_the_last_real_token(tiny_llama, smol_tokenizer):
    rm = RewardModel(tiny_llama)
    batch = encode_examples(smol_tokenizer, PROMPTS, RESPONSES)
    rewards = rm(batch)
    assert rewards.shape == (3,)
    for i in range(3):
        alone = encode_examples(smol_tokenizer, PROMPTS[i : i + 1], RESPONSES[i : i + 1])
        torch.testing.assert_close(rm(alone), rewards[i : i + 1], rtol=1e-4, atol=1e-5)


def _trl_dpo_loss(per_token, mask, ref_chosen, ref_rejected, beta, loss_type):
    """DPOTrainer's own loss code, fed our per-token log-probs through a stand-in model output."""
    from trl import DPOTrainer

    identity = SimpleNamespace(gather=lambda t: t, gather_for_metrics=lambda t: t, device="cpu")
    fake = SimpleNamespace(
        model=SimpleNamespace(training=False),
        accelerator=identity,
        aux_loss_enabled=False,
        ld_alpha=None,
        precompute_ref_logps=True,
        f_divergence_type="reverse_kl",
        loss_types=[loss_type],
        loss_weights=[1.0],
        beta=beta,
        label_smoothing=0.0,
        use_weighting=False,
        _metrics=defaultdict(lambda: defaultdict(list)),
        _total_train_tokens=0,
        _tp_size=1,
    )
    out = SimpleNamespace(
        log_probs=per_token,
        entropy=torch.zeros_like(per_token),
        mean_logits=torch.zeros_like(per_token),
        is_top1=torch.zeros_like(per_token, dtype=torch.bool),
    )
    completion_mask = torch.cat([torch.zeros(len(mask), 1, dtype=torch.long), mask.long()], dim=1)
    inputs = {
        "input_ids": torch.zeros_like(completion_mask),
        "attention_mask": torch.ones_like(completion_mask),
        "completion_mask": completion_mask,
        "ref_chosen_logps": ref_chosen,
        "ref_rejected_logps": ref_rejected,
    }
    return DPOTrainer._compute_loss(fake, lambda **kw: out, inputs, False)


@pytest.mark.parametrize("loss_type", ["sigmoid", "ipo", "hinge"])
@pytest.mark.parametrize("beta", [0.1, 0.5])
def test_dpo_loss_equals_trl_dpo_trainer(loss_type, beta):
    pytest.importorskip("trl", reason="TRL is the reference for the DPO losses")
    g = torch.Generator().manual_seed(1)
    pairs, width = 6, 9
    lengths = torch.randint(2, width + 1, (2 * pairs,), generator=g)
    mask = torch.arange(width)[None] < lengths[:, None]  # (2B, T) chosen rows first
    per_token = -torch.rand(2 * pairs, width, generator=g) * 3 * mask
    ref = per_token.sum(1) + torch.randn(2 * pairs, generator=g)
    logps = per_token.sum(1)
    ours = dpo_loss(
        logps[:pairs],
        logps[pairs:],
        ref[:pairs],
        ref[pairs:],
        beta,
        loss_type,
        lengths[:pairs],
        lengths[pairs:],
    )
    theirs = _trl_dpo_loss(per_token, mask, ref[:pairs], ref[pairs:], beta, loss_type)
    torch.testing.assert_close(ours.loss, theirs)
    torch.testing.assert_close(ours.chosen_rewards, beta * (logps[:pairs] - ref[:pairs]))


def test_dpo_loss_rejects_bad_options():
    x = torch.zeros(2)
    with pytest.raises(ValueError, match="beta"):
        dpo_loss(x, x, x, x, beta=0)
    with pytest.raises(ValueError, match="loss_type"):
        dpo_loss(x, x, x, x, loss_type="kto")
    with pytest.raises(ValueError, match="chosen_tokens"):
        dpo_loss(x, x, x, x, loss_type="ipo")


def test_dpo_on_a_tiny_model_raises_preference_accuracy_and_margin(byte_llama, byte_tokenizer):
    prompts = [f"Describe item {i}." for i in range(8)]
    chosen = [f"Item {i} is small." for i in range(8)]
    rejected = [f"Item {i} is item item item." for i in range(8)]
    good = encode_examples(byte_tokenizer, prompts, chosen)
    bad = encode_examples(byte_tokenizer, prompts, rejected)
    with torch.no_grad():
        ref_w, ref_l = sequence_logprobs(byte_llama, good), sequence_logprobs(byte_llama, bad)
    opt = torch.optim.AdamW(byte_llama.parameters(), lr=3e-3)
    first = None
    for _ in range(15):
        out = dpo_loss(sequence_logprobs(byte_llama, good), sequence_logprobs(byte_llama, bad), ref_w, ref_l)
        first = out if first is None else first
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    assert first.loss.item() == pytest.approx(0.6931, abs=1e-3)  # policy == reference: log 2
    assert out.loss < 0.3 and pair_accuracy(out.chosen_rewards, out.rejected_rewards) == 1.0
    assert token_logprobs(byte_llama, good).shape == (8, good.input_ids.shape[1] - 1)
