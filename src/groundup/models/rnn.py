"""The makemore ladder, recurrent rungs: vanilla RNN (Elman 1990), LSTM (Hochreiter & Schmidhuber 1997),
GRU (Cho et al. 2014), and an LSTM that attends over its own past states (after Bahdanau et al. 2015).

Cells follow PyTorch's equations and parameter layout (weight_ih (gates*H, in), weight_hh (gates*H, H),
bias_ih, bias_hh; LSTM gates i, f, g, o; GRU gates r, z, n) so the tests copy weights into
`torch.nn.RNN`/`LSTM`/`GRU` and compare outputs. The input projection of all time steps is one matmul;
only the recurrence h[t-1] -> h[t] runs step by step.

forward(idx (B, T)) -> logits (B, T, vocab), like every rung of the ladder.

Beyond the ladder: `RecurrentEncoder` stacks layers and runs them in both directions (equal to
torch's `bidirectional=True`, and to packed sequences when given a padding mask); `SequenceClassifier`
reads one label off a whole sequence (many-to-one); `seq2seq.py` builds the attentive
encoder-decoder on the same layers.
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

    def cell(self, xs_t, state):
        """One step: xs_t (B, gH) is the input part W_ih x_t + b_ih; state (h, c) each (B, H) (c only
        used by the LSTM) -> the next (h, c)."""
        h, c = state
        hh = F.linear(h, self.weight_hh, self.bias_hh)  # (B, gH)
        if self.kind == "rnn":
            return torch.tanh(xs_t + hh), c
        if self.kind == "lstm":
            i, f, g, o = (xs_t + hh).chunk(4, dim=1)  # (B, H) each
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # forget old, write new
            return torch.sigmoid(o) * torch.tanh(c), c
        xr, xz, xn = xs_t.chunk(3, dim=1)
        hr, hz, hn = hh.chunk(3, dim=1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)  # the reset gate scales what the candidate reads of h
        return (1 - z) * n + z * h, c  # the update gate interpolates old state and candidate

    def run(self, x, state=None, *, reverse: bool = False, mask=None):
        """x (B, T, in) -> (h (B, T, H), final (h, c)). `reverse` reads the sequence from T-1 down to 0
        (the backward half of a bidirectional layer); `mask` (B, T), False at padding, keeps the state
        unchanged through padded steps, so a right-padded row ends (or, reversed, starts) exactly at
        its last real token, as with torch's packed sequences."""
        B, T, _ = x.shape
        xs = F.linear(x, self.weight_ih, self.bias_ih)  # (B, T, gH): input part of every step at once
        if state is None:
            state = (x.new_zeros(B, self.n_hidden), x.new_zeros(B, self.n_hidden))
        out = [None] * T
        for t in reversed(range(T)) if reverse else range(T):
            new = self.cell(xs[:, t], state)
            if mask is not None:
                keep = mask[:, t, None]  # (B, 1)
                new = tuple(torch.where(keep, n, s) for n, s in zip(new, state))
            state = new
            out[t] = state[0]
        return torch.stack(out, dim=1), state  # (B, T, H)

    def forward(self, x):
        return self.run(x)[0]  # (B, T, H)


class RecurrentEncoder(nn.Module):
    """Stacked recurrent layers, optionally bidirectional: x (B, T, in) -> (out (B, T, D*H), finals).

    A bidirectional layer runs a second layer over the reversed sequence and concatenates the two
    states at every step, so position t sees the whole sequence: the left context from the forward
    half, the right context from the backward half. `finals` lists the last (h, c) of every layer and
    direction in torch's order (layer 0 forward, layer 0 backward, layer 1 forward, ...).
    """

    def __init__(self, kind: str, n_in: int, n_hidden: int, n_layer: int = 1, bidirectional: bool = False):
        super().__init__()
        self.directions = 2 if bidirectional else 1
        self.n_hidden = n_hidden
        width = [n_in] + [self.directions * n_hidden] * (n_layer - 1)
        self.forward_layers = nn.ModuleList(RecurrentLayer(kind, w, n_hidden) for w in width)
        self.backward_layers = nn.ModuleList(
            RecurrentLayer(kind, w, n_hidden) for w in (width if bidirectional else [])
        )

    def forward(self, x, mask=None):
        finals = []
        for i, layer in enumerate(self.forward_layers):
            out, final = layer.run(x, mask=mask)
            finals.append(final)
            if self.directions == 2:
                back, back_final = self.backward_layers[i].run(x, reverse=True, mask=mask)
                finals.append(back_final)
                out = torch.cat([out, back], dim=-1)  # (B, T, 2H)
            x = out
        return x, finals


class SequenceClassifier(nn.Module):
    """Many-to-one: embed tokens, run a (bidirectional) recurrent encoder, classify from the final
    states (the forward half's last real step and, if bidirectional, the backward half's first).

    forward(idx (B, T), mask (B, T) | None) -> class logits (B, n_classes).
    """

    def __init__(
        self,
        vocab_size: int,
        n_classes: int,
        kind: str = "gru",
        n_embd: int = 32,
        n_hidden: int = 64,
        n_layer: int = 1,
        bidirectional: bool = False,
    ):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.encoder = RecurrentEncoder(kind, n_embd, n_hidden, n_layer, bidirectional)
        self.head = nn.Linear(self.encoder.directions * n_hidden, n_classes)

    def forward(self, idx, mask=None):
        _, finals = self.encoder(self.wte(idx), mask)
        last = finals[-self.encoder.directions :]  # the top layer's directions
        return self.head(torch.cat([h for h, _ in last], dim=-1))  # (B, n_classes)


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
