"""Alignment: supervised fine-tuning with prompt masking, a Bradley–Terry reward model, DPO (and IPO),
the PPO-RLHF losses (KL-penalized rewards, GAE, clipping, adaptive KL),
and the preference data they learn from, all over any model that speaks `CausalLM`.

Names load from their submodules on first use (`groundup.lazy`).
"""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "batch": ["Batch", "encode_examples", "format_prompt", "sequence_logprobs", "token_logprobs"],
        "sft": ["sft_loss", "response_perplexity"],
        "reward": ["RewardModel", "bradley_terry_loss"],
        "dpo": ["DPO_LOSSES", "dpo_loss"],
        "preferences": ["PreferencePair", "rule_score", "build_pairs", "sample_responses"],
        "constitutional": ["PRINCIPLES", "critique_and_revise", "chat_generator", "to_pair"],
        "ppo": ["AdaptiveKLController", "gae", "kl_penalized_rewards", "policy_loss", "value_loss"],
    },
)
