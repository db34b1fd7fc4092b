"""The modern architectures of curriculum 3.4 built from a `TrainConfig`, for `zoo.build_model`.

moe_gpt and linear_gpt are GPT with its MLPs or its attention replaced (same fields as gpt); mamba,
rwkv and retnet read n_embd, n_layer (and n_head for RetNet). Every model's context is block_size.
"""

from __future__ import annotations

from torch import nn

from groundup.models.gpt import GPTConfig
from groundup.models.linear_attention import LinearAttentionGPT
from groundup.models.mamba import Mamba, MambaConfig
from groundup.models.moe import MoEGPT
from groundup.models.retnet import RetNet, RetNetConfig
from groundup.models.rwkv import RWKV, RWKVConfig
from groundup.train.config import TrainConfig

MODERN = ("moe_gpt", "linear_gpt", "mamba", "rwkv", "retnet")


def gpt_config(cfg: TrainConfig, vocab_size: int) -> GPTConfig:
    """The GPT shape a `TrainConfig` describes (gpt, and the GPT variants moe_gpt and linear_gpt)."""
    return GPTConfig(
        vocab_size=vocab_size,
        block_size=cfg.block_size,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_embd=cfg.n_embd,
        dropout=cfg.dropout,
        bias=cfg.bias,
        norm=cfg.norm,
        pos=cfg.pos,
        activation=cfg.activation,
        tie_weights=cfg.tie_weights,
    )


def build_modern(cfg: TrainConfig, vocab_size: int) -> nn.Module:
    if cfg.model == "moe_gpt":
        return MoEGPT(gpt_config(cfg, vocab_size), n_experts=cfg.n_experts, top_k=cfg.top_k)
    if cfg.model == "linear_gpt":
        return LinearAttentionGPT(gpt_config(cfg, vocab_size))
    if cfg.model == "mamba":
        return Mamba(MambaConfig(vocab_size, cfg.n_embd, cfg.n_layer, max_context=cfg.block_size))
    if cfg.model == "rwkv":
        return RWKV(RWKVConfig(vocab_size, cfg.n_embd, cfg.n_layer, max_context=cfg.block_size))
    if cfg.model == "retnet":
        return RetNet(
            RetNetConfig(vocab_size, cfg.n_embd, cfg.n_layer, cfg.n_head, max_context=cfg.block_size)
        )
    raise ValueError(f"model: {cfg.model!r} is not one of {', '.join(MODERN)}")
