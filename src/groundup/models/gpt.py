"""GPT: a decoder-only Transformer language model (Radford et al. 2018/2019), curriculum 0.7.

    tokens (+ positions) -> n_layer x [x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))] -> ln_f -> head

The head is optionally tied to the token embedding (Press & Wolf 2017), which saves vocab x n_embd
parameters and ties "reading" and "writing" a token. With `norm="pre"`, `pos="learned"`,
`activation="gelu_tanh"` and tied weights this is GPT-2's architecture, and the tests load our
weights into `transformers.GPT2LMHeadModel` to compare logits and gradients.

GPT speaks the one model interface of `layers.CausalLM`, exactly like Llama:

    forward(input_ids (..., T), positions | None, kv_cache | None, logits_index | None) -> logits

so the trainer (`model(x)` is the plain causal forward over a batch), `groundup.generate` (KV cache,
sampling, streaming), perplexity and the serving engine (packed sequences, paged KV cache) all drive a
GPT trained here the same way they drive SmolLM2.
"""

from __future__ import annotations

import torch
from torch import nn

from groundup.models.layers import CacheSpec, ContiguousKVCache, KVCache, NoCache, resolve_positions
from groundup.models.transformer import Block, Embedding, TransformerConfig, final_norm, init_weights

GPTConfig = TransformerConfig


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = Embedding(cfg)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = final_norm(cfg)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        init_weights(self, cfg.n_layer)
        if cfg.tie_weights:
            self.lm_head.weight = self.embed.wte.weight

    vocab_size = property(lambda self: self.cfg.vocab_size)
    max_context = property(lambda self: self.cfg.block_size)
    cache_spec = property(lambda self: CacheSpec(self.cfg.n_layer, self.cfg.n_head, self.cfg.head_size))

    def forward(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor | None = None,
        kv_cache: KVCache | None = None,
        logits_index: torch.Tensor | slice | None = None,
        num_layers: int | None = None,
    ) -> torch.Tensor:
        """input_ids (..., T) -> logits (..., T, vocab); see `layers.CausalLM` for the arguments."""
        positions = resolve_positions(input_ids, positions, kv_cache, self.cfg.block_size)
        if kv_cache is None:  # plain causal attention over these T tokens (training, scoring)
            kv_cache = NoCache(dropout=self.cfg.dropout if self.training else 0.0)
        x = self.embed(input_ids, positions)  # (..., T, C)
        rope = self.embed.rope(positions)  # (cos, sin) for pos="rope", else None
        blocks = self.blocks if num_layers is None else self.blocks[:num_layers]
        for layer, block in enumerate(blocks):
            x = block(x, kv_cache, layer, rope)
        if logits_index is not None:
            x = x[..., logits_index, :]
        return self.lm_head(self.ln_f(x))  # (..., T, vocab)

    def new_cache(self, batch_size: int = 1, max_len: int | None = None) -> ContiguousKVCache:
        """A pre-allocated cache for `batch_size` sequences of up to `max_len` tokens."""
        return ContiguousKVCache.for_model(self, batch_size, max_len)

    def num_params(self) -> int:
        """Parameters counted once (a tied head is the embedding)."""
        return sum(p.numel() for p in self.parameters())
