"""Studies (0.5): learned vs sinusoidal vs rotary positions on one task, and the parameter efficiency of
the three Transformer families (encoder-only, decoder-only, encoder-decoder) on that same task.

The task is digit-sequence reversal with a length drawn per batch from 3..7: no model can solve it
without knowing where each token sits, and each family solves it its own way:

    decoder-only (GPT):      x_1..x_L SEP y_1..y_L     next-token loss on the y's (a prefix LM)
    encoder-decoder:         encode x, decode BOS y_1..y_{L-1} -> y_1..y_L, cross-attending to x
    encoder-only (a tagger): x_1..x_L -> y_1..y_L at once, position i reading token L+1-i

with y = reversed x. Exact match needs every y right. For the two decoders, greedy decoding is right
exactly when the teacher-forced argmax is right at every position (the two agree up to the first
mistake), so one forward pass scores it. Every run sees the same batches (one generator seed per
seed), the same optimizer and step budget; means carry a 95% Student-t interval over seeds.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from groundup.models.gpt import GPT
from groundup.models.layers import NoCache
from groundup.models.transformer import (
    POSITIONS,
    Block,
    Embedding,
    EncoderDecoder,
    TransformerConfig,
    final_norm,
    init_weights,
)
from groundup.train.arch.compare import mean_ci

SEP, BOS, VOCAB = 10, 11, 12
FAMILIES = ("encoder", "decoder", "encoder-decoder")
TRAIN_LENGTHS = (3, 7)
LONGER = (9, 11)


class EncoderTagger(nn.Module):
    """Encoder-only Transformer with a per-token head: idx (B, T) -> logits (B, T, vocab), every token
    seeing every token (BERT's shape with a token-level output)."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = Embedding(cfg)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = final_norm(cfg)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size)
        init_weights(self, cfg.n_layer)

    def forward(self, idx):
        positions = self.embed.positions(idx.shape[1])
        x, rope = self.embed(idx, positions), self.embed.rope(positions)
        for layer, block in enumerate(self.blocks):
            x = block(x, NoCache(causal=False), layer, rope)  # (B, T, C)
        return self.head(self.ln_f(x))  # (B, T, vocab)


def config(n_embd: int, pos: str = "learned", n_layer: int = 2) -> TransformerConfig:
    return TransformerConfig(
        vocab_size=VOCAB, block_size=32, n_layer=n_layer, n_head=4, n_embd=n_embd, pos=pos, tie_weights=False
    )


def build(family: str, cfg: TransformerConfig) -> nn.Module:
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
    return {"encoder": EncoderTagger, "decoder": GPT, "encoder-decoder": EncoderDecoder}[family](cfg)


def reversal_batch(batch: int, length: int, generator: torch.Generator):
    """(x (B, L) digits, y (B, L) = x reversed)."""
    x = torch.randint(0, 10, (batch, length), generator=generator)
    return x, x.flip(1)


def target_logits(family: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The logits (B, L, vocab) that predict y_1..y_L, the family's own way."""
    B, L = x.shape
    if family == "encoder":
        return model(x)
    if family == "decoder":
        seq = torch.cat([x, torch.full((B, 1), SEP), y[:, :-1]], dim=1)  # (B, 2L)
        return model(seq)[:, L:]  # the logits at SEP and after it predict y
    tgt_in = torch.cat([torch.full((B, 1), BOS), y[:, :-1]], dim=1)
    return model(x, tgt_in)


@torch.no_grad()
def exact_match(family: str, model: nn.Module, length: int, n: int = 500, seed: int = 1234) -> float:
    """Share of n fresh length-`length` sequences reversed without a single wrong digit."""
    model.eval()
    x, y = reversal_batch(n, length, torch.Generator().manual_seed(seed + length))
    right = (target_logits(family, model, x, y).argmax(-1) == y).all(-1).float().mean().item()
    model.train()
    return right


def train(
    family: str,
    cfg: TransformerConfig,
    *,
    steps: int,
    seed: int,
    batch: int = 64,
    lr: float = 3e-3,
    eval_every: int = 100,
):
    """AdamW with linear warmup and cosine decay to 10%, lengths drawn per batch from TRAIN_LENGTHS.

    Returns (model, per-step losses, [(step, exact match over the training lengths)])."""
    torch.manual_seed(seed)
    model = build(family, cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * (0.55 + 0.45 * math.cos(math.pi * s / steps))
    )
    g = torch.Generator().manual_seed(seed)
    losses, curve = [], []
    for step in range(1, steps + 1):
        length = int(torch.randint(TRAIN_LENGTHS[0], TRAIN_LENGTHS[1] + 1, (1,), generator=g))
        x, y = reversal_batch(batch, length, g)
        logits = target_logits(family, model, x, y)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % eval_every == 0 or step == steps:
            curve.append((step, in_range_match(family, model, n=200)))
    return model, losses, curve


def in_range_match(family: str, model: nn.Module, n: int = 500) -> float:
    """Exact match averaged over every training length."""
    lengths = range(TRAIN_LENGTHS[0], TRAIN_LENGTHS[1] + 1)
    return sum(exact_match(family, model, L, n) for L in lengths) / len(lengths)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def summary(values) -> str:
    mean, half = mean_ci(values)
    return f"{mean:.3f} ± {half:.3f}"


def positions_study(steps: int, seeds, encodings=POSITIONS, n_embd: int = 64, echo=print) -> dict:
    """The GPT with each position encoding: exact match in the training lengths and beyond them."""
    results = {}
    for pos in encodings:
        runs = []
        for seed in seeds:
            start = time.perf_counter()
            model, losses, curve = train("decoder", config(n_embd, pos), steps=steps, seed=seed)
            run = {
                "params": n_params(model),
                "in_range": in_range_match("decoder", model),
                "longer": {str(L): exact_match("decoder", model, L) for L in LONGER},
                "final_loss": sum(losses[-50:]) / len(losses[-50:]),
                "curve": curve,
                "seconds": time.perf_counter() - start,
            }
            echo(f"positions {pos:10s} seed {seed}: in-range {run['in_range']:.3f} longer {run['longer']}")
            runs.append(run)
        results[pos] = runs
    return results


def families_study(steps: int, seeds, widths=(16, 32, 64), families=FAMILIES, echo=print) -> dict:
    """Each family at each width (2 layers, 4 heads, learned positions): parameters and exact match."""
    results = {}
    for family in families:
        for width in widths:
            runs = []
            for seed in seeds:
                start = time.perf_counter()
                model, losses, _ = train(family, config(width), steps=steps, seed=seed)
                runs.append(
                    {
                        "params": n_params(model),
                        "in_range": in_range_match(family, model),
                        "final_loss": sum(losses[-50:]) / len(losses[-50:]),
                        "seconds": time.perf_counter() - start,
                    }
                )
                echo(f"{family:15s} width {width:3d} seed {seed}: {runs[-1]['in_range']:.3f}")
            results[f"{family}/{width}"] = runs
    return results


def plot_positions(path, results: dict) -> Path:
    from groundup.reports import figure

    with figure(path, nrows=1, ncols=2, figsize=(11, 4)) as (_, (left, right)):
        for pos, runs in results.items():
            steps = [s for s, _ in runs[0]["curve"]]
            matches = torch.tensor([[m for _, m in run["curve"]] for run in runs])  # (seeds, evaluations)
            left.plot(steps, matches.mean(0), label=pos)
            left.fill_between(steps, matches.min(0).values, matches.max(0).values, alpha=0.2)
        left.set(title="exact match (training lengths) while training", xlabel="step", ylabel="exact match")
        left.legend()
        for pos, runs in results.items():
            ys = [sum(run["longer"][str(L)] for run in runs) / len(runs) for L in LONGER]
            right.plot(LONGER, ys, marker="o", label=pos)
        right.set(
            title="beyond the training lengths", xlabel="length", ylabel="exact match", ylim=(-0.02, 1.02)
        )
        right.legend()
    return Path(path)


def plot_families(path, results: dict) -> Path:
    from groundup.reports import figure

    with figure(path, figsize=(6.5, 4.2)) as (_, ax):
        for family in FAMILIES:
            keys = [k for k in results if k.split("/")[0] == family]
            params = [results[k][0]["params"] for k in keys]
            stats = [mean_ci([r["in_range"] for r in results[k]]) for k in keys]
            ax.errorbar(
                params, [m for m, _ in stats], yerr=[h for _, h in stats], marker="o", capsize=3, label=family
            )
        ax.set_xscale("log")
        ax.set(
            title="digit reversal: exact match against parameters", xlabel="parameters", ylabel="exact match"
        )
        ax.grid(alpha=0.3)
        ax.legend()
    return Path(path)


PARTS = (*POSITIONS, *FAMILIES)


def run(out_dir, steps: int = 500, seeds=(0, 1, 2), widths=(16, 32, 64), parts=PARTS, echo=print) -> dict:
    """The parts asked for (position encodings and/or families, the two studies' halves), each
    saved as its JSON in out_dir so parts may run in separate processes; then the report is written
    from every part present: transformer_variants.md, positions.png, families.png, results.json."""
    from groundup.reports import write_json

    out = Path(out_dir)
    for part in parts:
        if part in POSITIONS:
            write_json(out / f"positions-{part}.json", positions_study(steps, seeds, (part,), echo=echo))
        elif part in FAMILIES:
            write_json(out / f"family-{part}.json", families_study(steps, seeds, widths, (part,), echo=echo))
        else:
            raise ValueError(f"parts must be among {', '.join(PARTS)}, got {part!r}")
    return write_summary(out, steps, seeds)


def write_summary(out: Path, steps: int, seeds) -> dict:
    """Merge the saved parts into one report."""
    import json

    from groundup.reports import markdown_table, write_json, write_report

    positions = {}
    for pos in POSITIONS:
        if (out / f"positions-{pos}.json").exists():
            positions.update(json.loads((out / f"positions-{pos}.json").read_text()))
    families = {}
    for family in FAMILIES:
        if (out / f"family-{family}.json").exists():
            families.update(json.loads((out / f"family-{family}.json").read_text()))
    write_json(
        out / "results.json",
        {"steps": steps, "seeds": list(seeds), "positions": positions, "families": families},
    )
    sections = [
        f"Task: reverse a digit sequence, length drawn per batch from {TRAIN_LENGTHS[0]}..{TRAIN_LENGTHS[1]}; "
        f"AdamW 3e-3 (warmup, cosine to 10%), batch 64, {steps} steps, gradient clipping 1.0, seeds {list(seeds)} "
        "(the same batches for every model of a seed). Exact match on 500 fresh sequences per length; "
        "± is the 95% Student-t interval over seeds.",
    ]
    if positions:
        plot_positions(out / "positions.png", positions)
        rows = [
            [
                pos,
                runs[0]["params"],
                summary([r["in_range"] for r in runs]),
                *(summary([r["longer"][str(L)] for r in runs]) for L in LONGER),
                summary([r["final_loss"] for r in runs]),
            ]
            for pos, runs in positions.items()
        ]
        headers = [
            "positions",
            "parameters",
            "exact match 3-7",
            *(f"length {L}" for L in LONGER),
            "final train loss",
        ]
        sections += [
            "## Positions (decoder-only GPT, 2 layers, 4 heads, width 64)",
            markdown_table(headers, rows),
            "![positions](positions.png)",
        ]
    if families:
        plot_families(out / "families.png", families)
        rows = [
            [key.split("/")[0], key.split("/")[1], runs[0]["params"], summary([r["in_range"] for r in runs])]
            for key, runs in families.items()
        ]
        sections += [
            "## Parameter efficiency of the three families (2 layers each side, learned positions)",
            markdown_table(["family", "width", "parameters", "exact match 3-7"], rows),
            "![families](families.png)",
        ]
    write_report(
        out / "transformer_variants.md", "Transformer positions and families on digit reversal", sections
    )
    return {"positions": positions, "families": families}
