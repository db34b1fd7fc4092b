"""GPT: a decoder-only Transformer language model (Radford et al. 2018/2019), curriculum 0.7.

Token (+ position) embedding -> n_layer causal `Block`s -> final norm (pre-norm only) -> linear head
back to the vocabulary, optionally tied to the token embedding (Press & Wolf 2017), which saves
vocab x n_embd parameters and ties "reading" and "writing" a token. With `norm="pre"`,
`pos="learned"`, `activation="gelu_tanh"` and tied weights this is GPT-2's architecture, and the tests
load our weights into `transformers.GPT2LMHeadModel` to compare logits.

forward(idx (B, T)) -> logits (B, T, vocab): the same interface as every model of the makemore ladder,
so one trainer trains them all.
"""

from __future__ import annotations

import torch
from torch import nn

from groundup.models.transformer import Block, Embedding, TransformerConfig, init_weights

GPTConfig = TransformerConfig


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = Embedding(cfg)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        # Post-norm blocks already end in a norm; pre-norm leaves the residual stream un-normalised.
        self.ln_f = nn.LayerNorm(cfg.n_embd, bias=cfg.bias) if cfg.norm == "pre" else nn.Identity()
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        init_weights(self, cfg.n_layer)
        if cfg.tie_weights:
            self.lm_head.weight = self.embed.wte.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x, rope = self.embed(idx), self.embed.rope(idx.shape[1])  # (B, T, C)
        for block in self.blocks:
            x = block(x, causal=True, rope=rope)
        return self.lm_head(self.ln_f(x))  # (B, T, vocab)

    def generate(self, idx: torch.Tensor, max_new_tokens: int, params=None, generator=None) -> torch.Tensor:
        """idx (B, T) extended by `max_new_tokens` sampled tokens -> (B, T + max_new_tokens)."""
        return generate_tokens(self, idx, max_new_tokens, self.cfg.block_size, params, generator)

    def num_params(self) -> int:
        """Parameters counted once (a tied head is the embedding)."""
        return sum(p.numel() for p in self.parameters())


@torch.no_grad()
def generate_tokens(model, idx, max_new_tokens: int, block_size: int, params=None, generator=None):
    """Autoregressive sampling for any `forward(idx) -> logits` model of the ladder: feed at most the
    last `block_size` tokens (the longest context it was trained on), draw the next token with
    `groundup.generate.sample` (temperature, top-k, top-p, ...; `params` a SamplingParams), append."""
    from groundup.generate import SamplingParams, sample  # the one sampler; imported late (higher layer)

    params = params or SamplingParams()
    was_training = model.training
    model.eval()
    for _ in range(max_new_tokens):
        logits = model(idx[:, -block_size:])[:, -1]  # (B, V)
        next_id = sample(logits, params, generator)  # (B,)
        idx = torch.cat([idx, next_id[:, None]], dim=1)  # (B, T + 1)
    model.train(was_training)
    return idx
