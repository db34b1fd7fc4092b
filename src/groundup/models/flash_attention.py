"""Flash attention (Dao et al. 2022; Dao 2023, "FlashAttention-2") in plain PyTorch: exact attention
in tiles, never holding the T x T score matrix.

Naive attention materializes S = q k^T * scale (T x T per head), P = softmax(S), then P v. Flash
attention walks the keys in blocks of `block_k` for each block of `block_q` queries and keeps, per
query row, three running quantities: the largest score seen m, the softmax denominator l relative to
m, and the output accumulator a relative to m. A new key block with scores s updates them as

    m' = max(m, max_j s_j)
    l' = e^(m - m') l + sum_j e^(s_j - m')
    a' = e^(m - m') a + sum_j e^(s_j - m') v_j

and after the last block o = a / l equals softmax(s) v exactly (each rescaling by e^(m - m') moves
earlier terms to the new reference point; see docs/notes/3.4-flash-attention.md). Only the output and
the log-sum-exp L = m + log l per row are kept, O(T) memory beside the inputs.

The backward pass recomputes each tile's probabilities from L (P = e^(S - L)) instead of storing P,
and with D_i = sum_d dO_id O_id (one number per row):

    dV = P^T dO      dP = dO V^T      dS = P * (dP - D)      dQ = dS K * scale      dK = dS^T Q * scale

Grouped K/V heads (GQA/MQA: H query heads over Hkv key/value heads) are read in place: the H / Hkv
query heads of a group form one extra axis against their shared keys. Masks: `causal` (query i sees
keys j <= i, torch's top-left convention) and `key_padding_mask` (B, Tk), True for real keys.

`FlashAttention` is an attention backend like `layers.NoCache`: `model(x, kv_cache=FlashAttention())`
runs any model of the stack through these tiles. `flash_attention_triton.py` is the same algorithm
as one Triton kernel.
"""

from __future__ import annotations

import math

import torch


def flash_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    key_padding_mask: torch.Tensor | None = None,
    scale: float | None = None,
    block_q: int = 64,
    block_k: int = 64,
) -> torch.Tensor:
    """softmax(q k^T * scale + masks) v in tiles: q (B, H, Tq, D), k/v (B, Hkv, Tk, D) -> (B, H, Tq, D).

    Differentiable in q, k and v (the backward pass is tiled too). H must be a multiple of Hkv.
    """
    check_shapes(q, k, v, key_padding_mask, block_q, block_k)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    return _FlashAttention.apply(q, k, v, causal, key_padding_mask, scale, block_q, block_k)


def check_shapes(q, k, v, key_padding_mask, block_q: int, block_k: int) -> None:
    """ValueError naming the argument whose shape cannot work."""
    if q.dim() != 4 or k.dim() != 4 or v.shape != k.shape:
        raise ValueError(
            f"q, k, v: expected q (B, H, Tq, D) and k, v (B, Hkv, Tk, D), got {tuple(q.shape)}, "
            f"{tuple(k.shape)}, {tuple(v.shape)}"
        )
    if q.shape[1] % k.shape[1]:
        raise ValueError(f"k: {k.shape[1]} key/value heads must divide the {q.shape[1]} query heads")
    if key_padding_mask is not None and key_padding_mask.shape != (k.shape[0], k.shape[2]):
        raise ValueError(
            f"key_padding_mask: expected (B, Tk) = {(k.shape[0], k.shape[2])}, got {tuple(key_padding_mask.shape)}"
        )
    if block_q < 1 or block_k < 1:
        raise ValueError(f"block_q and block_k must be >= 1, got {block_q}, {block_k}")


def _tile_bias(qs, qe, ks, ke, causal, key_padding_mask, device, dtype) -> torch.Tensor | None:
    """0 / -inf for the tile of queries qs:qe and keys ks:ke: (B or 1, 1, 1, bq, bk), or None if open."""
    blocked = None
    if causal and ke - 1 > qs:  # some key in the tile lies in the future of some query
        rows = torch.arange(qs, qe, device=device)[:, None]
        cols = torch.arange(ks, ke, device=device)[None, :]
        blocked = (cols > rows)[None, None, None]  # (1, 1, 1, bq, bk)
    if key_padding_mask is not None:
        pad = ~key_padding_mask[:, ks:ke][:, None, None, None, :]  # (B, 1, 1, 1, bk)
        blocked = pad if blocked is None else blocked | pad
    if blocked is None:
        return None
    return torch.zeros(blocked.shape, dtype=dtype, device=device).masked_fill(blocked, -math.inf)


def _key_end(qe: int, Tk: int, causal: bool) -> int:
    """Keys a query block qs:qe can see: all of them, or up to its last query under `causal`."""
    return min(Tk, qe) if causal else Tk


class _FlashAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, causal, key_padding_mask, scale, block_q, block_k):
        B, H, Tq, D = q.shape
        Hkv, Tk = k.shape[1], k.shape[2]
        qg = q.reshape(B, Hkv, H // Hkv, Tq, D)  # (B, Hkv, G, Tq, D): a group's query heads side by side
        kg, vg = k[:, :, None], v[:, :, None]  # (B, Hkv, 1, Tk, D)
        out = torch.empty_like(qg)
        lse = torch.empty(qg.shape[:-1], dtype=q.dtype, device=q.device)  # (B, Hkv, G, Tq)
        for qs in range(0, Tq, block_q):
            qe = min(qs + block_q, Tq)
            qi = qg[..., qs:qe, :] * scale  # (B, Hkv, G, bq, D)
            m = torch.full(qi.shape[:-1], -math.inf, dtype=q.dtype, device=q.device)  # (B, Hkv, G, bq)
            l = torch.zeros_like(m)
            acc = torch.zeros_like(qi)
            for ks in range(0, _key_end(qe, Tk, causal), block_k):
                ke = min(ks + block_k, Tk)
                s = qi @ kg[..., ks:ke, :].transpose(-1, -2)  # (B, Hkv, G, bq, bk)
                bias = _tile_bias(qs, qe, ks, ke, causal, key_padding_mask, q.device, q.dtype)
                if bias is not None:
                    s = s + bias
                m_new = torch.maximum(m, s.amax(-1))
                m_ref = m_new.masked_fill(m_new == -math.inf, 0.0)  # a row with no key yet: no NaN
                p = torch.exp(s - m_ref[..., None])  # (B, Hkv, G, bq, bk)
                alpha = torch.exp(m - m_ref)  # rescales what was accumulated against the old maximum
                l = alpha * l + p.sum(-1)
                acc = alpha[..., None] * acc + p @ vg[..., ks:ke, :]
                m = m_new
            safe_l = l.masked_fill(l == 0, 1.0)  # a row that sees no key outputs zeros
            out[..., qs:qe, :] = acc / safe_l[..., None]
            lse[..., qs:qe] = (m + torch.log(safe_l)).masked_fill(l == 0, math.inf)  # backward: P = 0
        ctx.save_for_backward(q, k, v, out, lse, key_padding_mask)
        ctx.causal, ctx.scale, ctx.block_q, ctx.block_k = causal, scale, block_q, block_k
        return out.reshape(B, H, Tq, D)

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, out, lse, key_padding_mask = ctx.saved_tensors
        causal, scale = ctx.causal, ctx.scale
        B, H, Tq, D = q.shape
        Hkv, Tk = k.shape[1], k.shape[2]
        qg = q.reshape(B, Hkv, H // Hkv, Tq, D)
        dout = grad_out.reshape(qg.shape)
        delta = (dout * out).sum(-1)  # (B, Hkv, G, Tq): D_i = dO_i . O_i
        dq = torch.zeros_like(qg)
        dk, dv = torch.zeros_like(k), torch.zeros_like(v)  # (B, Hkv, Tk, D)
        for ks in range(0, Tk, ctx.block_k):
            ke = min(ks + ctx.block_k, Tk)
            kj, vj = k[:, :, None, ks:ke], v[:, :, None, ks:ke]  # (B, Hkv, 1, bk, D)
            first_q = (ks // ctx.block_q) * ctx.block_q if causal else 0  # earlier queries cannot see kj
            for qs in range(first_q, Tq, ctx.block_q):
                qe = min(qs + ctx.block_q, Tq)
                qi, doi = qg[..., qs:qe, :], dout[..., qs:qe, :]  # (B, Hkv, G, bq, D)
                s = (qi * scale) @ kj.transpose(-1, -2)  # (B, Hkv, G, bq, bk)
                bias = _tile_bias(qs, qe, ks, ke, causal, key_padding_mask, q.device, q.dtype)
                if bias is not None:
                    s = s + bias
                p = torch.exp(s - lse[..., qs:qe, None])  # the forward's probabilities, recomputed
                dv[:, :, ks:ke] += (p.transpose(-1, -2) @ doi).sum(2)  # the group's heads add up
                dp = doi @ vj.transpose(-1, -2)  # (B, Hkv, G, bq, bk)
                ds = p * (dp - delta[..., qs:qe, None])
                dq[..., qs:qe, :] += (ds @ kj) * scale
                dk[:, :, ks:ke] += (ds.transpose(-1, -2) @ qi).sum(2) * scale
        return dq.reshape(q.shape), dk, dv, None, None, None, None, None


class FlashAttention:
    """An attention backend running `flash_attention` over this call's tokens (nothing is stored):
    `model(x, kv_cache=FlashAttention())` equals `model(x)` with naive or fused attention."""

    length = 0

    def __init__(self, causal: bool = True, block_q: int = 64, block_k: int = 64):
        self.causal, self.block_q, self.block_k = causal, block_q, block_k

    def attend(self, layer, q, k, v, scale=None):
        q, k, v = (t.transpose(-3, -2) for t in (q, k, v))  # (B, H, T, D)
        out = flash_attention(
            q, k, v, causal=self.causal, scale=scale, block_q=self.block_q, block_k=self.block_k
        )
        return out.transpose(-3, -2)  # (B, T, H, D)


def naive_attention(q, k, v, *, causal=False, key_padding_mask=None, scale=None) -> torch.Tensor:
    """The T x T reference: softmax(q k^T * scale + masks) v, K/V heads repeated for GQA."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    groups = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)  # (B, H, Tk, D)
    s = (q @ k.transpose(-1, -2)) * scale  # (B, H, Tq, Tk)
    if causal:
        s = s.masked_fill(torch.ones_like(s, dtype=torch.bool).triu(1), -math.inf)
    if key_padding_mask is not None:
        s = s.masked_fill(~key_padding_mask[:, None, None, :], -math.inf)
    return torch.softmax(s, dim=-1) @ v
