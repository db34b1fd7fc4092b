"""The single-token decode step with static shapes, for `torch.compile` (gpt-fast's recipe on a CPU).

Eager decoding runs a few thousand small PyTorch operations per token, each paying Python and
dispatcher overhead. A compiler can fuse the elementwise ones (norms, rotary, SiLU, residuals) into
a few loops, but only for a step whose shapes do not change from token to token. The contiguous
cache grows by one key per step, so here attention reads the *whole* pre-allocated buffer and a mask
hides the slots not written yet:

    k_cache[:, :, pos] = k;  v_cache[:, :, pos] = v                 (B, Hkv, max_len, D), written in place
    out = softmax(q kᵀ · scale + mask) v     mask[j] = j <= pos     one shape for every step

`StaticDecode(model)` is that step over a `ContiguousKVCache`; with `compile=True` it goes through
`torch.compile` once per cache shape (dynamic after the second shape). `Llama.forward` routes batch-1
single-token calls with a contiguous cache to `model.decode_step` when one is set
(`enable_static_decode`), so `generate`, `chat` and `stream` use it unchanged.

Measured on the 2-core machine (docs/notes/1.5-quantized-cpu-inference.md): compiling the SmolLM2
step takes minutes of CPU and the compiled step is no faster than eager mode, so it is off by default.
"""

from __future__ import annotations

import time

import torch

from groundup.models.layers import ContiguousKVCache, scaled_dot_product


class _WholeBufferAttention:
    """A KV cache view for one step: writes position `pos` of every layer's buffer, attends to all of
    it with the positions after `pos` masked out."""

    def __init__(self, k: torch.Tensor, v: torch.Tensor, pos: torch.Tensor):
        self.k, self.v, self.pos = k, v, pos  # (L, B, Hkv, max_len, D) x 2, (1,)
        self.mask = (torch.arange(k.shape[3], device=k.device) <= pos)[
            None, None, None, :
        ]  # (1, 1, 1, max_len)

    def attend(self, layer, q, k, v, scale=None):
        """q (B, 1, H, D), k/v (B, 1, Hkv, D) -> (B, 1, H, D)."""
        self.k[layer].index_copy_(2, self.pos, k.transpose(1, 2))
        self.v[layer].index_copy_(2, self.pos, v.transpose(1, 2))
        out = scaled_dot_product(q.transpose(1, 2), self.k[layer], self.v[layer], mask=self.mask, scale=scale)
        return out.transpose(1, 2)


class StaticDecode:
    """model(input_ids (B, 1), kv_cache) for a Llama-style model with `embed`, `rope`, `blocks`, `norm`
    and `lm_head`, in fixed shapes. `compile_seconds` holds the first call's time when compiled."""

    def __init__(self, model, compile: bool = True):
        self.model = model
        self.compiled = compile
        self.step = torch.compile(self._step) if compile else self._step
        self.compile_seconds: float | None = None

    def _step(self, input_ids, pos, k, v):
        m = self.model
        x = m.embed(input_ids)  # (B, 1, C)
        rope = m.rope(pos[None, :])  # positions (1, 1): the same for every row
        cache = _WholeBufferAttention(k, v, pos)
        for layer, block in enumerate(m.blocks):
            x = block(x, cache, layer, rope)
        return m.lm_head(m.norm(x))  # (B, 1, vocab)

    def __call__(self, input_ids: torch.Tensor, kv_cache: ContiguousKVCache) -> torch.Tensor:
        pos = torch.tensor([kv_cache.length], device=input_ids.device)
        start = time.perf_counter()
        logits = self.step(input_ids, pos, kv_cache.k, kv_cache.v)
        if self.compiled and self.compile_seconds is None:
            self.compile_seconds = time.perf_counter() - start
        kv_cache.lengths = [n + 1 for n in kv_cache.lengths]
        return logits


def can_use(input_ids, positions, kv_cache, num_layers) -> bool:
    """A single new token per row, default positions, an unpadded contiguous cache, every layer."""
    return (
        input_ids.shape[-1] == 1
        and input_ids.ndim == 2
        and positions is None
        and num_layers is None
        and isinstance(kv_cache, ContiguousKVCache)
        and not kv_cache.has_padding
        and len(set(kv_cache.lengths)) == 1
        and kv_cache.length < kv_cache.max_len
    )


def enable_static_decode(model, compile: bool = True) -> StaticDecode:
    """Route the model's single-token steps through a StaticDecode (see the module docstring)."""
    model.decode_step = StaticDecode(model, compile)
    return model.decode_step
