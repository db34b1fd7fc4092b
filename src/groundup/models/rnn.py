"""The makemore ladder, recurrent rungs: vanilla RNN (Elman 1990), LSTM (Hochreiter & Schmidhuber 1997),
GRU (Cho et al. 2014), and an LSTM that attends over its own past states (after Bahdanau et al. 2015).

Cells follow PyTorch's equations and parameter layout (weight_ih (gates*H, in), weight_hh (gates*H, H),
bias_ih, bias_hh; LSTM gates i, f, g, o; GRU gates r, z, n) so the tests copy weights into
`torch.nn.RNN`/`LSTM`/`GRU` and compare outputs. The input projection of all time steps is one matmul;
only the recurrence h[t-1] -> h[t] runs step by step.

forward(idx (B, T)) -> logits (B, T, vocab), like every rung of the ladder.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from groundup.models.makemore import SequenceConfig

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


class RecurrentLayer(nn.Module):
    """One layer of an RNN, LSTM or GRU over a whole sequence: x (B, T, in) -> h (B, T, H)."""

    def __init__(self, kind: str, n_in: int, n_hidden: int):
        super().__init__()
        if kind not in GATES:
            raise ValueError(f"kind must be one of {', '.join(GATES)}, got {kind!r}")
        self.kind, self.n_hidden = kind, n_hidden
        g = GATES[kind]
        self.weight_ih = nn.Parameter(torch.empty(g * n_hidden, n_in))
        self.weight_hh = nn.Parameter(torch.empty(g * n_hidden, n_hidden))
        self.bias_ih = nn.Parameter(torch.empty(g * n_hidden))
        self.bias_hh = nn.Parameter(torch.empty(g * n_hidden))
        bound = 1 / math.sqrt(n_hidden)  # PyTorch's default: U(-1/sqrt(H), 1/sqrt(H))
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x):
        B, T, _ = x.shape
        H = self.n_hidden
        xs = F.linear(x, self.weight_ih, self.bias_ih)  # (B, T, gH): input part of every step at once
        h = x.new_zeros(B, H)
        c = x.new_zeros(B, H)
        out = []
        for t in range(T):
            hh = F.linear(h, self.weight_hh, self.bias_hh)  # (B, gH)
            if self.kind == "rnn":
                h = torch.tanh(xs[:, t] + hh)
            elif self.kind == "lstm":
                i, f, g, o = (xs[:, t] + hh).chunk(4, dim=1)  # (B, H) each
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # forget old, write new
                h = torch.sigmoid(o) * torch.tanh(c)
            else:
                xr, xz, xn = xs[:, t].chunk(3, dim=1)
                hr, hz, hn = hh.chunk(3, dim=1)
                r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
                n = torch.tanh(xn + r * hn)  # the reset gate scales what the candidate reads of h
                h = (1 - z) * n + z * h  # the update gate interpolates old state and candidate
            out.append(h)
        return torch.stack(out, dim=1)  # (B, T, H)


class Recurrent(nn.Module):
    """Embedding -> n_layer recurrent layers -> linear head. kind: 'rnn', 'lstm' or 'gru'."""

    def __init__(self, cfg: SequenceConfig, kind: str):
        super().__init__()
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        sizes = [cfg.n_embd] + [cfg.n_hidden] * cfg.n_layer
        self.layers = nn.ModuleList(RecurrentLayer(kind, sizes[i], sizes[i + 1]) for i in range(cfg.n_layer))
        self.head = nn.Linear(cfg.n_hidden, cfg.vocab_size)

    def states(self, idx):
        h = self.wte(idx)  # (B, T, E)
        for layer in self.layers:
            h = layer(h)  # (B, T, H)
        return h

    def forward(self, idx):
        return self.head(self.states(idx))  # (B, T, V)


class LSTMAttention(Recurrent):
    """An LSTM whose prediction at step t also reads an attention-weighted sum of its states h[1..t].

    The LSTM must squeeze all history into one vector; attention lets step t look back at any earlier
    state directly. query = W_q h[t], keys/values = W_k h[s], W_v h[s] for s <= t (causal), one head;
    the head reads [h[t]; context[t]].
    """

    def __init__(self, cfg: SequenceConfig):
        super().__init__(cfg, "lstm")
        self.qkv = nn.Linear(cfg.n_hidden, 3 * cfg.n_hidden, bias=False)
        self.head = nn.Linear(2 * cfg.n_hidden, cfg.vocab_size)

    def forward(self, idx):
        h = self.states(idx)  # (B, T, H)
        q, k, v = self.qkv(h).chunk(3, dim=-1)  # (B, T, H) each
        context = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, T, H)
        return self.head(torch.cat([h, context], dim=-1))  # (B, T, V)
