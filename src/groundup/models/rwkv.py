"""RWKV-4 (Peng et al. 2023, "RWKV: Reinventing RNNs for the Transformer Era").

Every block has a time-mix (the attention replacement) and a channel-mix (the MLP replacement), each
preceded by a LayerNorm and added to the residual stream. Both first mix each token with the previous
one ("token shift"): x'_t = mu * x_t + (1 - mu) * x_{t-1}, with a learned mu per channel and use.

Time-mix: r = sigmoid(W_r x'), k = W_k x', v = W_v x', then per channel c (w > 0 a learned decay
rate, u a learned bonus for the current token):

    wkv_t = ( sum_{i<t} e^{-(t-1-i) w + k_i} v_i + e^{u + k_t} v_t ) / ( same sums without v )
    out_t = W_o (r_t * wkv_t)

Parallel form: wkv_t is a softmax over i <= t of the logits k_i - (t-1-i) w (and u + k_t at i = t)
applied to v, one T x T matrix per channel. Recurrent form: the two sums are a state (numerator,
denominator) decayed by e^{-w} per token, kept with a running maximum exponent so nothing overflows
(`wkv_recurrent`); O(1) per token. `wkv` handles a block of T tokens after a state the same way the
parallel form does, with the state as one extra column, so one function trains and decodes. Chunkwise
form (`wkv_chunkwise`, what training uses): `wkv` on chunks of 8 tokens, each after the state the
chunk before left: T/8 steps of (8 x 8) work per channel instead of T steps or one T x T matrix.

Channel-mix: out = sigmoid(W_r x') * W_v (relu(W_k x')^2).

Model (as transformers' RwkvForCausalLM): embedding -> LayerNorm (first block only) -> blocks ->
LayerNorm -> head. The tests copy weights into transformers' `RwkvForCausalLM` and compare logits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from groundup.models.layers import resolve_positions
from groundup.models.recurrent_state import RecurrentState

NEG = -1e38  # the maximum exponent of an empty state


@dataclass
class RWKVConfig:
    vocab_size: int = 65
    dim: int = 64
    n_layers: int = 4
    hidden_dim: int = 0  # channel-mix width; 0: 4 * dim
    max_context: int = 4096
    norm_eps: float = 1e-5

    def __post_init__(self):
        for name in ("vocab_size", "dim", "n_layers", "max_context"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        self.hidden_dim = self.hidden_dim or 4 * self.dim


def wkv(w, u, k, v, state=None):
    """The WKV operator over T new tokens after `state` = (num, den, max) (None: nothing before).

    w (C,) decay rates > 0, u (C,), k, v (B, T, C) -> (wkv (B, T, C), state after the block).
    Token t of the block sees the state decayed t times, tokens i < t with logit k_i - (t-1-i) w, and
    itself with u + k_t; every sum is taken relative to its largest exponent.
    """
    B, T, C = k.shape
    t = torch.arange(T, device=k.device, dtype=k.dtype)
    gap = (t[:, None] - 1 - t[None, :])[..., None]  # (T, T, 1): t - 1 - i
    logits = k[:, None, :, :] - gap * w  # (B, T, T, C): row t, column i
    logits = torch.where(gap >= 0, logits, torch.full_like(logits, -math.inf))  # only i < t
    diag = torch.arange(T, device=k.device)
    logits[:, diag, diag] = u + k  # i = t: the bonus u instead of a decay
    num_past, den_past, max_past = _empty(B, C, k) if state is None else state
    past = max_past[:, None, :] - t[:, None] * w  # (B, T, C): the state, decayed t times
    top = torch.maximum(logits.amax(2), past)  # (B, T, C)
    e, e_past = torch.exp(logits - top[:, :, None]), torch.exp(past - top)
    num = (e * v[:, None]).sum(2) + e_past * num_past[:, None]
    den = e.sum(2) + e_past * den_past[:, None]
    return num / den, _advance(w, k, v, num_past, den_past, max_past)


def _advance(w, k, v, num, den, top):
    """The state after the block: past state decayed T times plus e^{k_i - (T-1-i) w} for each token."""
    T = k.shape[1]
    ages = torch.arange(T - 1, -1, -1, device=k.device, dtype=k.dtype)[:, None]  # (T, 1): T-1-i
    logits = k - ages * w  # (B, T, C)
    past = top - T * w  # (B, C)
    new_top = torch.maximum(logits.amax(1), past)
    e, e_past = torch.exp(logits - new_top[:, None]), torch.exp(past - new_top)
    return (e * v).sum(1) + e_past * num, e.sum(1) + e_past * den, new_top


def _empty(B: int, C: int, like: torch.Tensor):
    zeros = like.new_zeros(B, C)
    return zeros, zeros, torch.full_like(zeros, NEG)


def wkv_recurrent(w, u, k, v, state=None):
    """The same, one token at a time with a running maximum exponent (the RNN form)."""
    num, den, top = _empty(k.shape[0], k.shape[2], k) if state is None else state
    outs = []
    for t in range(k.shape[1]):
        kt, vt = k[:, t], v[:, t]  # (B, C)
        out_top = torch.maximum(top, u + kt)
        e1, e2 = torch.exp(top - out_top), torch.exp(u + kt - out_top)
        outs.append((e1 * num + e2 * vt) / (e1 * den + e2))
        new_top = torch.maximum(top - w, kt)
        e1, e2 = torch.exp(top - w - new_top), torch.exp(kt - new_top)
        num, den, top = e1 * num + e2 * vt, e1 * den + e2, new_top
    return torch.stack(outs, dim=1), (num, den, top)


def wkv_chunkwise(w, u, k, v, state=None, chunk_size: int = 8):
    """The same again, `wkv` over consecutive chunks of `chunk_size` tokens with the state carried."""
    outs = []
    for s in range(0, k.shape[1], chunk_size):
        out, state = wkv(w, u, k[:, s : s + chunk_size], v[:, s : s + chunk_size], state)
        outs.append(out)
    return torch.cat(outs, dim=1), state


FORMS = {"recurrent": wkv_recurrent, "parallel": wkv, "chunk": wkv_chunkwise}


def token_shift(x: torch.Tensor, last: torch.Tensor | None) -> torch.Tensor:
    """x_{t-1} for every t: x (B, T, C), `last` (B, C) the token before the block (None: zeros)."""
    first = torch.zeros_like(x[:, :1]) if last is None else last[:, None]
    return torch.cat([first, x[:, :-1]], dim=1)


class TimeMix(nn.Module):
    def __init__(self, cfg: RWKVConfig):
        super().__init__()
        C = cfg.dim
        self.time_decay = nn.Parameter(torch.zeros(C))  # w = exp(time_decay) > 0
        self.time_first = nn.Parameter(torch.zeros(C))  # u
        self.time_mix_key = nn.Parameter(torch.full((1, 1, C), 0.5))
        self.time_mix_value = nn.Parameter(torch.full((1, 1, C), 0.5))
        self.time_mix_receptance = nn.Parameter(torch.full((1, 1, C), 0.5))
        self.key = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(C, C, bias=False)
        self.receptance = nn.Linear(C, C, bias=False)
        self.output = nn.Linear(C, C, bias=False)

    def forward(self, x, state=None, form: str = "chunk"):
        """x (B, T, C), state (last token, num, den, max) -> (out (B, T, C), new state); `form` one of
        `FORMS` (the same numbers)."""
        last, wkv_state = (None, None) if state is None else (state[0], state[1:])
        prev = token_shift(x, last)
        mix = lambda mu: x * mu + prev * (1 - mu)  # noqa: E731
        k, v = self.key(mix(self.time_mix_key)), self.value(mix(self.time_mix_value))
        r = torch.sigmoid(self.receptance(mix(self.time_mix_receptance)))
        w = torch.exp(self.time_decay)
        out, wkv_state = FORMS[form](w, self.time_first, k, v, wkv_state)
        return self.output(r * out), (x[:, -1], *wkv_state)


class ChannelMix(nn.Module):
    def __init__(self, cfg: RWKVConfig):
        super().__init__()
        C = cfg.dim
        self.time_mix_key = nn.Parameter(torch.full((1, 1, C), 0.5))
        self.time_mix_receptance = nn.Parameter(torch.full((1, 1, C), 0.5))
        self.key = nn.Linear(C, cfg.hidden_dim, bias=False)
        self.receptance = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(cfg.hidden_dim, C, bias=False)

    def forward(self, x, last=None):
        """x (B, T, C), last (B, C) -> (out (B, T, C), x's last token)."""
        prev = token_shift(x, last)
        k = torch.relu(self.key(x * self.time_mix_key + prev * (1 - self.time_mix_key))).square()
        r = torch.sigmoid(
            self.receptance(x * self.time_mix_receptance + prev * (1 - self.time_mix_receptance))
        )
        return r * self.value(k), x[:, -1]


class RWKVBlock(nn.Module):
    def __init__(self, cfg: RWKVConfig, layer: int):
        super().__init__()
        self.pre_ln = nn.LayerNorm(cfg.dim, eps=cfg.norm_eps) if layer == 0 else None
        self.ln1 = nn.LayerNorm(cfg.dim, eps=cfg.norm_eps)
        self.ln2 = nn.LayerNorm(cfg.dim, eps=cfg.norm_eps)
        self.attention = TimeMix(cfg)
        self.feed_forward = ChannelMix(cfg)

    def forward(self, x, state=None, form: str = "chunk"):
        """x (B, T, C), state (time-mix state, channel-mix last token) -> (x, new state)."""
        if self.pre_ln is not None:
            x = self.pre_ln(x)
        att_state, ffn_last = (None, None) if state is None else state
        y, att_state = self.attention(self.ln1(x), att_state, form)
        x = x + y
        y, ffn_last = self.feed_forward(self.ln2(x), ffn_last)
        return x + y, (att_state, ffn_last)


class RWKV(nn.Module):
    """An RWKV-4 language model speaking `layers.CausalLM`; decoding carries a `RecurrentState`."""

    def __init__(self, cfg: RWKVConfig):
        super().__init__()
        self.cfg = cfg
        self.embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.blocks = nn.ModuleList(RWKVBlock(cfg, i) for i in range(cfg.n_layers))
        self.ln_out = nn.LayerNorm(cfg.dim, eps=cfg.norm_eps)
        self.head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        self.reset_parameters()
        # "chunk" (8 x 8 blocks, the state between them), "recurrent" (the token loop) or "parallel"
        # (T x T per channel): the same numbers. On a CPU at T = 64 the chunkwise form trains fastest.
        self.form = "chunk"

    vocab_size = property(lambda self: self.cfg.vocab_size)
    max_context = property(lambda self: self.cfg.max_context)
    cache_spec = None  # no KV cache: a constant-size state per layer

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """RWKV-4's initialization: decay speeds spread from slow to fast over the channels (faster in
        deeper layers), mixing ratios that shift less of the previous token in deeper layers."""
        L, C = self.cfg.n_layers, self.cfg.dim
        nn.init.uniform_(self.embeddings.weight, -1e-4, 1e-4)
        for i, block in enumerate(self.blocks):
            depth = i / max(L - 1, 1)  # 0 .. 1
            keep = 1.0 - i / L  # 1 .. ~0
            ramp = torch.arange(C, dtype=torch.float32) / C  # (C,)
            att, ffn = block.attention, block.feed_forward
            att.time_decay.copy_(-5 + 8 * (torch.arange(C) / max(C - 1, 1)) ** (0.7 + 1.3 * depth))
            att.time_first.copy_(math.log(0.3) + 0.5 * torch.tensor([(c + 1) % 3 - 1 for c in range(C)]))
            att.time_mix_key.copy_(ramp.pow(keep)[None, None])
            att.time_mix_value.copy_((ramp.pow(keep) + 0.3 * depth)[None, None])
            att.time_mix_receptance.copy_(ramp.pow(0.5 * keep)[None, None])
            ffn.time_mix_key.copy_(ramp.pow(keep)[None, None])
            ffn.time_mix_receptance.copy_(ramp.pow(keep)[None, None])
            for linear in (att.key, att.value, att.receptance, ffn.key, ffn.receptance):
                nn.init.normal_(linear.weight, std=0.02)
            for linear in (att.output, ffn.value):  # residual writers start small
                nn.init.normal_(linear.weight, std=0.02 / math.sqrt(2 * L))
        nn.init.normal_(self.head.weight, std=0.02)

    def forward(self, input_ids, positions=None, kv_cache=None, logits_index=None, num_layers=None):
        """input_ids (B, T) -> logits (B, T, vocab); `kv_cache` a `RecurrentState` to continue from."""
        resolve_positions(input_ids, positions, kv_cache, self.cfg.max_context)  # checks the window
        cache = kv_cache if isinstance(kv_cache, RecurrentState) else None
        x = self.embeddings(input_ids)  # (B, T, C)
        blocks = self.blocks if num_layers is None else self.blocks[:num_layers]
        for layer, block in enumerate(blocks):
            x, state = block(x, cache.get(layer) if cache else None, self.form)
            if cache is not None:
                cache.set(layer, state, input_ids.shape[-1])
        if logits_index is not None:
            x = x[..., logits_index, :]
        return self.head(self.ln_out(x))

    def new_cache(self, batch_size: int = 1, max_len: int | None = None) -> RecurrentState:
        return RecurrentState(
            self.cfg.n_layers, batch_size, min(max_len or self.max_context, self.max_context)
        )
