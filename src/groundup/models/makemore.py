"""The makemore ladder, feed-forward rungs: bigram (counts, neural), MLP (Bengio et al. 2003), WaveNet.

Every model maps idx (B, T) -> logits (B, T, vocab) where logits[:, t] predicts token t+1 from tokens
up to t, so the same trainer and the same loss train the whole ladder (recurrent rungs in `rnn.py`,
GPT in `gpt.py`). A model with a fixed context looks at the last `context` tokens; positions before
the start of the sequence read a learned "padding" embedding (index vocab_size).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class SequenceConfig:
    """Sizes shared by the ladder: n_embd per token, n_hidden units, n_layer layers, context tokens."""

    vocab_size: int = 65
    block_size: int = 64
    n_embd: int = 24
    n_hidden: int = 128
    n_layer: int = 1
    context: int = 8
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_embd", "n_hidden", "n_layer", "context"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


class CountsBigram(nn.Module):
    """The count-table bigram: P(next | current) = (N[current, next] + alpha) / row sum.

    No gradient descent: `fit` counts pairs. Its loss is the floor a neural bigram converges to.
    """

    def __init__(self, cfg: SequenceConfig, alpha: float = 1.0):
        super().__init__()
        self.alpha = alpha
        self.register_buffer("log_probs", torch.full((cfg.vocab_size, cfg.vocab_size), -float("inf")))
        self.register_buffer("counts", torch.zeros(cfg.vocab_size, cfg.vocab_size))

    def fit(self, tokens: torch.Tensor) -> CountsBigram:
        V = self.counts.shape[0]
        pairs = tokens[:-1] * V + tokens[1:]  # (N-1,) flat index of each (current, next) pair
        self.counts = torch.bincount(pairs, minlength=V * V).view(V, V).float()
        smoothed = self.counts + self.alpha
        self.log_probs = (smoothed / smoothed.sum(dim=1, keepdim=True)).log()  # (V, V)
        return self

    def forward(self, idx):
        return self.log_probs[idx]  # (B, T, V): log-probabilities are valid logits


class Bigram(nn.Module):
    """The neural bigram: one learned (vocab, vocab) table of logits, row = current token.

    Its optimum is the count table: softmax(logits[c]) = N[c] / sum N[c]. The table is a plain matrix
    (not an `nn.Embedding`) so that the trainer's weight decay reaches it: decay pulls the logits
    towards 0, the uniform distribution, which plays the part of the count model's add-alpha smoothing.
    """

    def __init__(self, cfg: SequenceConfig):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(cfg.vocab_size, cfg.vocab_size))  # uniform at step 0

    def forward(self, idx):
        return self.logits[idx]  # (B, T, V)


def context_windows(idx: torch.Tensor, context: int, pad: int) -> torch.Tensor:
    """For every position t the last `context` tokens ending at t, left-padded: (B, T) -> (B, T, context)."""
    padded = F.pad(idx, (context - 1, 0), value=pad)  # (B, T + context - 1)
    return padded.unfold(1, context, 1)  # (B, T, context)


class MLP(nn.Module):
    """Bengio et al. (2003): embed the last `context` tokens, concatenate, one tanh hidden layer."""

    def __init__(self, cfg: SequenceConfig):
        super().__init__()
        self.context, self.pad = cfg.context, cfg.vocab_size
        self.wte = nn.Embedding(cfg.vocab_size + 1, cfg.n_embd)
        self.hidden = nn.Linear(cfg.context * cfg.n_embd, cfg.n_hidden)
        self.norm = nn.LayerNorm(cfg.n_hidden)  # makemore uses BatchNorm; LayerNorm needs no batch stats
        self.head = nn.Linear(cfg.n_hidden, cfg.vocab_size)

    def forward(self, idx):
        B, T = idx.shape
        x = self.wte(context_windows(idx, self.context, self.pad)).view(B, T, -1)  # (B, T, context * E)
        return self.head(torch.tanh(self.norm(self.hidden(x))))  # (B, T, V)


class CausalPairLayer(nn.Module):
    """One WaveNet layer: h'[t] = tanh(norm(W [h[t - dilation]; h[t]] + b)), zeros before the start.

    This is makemore's "flatten two consecutive, then Linear" applied at every position, which is a
    causal Conv1d with kernel size 2 and this dilation (the tests check exactly that).
    """

    def __init__(self, n_in: int, n_out: int, dilation: int):
        super().__init__()
        self.dilation = dilation
        self.linear = nn.Linear(2 * n_in, n_out)
        self.norm = nn.LayerNorm(n_out)

    def pair(self, h):
        past = F.pad(h, (0, 0, self.dilation, 0))[:, : h.shape[1]]  # (B, T, C): h shifted right by d
        return self.linear(torch.cat([past, h], dim=-1))  # (B, T, n_out)

    def forward(self, h):
        return torch.tanh(self.norm(self.pair(h)))


class WaveNet(nn.Module):
    """Hierarchical dilated causal convolution (van den Oord et al. 2016; makemore part 5).

    Layer l pairs positions 2^l apart, so n_layer layers see a context of 2^n_layer tokens while each
    layer only fuses two inputs: the context grows exponentially with depth instead of linearly.
    """

    def __init__(self, cfg: SequenceConfig):
        super().__init__()
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        sizes = [cfg.n_embd] + [cfg.n_hidden] * cfg.n_layer
        self.layers = nn.ModuleList(
            CausalPairLayer(sizes[i], sizes[i + 1], dilation=2**i) for i in range(cfg.n_layer)
        )
        self.head = nn.Linear(cfg.n_hidden, cfg.vocab_size)

    def forward(self, idx):
        h = self.wte(idx)  # (B, T, E)
        for layer in self.layers:
            h = layer(h)  # (B, T, H)
        return self.head(h)  # (B, T, V)
