"""Mamba (Gu & Dao 2023): a language model built on a selective state-space model instead of attention.

A state-space model maps an input channel u(t) to y(t) through an N-dimensional state h:

    h'(t) = A h(t) + B u(t),   y(t) = C h(t) + D u(t)        (A diagonal, N x N; B, C in R^N)

Discretized with step delta by zero-order hold (the input held constant over the step):

    h_t = Abar h_{t-1} + Bbar u_t,   Abar = exp(delta A),   Bbar = (delta A)^-1 (exp(delta A) - I) delta B

Mamba keeps Abar and replaces Bbar by its first-order form delta B (`discretize(..., exact=False)`,
what the reference implementation does). "Selective": delta, B and C are computed from the input at
every step (delta = softplus(W_dt x_proj(u) + b)), so the model can decide per token what to keep
and what to forget; A and D are learned per channel.

The recurrence h_t = a_t h_{t-1} + b_t is a linear scan. `scan_sequential` runs it step by step
(O(T) steps); `scan_parallel` combines the pairs (a, b) with the associative operator
(a1, b1) . (a2, b2) = (a1 a2, a2 b1 + b2) in log2(T) rounds (Hillis-Steele), which is how a parallel
machine runs it. Both give the same states.

The mixer (one layer): in_proj -> (x, z); x -> causal depthwise conv (width 4) -> silu -> SSM -> * silu(z)
-> out_proj. The model: embedding -> n_layers x [x + mixer(rmsnorm(x))] -> rmsnorm -> tied head.
Decoding carries, per layer, the last conv inputs and the SSM state (`RecurrentState`): constant
memory and time per token. Tests: the mixer equals transformers' `MambaMixer` with copied weights; the
token-by-token decode equals the full forward; both scans agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from groundup.models.layers import RMSNorm, resolve_positions
from groundup.models.recurrent_state import RecurrentState


@dataclass
class MambaConfig:
    vocab_size: int = 65
    dim: int = 64
    n_layers: int = 4
    d_state: int = 16
    d_conv: int = 4
    expand: int = 2
    dt_rank: int = 0  # 0: ceil(dim / 16)
    max_context: int = 4096
    norm_eps: float = 1e-5
    scan: str = (
        "auto"  # or "time_major", "fused", "parallel", "sequential": the same numbers (`selective_scan`)
    )

    def __post_init__(self):
        for name in ("vocab_size", "dim", "n_layers", "d_state", "d_conv", "expand", "max_context"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.scan not in SCAN_NAMES:
            raise ValueError(f"scan must be one of {', '.join(SCAN_NAMES)}, got {self.scan!r}")
        self.dt_rank = self.dt_rank or math.ceil(self.dim / 16)

    @property
    def inner(self) -> int:
        return self.expand * self.dim


def discretize(delta, A, B, exact: bool = False):
    """(Abar, Bbar) for step delta (..., Di), A (Di, N), B (..., N) -> each (..., Di, N).

    exact: zero-order hold, Bbar = (exp(delta A) - 1) / A * B (A diagonal); otherwise delta B.
    """
    dA = delta[..., None] * A  # (..., Di, N)
    Abar = torch.exp(dA)
    if exact:
        return Abar, torch.expm1(dA) / A * B[..., None, :]
    return Abar, delta[..., None] * B[..., None, :]


def scan_sequential(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """h_t = a_t h_{t-1} + b_t over axis 1 of a, b (B, T, ...) -> every h_t (B, T, ...)."""
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0
    states = []
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        states.append(h)
    return torch.stack(states, dim=1)


def scan_parallel(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The same states by the associative scan: after the round with offset s, position t holds the
    composition of steps t-2s+1 .. t; log2(T) rounds of O(T) work each."""
    if h0 is not None:
        b = torch.cat([(a[:, 0] * h0 + b[:, 0])[:, None], b[:, 1:]], dim=1)  # fold h0 into step 0
    offset = 1
    while offset < a.shape[1]:
        a_prev = F.pad(a[:, :-offset], (0,) * (2 * (a.dim() - 2)) + (offset, 0), value=1.0)  # identity a = 1
        b_prev = F.pad(b[:, :-offset], (0,) * (2 * (b.dim() - 2)) + (offset, 0), value=0.0)  # identity b = 0
        a, b = a * a_prev, a * b_prev + b  # (a_prev, b_prev) then (a, b)
        offset *= 2
    return b


SCANS = {"sequential": scan_sequential, "parallel": scan_parallel}
SCAN_NAMES = ("auto", "time_major", "fused", "parallel", "sequential")


def selective_scan(u, delta, A, B, C, D, h0=None, scan: str = "auto"):
    """y_t = C_t . h_t + D u_t with h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t.

    u, delta (Bt, T, Di); A (Di, N); B, C (Bt, T, N); D (Di,); h0 (Bt, Di, N) -> (y (Bt, T, Di), h_T).
    scan: "parallel" or "sequential" build the discretized (Bt, T, Di, N) tensors and scan them with
    autograd; "fused" (`_FusedScan`) discretizes one step at a time (no (Bt, T, Di, N) tensor but the
    states); "time_major" (`_TimeMajorScan`) discretizes and reads out all steps at once and loops over
    time only for h = a h + b, both with their own backward pass. "auto": time_major when a gradient
    is wanted, fused otherwise (no chunk buffers). On a 2-vCPU machine the two train at the same
    speed (1.00-1.09x, memory-bound; docs/notes/3.4-modern-architectures.md).
    """
    if scan == "auto":
        wants_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (u, delta, A, B, C))
        scan = "time_major" if wants_grad else "fused"
    if scan in ("fused", "time_major"):
        h0 = torch.zeros(u.shape[0], *A.shape, dtype=u.dtype, device=u.device) if h0 is None else h0
        fn = _FusedScan if scan == "fused" else _TimeMajorScan
        y, h_last = fn.apply(u, delta, A, B, C, h0)
        return y + D * u, h_last
    Abar, Bbar = discretize(delta, A, B)  # (Bt, T, Di, N) each
    h = SCANS[scan](Abar, Bbar * u[..., None], h0)  # (Bt, T, Di, N)
    y = (h * C[:, :, None, :]).sum(-1) + D * u  # (Bt, T, Di)
    return y, h[:, -1]


class _FusedScan(torch.autograd.Function):
    """The selective scan one step at a time, as the CUDA kernel does it: exp(delta_t A) and
    delta_t B_t u_t exist for one step only (a (Bt, Di, N) slice that stays in cache), so no
    (Bt, T, Di, N) tensor but the states kept for the backward pass is ever written. The backward
    pass walks the steps in reverse: with g the gradient reaching h_t,

        g_t = C_t dy_t + a_{t+1} g_{t+1},   d a_t = g_t h_{t-1},   d b_t = g_t
        d delta_t = sum_N (d a_t a_t A + d b_t B_t u_t),   d A = sum_(batch, t) d a_t a_t delta_t
        d u_t = sum_N d b_t B_t delta_t,   d B_t = sum_Di d b_t delta_t u_t,   d C_t = sum_Di h_t dy_t
    """

    @staticmethod
    def forward(ctx, u, delta, A, B, C, h0):
        states = u.new_empty(u.shape[0], u.shape[1] + 1, *A.shape)  # (Bt, T + 1, Di, N): h_{-1} .. h_{T-1}
        states[:, 0] = h = h0
        y = torch.empty_like(u)
        for t in range(u.shape[1]):
            a = torch.exp(delta[:, t, :, None] * A)  # (Bt, Di, N)
            h = a * h + (delta[:, t] * u[:, t])[..., None] * B[:, t, None, :]
            states[:, t + 1] = h
            y[:, t] = (h * C[:, t, None, :]).sum(-1)
        ctx.save_for_backward(u, delta, A, B, C, states)
        return y, h

    @staticmethod
    def backward(ctx, dy, dh_last):
        u, delta, A, B, C, states = ctx.saved_tensors
        du, ddelta, dB, dC = (torch.zeros_like(t) for t in (u, delta, B, C))
        dA = torch.zeros_like(A)
        g = dh_last.clone() if dh_last is not None else torch.zeros_like(states[:, 0])  # (Bt, Di, N)
        for t in reversed(range(u.shape[1])):
            h, h_prev = states[:, t + 1], states[:, t]
            dC[:, t] = (h * dy[:, t, :, None]).sum(1)
            g = g + C[:, t, None, :] * dy[:, t, :, None]  # all the gradient reaching h_t
            a = torch.exp(delta[:, t, :, None] * A)
            da = g * h_prev * a  # d(delta_t A) through a = exp(delta_t A)
            gB = (g * B[:, t, None, :]).sum(-1)  # (Bt, Di): sum_N d b_t B_t
            ddelta[:, t] = (da * A).sum(-1) + gB * u[:, t]
            dA += (da * delta[:, t, :, None]).sum(0)
            du[:, t] = gB * delta[:, t]
            dB[:, t] = (g * (delta[:, t] * u[:, t])[..., None]).sum(1)
            g = g * a  # on to h_{t-1}
        return du, ddelta, dA, dB, dC, g


class _TimeMajorScan(torch.autograd.Function):
    """The fused scan's numbers with most of the work moved out of the time loop. Inputs are laid out
    time-major, (T, Bt, ...), and cut into chunks of `CHUNK` steps; per chunk a = exp(delta A) and
    b = delta B u are computed for all its steps at once (a (CHUNK, Bt, Di, N) tensor small enough to
    stay in cache), the loop does one `addcmul` per step, h_t = b_t + a_t h_{t-1} (forward) and
    g_t = C_t dy_t + a_{t+1} g_{t+1} (backward, chunks in reverse, a_{t+1} g_{t+1} carried across a
    chunk boundary), and the readout y_t = h_t . C_t and every gradient are taken for the whole chunk
    at once. The equations are `_FusedScan`'s."""

    CHUNK = 16

    @staticmethod
    def forward(ctx, u, delta, A, B, C, h0):
        dt, ut, Bm, Cm = (x.transpose(0, 1) for x in (delta, u, B, C))  # (T, Bt, Di) / (T, Bt, N)
        T = u.shape[1]
        states = u.new_empty(T + 1, *h0.shape)  # (T + 1, Bt, Di, N): h_{-1} .. h_{T-1}
        states[0] = h0
        y = u.new_empty(T, *u.shape[::2])  # (T, Bt, Di)
        for s in range(0, T, _TimeMajorScan.CHUNK):
            e = min(s + _TimeMajorScan.CHUNK, T)
            a = torch.exp(dt[s:e, ..., None] * A)  # (L, Bt, Di, N)
            b = (dt[s:e] * ut[s:e])[..., None] * Bm[s:e, :, None, :]  # (L, Bt, Di, N)
            for t in range(e - s):
                torch.addcmul(b[t], a[t], states[s + t], out=states[s + t + 1])
            y[s:e] = (states[s + 1 : e + 1] * Cm[s:e, :, None, :]).sum(-1)
        ctx.save_for_backward(u, delta, A, B, C, states)
        return y.transpose(0, 1), states[-1].clone()

    @staticmethod
    def backward(ctx, dy, dh_last):
        u, delta, A, B, C, states = ctx.saved_tensors
        dt, ut, Bm, Cm, dyt = (x.transpose(0, 1) for x in (delta, u, B, C, dy))  # time-major views
        T = u.shape[1]
        du, ddelta, dB, dC = (x.new_empty(x.shape) for x in (ut, dt, Bm, Cm))  # time-major
        dA = torch.zeros_like(A)
        carry = (
            dh_last if dh_last is not None else torch.zeros_like(states[0])
        )  # a_e g_e from the chunk after
        for s in reversed(range(0, T, _TimeMajorScan.CHUNK)):
            e = min(s + _TimeMajorScan.CHUNK, T)
            a = torch.exp(dt[s:e, ..., None] * A)  # (L, Bt, Di, N)
            g = dyt[s:e, ..., None] * Cm[s:e, :, None, :]  # C_t dy_t, then all the gradient reaching h_t
            g[-1] += carry
            for t in reversed(range(e - s - 1)):
                g[t].addcmul_(a[t + 1], g[t + 1])
            carry = a[0] * g[0]
            dC[s:e] = (states[s + 1 : e + 1] * dyt[s:e, ..., None]).sum(-2)  # sum_Di h_t dy_t
            gB = (g * Bm[s:e, :, None, :]).sum(-1)  # (L, Bt, Di): sum_N g_t B_t
            dB[s:e] = (g * (dt[s:e] * ut[s:e])[..., None]).sum(-2)
            da = g * states[s:e] * a  # gradient of delta_t A
            ddelta[s:e] = (da * A).sum(-1) + gB * ut[s:e]
            dA += (da * dt[s:e, ..., None]).sum((0, 1))
            du[s:e] = gB * dt[s:e]
        back = lambda x: x.transpose(0, 1)  # noqa: E731
        return back(du), back(ddelta), dA, back(dB), back(dC), carry


class MambaMixer(nn.Module):
    """One Mamba layer: forward(x (B, T, C), state=None) -> (y (B, T, C), (conv window, SSM state))."""

    def __init__(self, cfg: MambaConfig):
        super().__init__()
        self.cfg = cfg
        Di, N = cfg.inner, cfg.d_state
        self.in_proj = nn.Linear(cfg.dim, 2 * Di, bias=False)
        self.conv1d = nn.Conv1d(Di, Di, cfg.d_conv, groups=Di, bias=True)  # causal: we pad on the left
        self.x_proj = nn.Linear(Di, cfg.dt_rank + 2 * N, bias=False)
        self.dt_proj = nn.Linear(cfg.dt_rank, Di, bias=True)
        self.A_log = nn.Parameter(
            torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(Di, 1)
        )  # S4D-real
        self.D = nn.Parameter(torch.ones(Di))
        self.out_proj = nn.Linear(Di, cfg.dim, bias=False)
        self.reset_dt()

    @torch.no_grad()
    def reset_dt(self, dt_min: float = 1e-3, dt_max: float = 0.1) -> None:
        """Initial steps delta log-uniform in [dt_min, dt_max]: the bias is softplus^-1 of them."""
        dt = torch.exp(torch.rand(self.cfg.inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    def forward(self, x: torch.Tensor, state=None):
        cfg = self.cfg
        u, z = self.in_proj(x).chunk(2, dim=-1)  # (B, T, Di) each
        u = u.transpose(1, 2)  # (B, Di, T)
        window = F.pad(u, (cfg.d_conv - 1, 0)) if state is None else torch.cat([state[0], u], dim=-1)
        conv_state = window[..., -(cfg.d_conv - 1) :]  # (B, Di, d_conv - 1): the inputs the next token sees
        u = F.silu(self.conv1d(window)).transpose(1, 2)  # (B, T, Di)
        dt, B, C = self.x_proj(u).split([cfg.dt_rank, cfg.d_state, cfg.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt))  # (B, T, Di)
        A = -torch.exp(self.A_log.float())  # (Di, N): negative, so exp(delta A) < 1 decays
        h0 = None if state is None else state[1]
        y, h = selective_scan(u, delta, A, B, C, self.D, h0, cfg.scan)
        y = y * F.silu(z)
        return self.out_proj(y), (conv_state, h)


class MambaBlock(nn.Module):
    def __init__(self, cfg: MambaConfig):
        super().__init__()
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.mixer = MambaMixer(cfg)

    def forward(self, x: torch.Tensor, cache, layer: int) -> torch.Tensor:
        recurrent = isinstance(cache, RecurrentState)
        y, state = self.mixer(self.norm(x), cache.get(layer) if recurrent else None)
        if recurrent:
            cache.set(layer, state, x.shape[1])
        return x + y


class Mamba(nn.Module):
    """A Mamba language model speaking `layers.CausalLM` (positions are implicit in the recurrence)."""

    def __init__(self, cfg: MambaConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.blocks = nn.ModuleList(MambaBlock(cfg) for _ in range(cfg.n_layers))
        self.norm_f = RMSNorm(cfg.dim, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        nn.init.normal_(self.embed.weight, std=0.02)
        for block in self.blocks:  # residual writers scaled down with depth (GPT-2's rule)
            nn.init.normal_(block.mixer.out_proj.weight, std=0.02 / math.sqrt(cfg.n_layers))
        self.lm_head.weight = self.embed.weight

    vocab_size = property(lambda self: self.cfg.vocab_size)
    max_context = property(lambda self: self.cfg.max_context)
    cache_spec = None  # no KV cache: a constant-size state per layer

    def forward(self, input_ids, positions=None, kv_cache=None, logits_index=None, num_layers=None):
        """input_ids (B, T) -> logits (B, T, vocab); `kv_cache` a `RecurrentState` to continue from."""
        resolve_positions(input_ids, positions, kv_cache, self.cfg.max_context)  # checks the window
        x = self.embed(input_ids)  # (B, T, C)
        blocks = self.blocks if num_layers is None else self.blocks[:num_layers]
        for layer, block in enumerate(blocks):
            x = block(x, kv_cache, layer)
        if logits_index is not None:
            x = x[..., logits_index, :]
        return self.lm_head(self.norm_f(x))

    def new_cache(self, batch_size: int = 1, max_len: int | None = None) -> RecurrentState:
        return RecurrentState(
            self.cfg.n_layers, batch_size, min(max_len or self.max_context, self.max_context)
        )
