"""The flash-attention forward pass as one Triton kernel: the tiles of `flash_attention.py`, one
program per (query block, batch x head).

Each program loads its BLOCK_M queries once, then streams key/value blocks of BLOCK_N through the
online softmax (running maximum m, denominator l, accumulator acc; see `flash_attention.py`), so the
T x T scores never exist in memory. Grouped K/V heads are read in place (query head h reads K/V head
h // (H / Hkv)); `causal` stops each program at its last query, and a key padding mask (B, Tk) blocks
keys. Returns the output and the log-sum-exp per row, as the PyTorch version keeps for its backward.

On a GPU this compiles to one kernel. Without one, `TRITON_INTERPRET=1` runs the same kernel on CPU
tensors in Triton's NumPy interpreter: slow, but it checks the program itself, which is what the
tests do. The variable must be set before triton is first imported (triton wraps its own library
functions then), so the tests run the kernel in a fresh process. The backward pass stays the
PyTorch one.
"""

import math
import os

import torch

from groundup.errors import GroundupError
from groundup.models.flash_attention import check_shapes

try:
    import triton
    import triton.language as tl
except ImportError:  # an optional dependency: only this module needs it
    triton = None

if triton is not None:

    @triton.jit
    def _flash_forward(
        Q, K, V, O, LSE, PAD,
        scale, H, G, Tq, Tk, D,
        sqb, sqh, sqt, skb, skh, skt, svb, svh, svt, sob, soh, sot,
        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
        CAUSAL: tl.constexpr, HAS_PAD: tl.constexpr,
    ):  # fmt: skip
        start_m = tl.program_id(0) * BLOCK_M
        bh = tl.program_id(1)
        b, h = bh // H, bh % H
        hk = h // G  # the shared key/value head of this query head's group
        rows = start_m + tl.arange(0, BLOCK_M)  # (BLOCK_M,)
        dims = tl.arange(0, BLOCK_D)
        cols0 = tl.arange(0, BLOCK_N)
        q_ptr = Q + b * sqb + h * sqh + rows[:, None] * sqt + dims[None, :]
        q = tl.load(q_ptr, mask=(rows[:, None] < Tq) & (dims[None, :] < D), other=0.0)  # (BLOCK_M, BLOCK_D)
        m_i = tl.full((BLOCK_M,), -float("inf"), tl.float32)
        l_i = tl.zeros((BLOCK_M,), tl.float32)
        acc = tl.zeros((BLOCK_M, BLOCK_D), tl.float32)
        end = tl.minimum(Tk, start_m + BLOCK_M) if CAUSAL else Tk
        for start_n in range(0, end, BLOCK_N):
            cols = start_n + cols0  # (BLOCK_N,)
            kv_mask = (cols[None, :] < Tk) & (dims[:, None] < D)
            k = tl.load(K + b * skb + hk * skh + cols[None, :] * skt + dims[:, None], mask=kv_mask, other=0.0)
            s = tl.dot(q, k) * scale  # (BLOCK_M, BLOCK_N)
            allowed = (cols[None, :] < Tk) & (rows[:, None] >= 0)
            if CAUSAL:
                allowed = allowed & (cols[None, :] <= rows[:, None])
            if HAS_PAD:
                keep = tl.load(PAD + b * Tk + cols, mask=cols < Tk, other=0)
                allowed = allowed & (keep[None, :] != 0)
            s = tl.where(allowed, s, -float("inf"))
            m_new = tl.maximum(m_i, tl.max(s, 1))
            m_ref = tl.where(m_new == -float("inf"), 0.0, m_new)  # a row with no key yet: no NaN
            p = tl.exp(s - m_ref[:, None])
            alpha = tl.exp(m_i - m_ref)
            l_i = l_i * alpha + tl.sum(p, 1)
            v_ptr = V + b * svb + hk * svh + cols[:, None] * svt + dims[None, :]
            v = tl.load(
                v_ptr, mask=(cols[:, None] < Tk) & (dims[None, :] < D), other=0.0
            )  # (BLOCK_N, BLOCK_D)
            acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
            m_i = m_new
        safe_l = tl.where(l_i == 0.0, 1.0, l_i)
        out = acc / safe_l[:, None]
        o_ptr = O + b * sob + h * soh + rows[:, None] * sot + dims[None, :]
        tl.store(o_ptr, out.to(O.dtype.element_ty), mask=(rows[:, None] < Tq) & (dims[None, :] < D))
        tl.store(LSE + bh * Tq + rows, m_i + tl.log(safe_l), mask=rows < Tq)


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def flash_attention_triton(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    key_padding_mask: torch.Tensor | None = None,
    scale: float | None = None,
    block_m: int = 32,
    block_n: int = 32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(output (B, H, Tq, D), log-sum-exp (B, H, Tq)) for q (B, H, Tq, D), k/v (B, Hkv, Tk, D).

    Needs a GPU, or TRITON_INTERPRET=1 for CPU tensors. Forward only (no autograd).
    """
    if triton is None:
        raise GroundupError("flash_attention_triton needs the triton package: pip install triton")
    if q.device.type == "cpu" and not interpreting():
        raise GroundupError(
            "flash_attention_triton got CPU tensors: move them to a GPU, or set TRITON_INTERPRET=1 "
            "before triton is first imported to run the kernel in Triton's interpreter"
        )
    check_shapes(q, k, v, key_padding_mask, block_m, block_n)
    B, H, Tq, D = q.shape
    Hkv, Tk = k.shape[1], k.shape[2]
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
    out = torch.empty_like(q)
    lse = torch.empty(B, H, Tq, dtype=torch.float32, device=q.device)
    pad = key_padding_mask.to(torch.int8).contiguous() if key_padding_mask is not None else q.new_empty(0)
    grid = (triton.cdiv(Tq, block_m), B * H)
    _flash_forward[grid](
        q, k, v, out, lse, pad,
        scale, H, H // Hkv, Tq, Tk, D,
        *q.stride()[:3], *k.stride()[:3], *v.stride()[:3], *out.stride()[:3],
        BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=max(16, triton.next_power_of_2(D)),
        CAUSAL=causal, HAS_PAD=key_padding_mask is not None,
    )  # fmt: skip
    return out, lse
