"""GPT-2 124M (Radford et al. 2019) built from our shared blocks, and its parameter count.

The smallest GPT-2: 12 layers, 12 heads, 768 channels, a 1,024-token context, the 50,257-token byte
BPE vocabulary, pre-norm blocks with biases, GELU (tanh form) and the output head tied to the token
embedding. Counted once (the tied matrix is one parameter): 124,439,808, the number transformers'
GPT2LMHeadModel reports for the same configuration (tests/theory/test_paper_gpt2.py).
"""

from __future__ import annotations

import torch

from groundup.models.gpt import GPT, GPTConfig

GPT2_SMALL = dict(
    vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768, bias=True, activation="gelu_tanh"
)


def gpt2_config(**overrides) -> GPTConfig:
    return GPTConfig(**{**GPT2_SMALL, "norm": "pre", "pos": "learned", "tie_weights": True, **overrides})


def count_parameters(model: torch.nn.Module) -> int:
    """Distinct parameters (a tied matrix counts once), as `PreTrainedModel.num_parameters()` does."""
    return sum(p.numel() for p in model.parameters())


def gpt2_parameter_count(**overrides) -> int:
    """Build GPT-2 on the meta device (shapes only, no memory) and count its parameters."""
    with torch.device("meta"):
        return count_parameters(GPT(gpt2_config(**overrides)))


def parameter_formula(cfg: GPTConfig) -> int:
    """The count by hand: embeddings V C + T C; per layer 12 C^2 + 13 C (attention 4 C^2 + 4 C, MLP
    8 C^2 + 5 C, two LayerNorms 4 C); the final LayerNorm 2 C; the head is tied (0)."""
    C = cfg.n_embd
    return cfg.vocab_size * C + cfg.block_size * C + cfg.n_layer * (12 * C * C + 13 * C) + 2 * C
