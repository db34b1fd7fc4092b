"""Layer Normalization (Ba, Kiros & Hinton 2016) in a recurrent language model.

A vanilla tanh RNN normalizes the summed input of each step before the nonlinearity:

    a_t = W_x x_t + W_h h_{t-1}          h_t = tanh(g * (a_t - mu) / sigma + b)

LayerNorm takes mu, sigma over the H units of this example at this step, so it works the same at
every step, batch size and sequence length. BatchNorm (here per time step over the batch, the
recurrent variant of Laurent et al. / Cooijmans et al.) takes them over the batch for each unit,
and needs statistics per step. The paper's claim for RNNs: LN trains faster and more stably than
no normalization, and is simpler than recurrent BN. Measured on character-level Shakespeare.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

NORMS = ("none", "layer", "batch")


class NormRNN(nn.Module):
    """Character RNN LM: (B, T) ids -> (B, T, vocab) logits, with `norm` on the summed inputs."""

    def __init__(self, vocab: int, hidden: int = 128, norm: str = "layer"):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
        self.norm, self.hidden = norm, hidden
        self.embed = nn.Embedding(vocab, hidden)  # = W_x on one-hot characters
        self.w_h = nn.Linear(hidden, hidden, bias=norm == "none")
        nn.init.orthogonal_(self.w_h.weight)
        self.gain = nn.Parameter(torch.ones(hidden))
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.head = nn.Linear(hidden, vocab)

    def normalize(self, a: torch.Tensor) -> torch.Tensor:
        """(B, H) summed inputs -> normalized (B, H)."""
        if self.norm == "layer":
            mu, var = a.mean(-1, keepdim=True), a.var(-1, unbiased=False, keepdim=True)
        elif self.norm == "batch":
            mu, var = a.mean(0, keepdim=True), a.var(0, unbiased=False, keepdim=True)
        else:
            return a
        return self.gain * (a - mu) / torch.sqrt(var + 1e-5) + self.bias

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        xs = self.embed(ids)  # (B, T, H)
        h = xs.new_zeros(ids.shape[0], self.hidden)
        outs = []
        for t in range(ids.shape[1]):
            h = torch.tanh(self.normalize(xs[:, t] + self.w_h(h)))
            outs.append(h)
        return self.head(torch.stack(outs, 1))  # (B, T, vocab)


def batches(data: torch.Tensor, batch: int, length: int, generator: torch.Generator):
    starts = torch.randint(0, len(data) - length - 1, (batch,), generator=generator)
    x = torch.stack([data[s : s + length] for s in starts])
    y = torch.stack([data[s + 1 : s + length + 1] for s in starts])
    return x, y


def train_lm(
    norm: str,
    data,
    val,
    vocab: int,
    steps: int,
    seed: int,
    lr: float,
    hidden: int = 128,
    length: int = 64,
    batch: int = 32,
):
    """Adam on random windows; returns (train losses per step, [(step, val loss)])."""
    torch.manual_seed(seed)
    model = NormRNN(vocab, hidden, norm)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g, gv = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    vx, vy = batches(val, 64, length, gv)
    losses, vals = [], []
    for step in range(steps + 1):
        if step % max(steps // 8, 1) == 0:
            with torch.no_grad():
                vals.append((step, float(F.cross_entropy(model(vx).flatten(0, 1), vy.flatten()))))
        if step == steps:
            break
        x, y = batches(data, batch, length, g)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        losses.append(loss.item())
    return losses, vals


def shakespeare():
    from groundup.data import load_text

    text = load_text("tinyshakespeare")
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([index[c] for c in text])
    split = int(0.9 * len(ids))
    return ids[:split], ids[split:], len(chars)


def layernorm_study(out: Path, steps: int = 400, seed: int = 0, lrs=(2e-3, 1e-2)) -> Path:
    from groundup.reports import figure, markdown_table, smooth, write_report

    data, val, vocab = shakespeare()
    rows, curves = [], {}
    for lr in lrs:
        for norm in NORMS:
            losses, vals = train_lm(norm, data, val, vocab, steps, seed, lr)
            curves[(norm, lr)] = losses
            first_below = next((i for i, v in enumerate(smooth(losses, 20)) if v < 2.5), None)
            rows.append(
                [
                    norm,
                    lr,
                    float(smooth(losses, 20)[-1]),
                    vals[-1][1],
                    "never" if first_below is None else first_below,
                ]
            )
    with figure(out / "layernorm.png", ncols=len(lrs), figsize=(5 * len(lrs), 4)) as (fig, axes):
        for ax, lr in zip(axes, lrs, strict=True):
            for norm in NORMS:
                ax.plot(smooth(curves[(norm, lr)], 20), label=norm)
            ax.set(
                xlabel="step",
                ylabel="train loss (nats/char)",
                title=f"tanh RNN LM, Adam lr {lr:g}",
                ylim=(1.4, 4.5),
            )
            ax.legend()
    return write_report(
        out / "report.md",
        "Layer Normalization (Ba et al. 2016): RNN language model on Shakespeare",
        [
            f"Character-level tanh RNN (128 units, {vocab} characters), tinyshakespeare (90/10 split), windows of 64 "
            f"characters, batch 32, Adam, gradient clipping 5, {steps} steps, seed {seed}. Normalization of the summed "
            "inputs: none, LayerNorm (over units), BatchNorm (over the batch, per step, batch statistics at evaluation too). "
            f"Uniform guessing is ln {vocab} = {math.log(vocab):.2f} nats.",
            markdown_table(
                ["norm", "lr", "train loss (last 20 steps)", "val loss", "steps to train loss < 2.5"], rows
            ),
            "![curves](layernorm.png)",
        ],
    )
