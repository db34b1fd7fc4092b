"""Scaling laws (Kaplan et al. 2020; Hoffmann et al. 2022) at toy scale: character-level GPTs on Shakespeare.

Kaplan et al.: with enough data the loss falls as a power of the non-embedding parameter count,
L(N) ~ (N_c / N)^alpha_N with alpha_N ~ 0.076, and with a large enough model as a power of the tokens,
L(D) ~ (D_c / D)^alpha_D with alpha_D ~ 0.095. Hoffmann et al. (Chinchilla): for a compute budget
C ~ 6 N D the loss-optimal model grows as N_opt ~ C^a with a ~ 0.50 (Kaplan: 0.73).

Here: GPTs of 6 widths (2 layers) trained once each for the largest token budget, with the validation
loss read at 3 budgets along the way (a constant learning rate, so an intermediate checkpoint stands
for a shorter run); power laws fitted by least squares in log-log space, with 95% intervals from the
regression's standard error.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from groundup.models.gpt import GPT, GPTConfig

WIDTHS = (8, 16, 24, 32, 48, 64)
T_975 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36}  # Student t quantiles, by dof


def power_law_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Fit y = a x^(-alpha) in log space: (alpha, a, half-width of alpha's 95% interval)."""
    X = np.stack([np.ones(len(x)), np.log(x)], 1)
    coef, res, *_ = np.linalg.lstsq(X, np.log(y), rcond=None)
    dof = len(x) - 2
    resid = np.log(y) - X @ coef
    s2 = float(resid @ resid) / max(dof, 1)
    se = math.sqrt(s2 * np.linalg.inv(X.T @ X)[1, 1])
    return -float(coef[1]), float(np.exp(coef[0])), T_975.get(dof, 1.96) * se


def non_embedding_params(model: GPT) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if "wte" not in n and "wpe" not in n)


def run(
    width: int, data, val, vocab: int, budgets, seed: int, batch: int = 16, length: int = 64, lr: float = 3e-3
):
    """Train one GPT for max(budgets) tokens; validation loss at each budget: {tokens: loss}."""
    torch.manual_seed(seed)
    model = GPT(
        GPTConfig(vocab_size=vocab, block_size=length, n_layer=2, n_head=max(1, width // 8), n_embd=width)
    )
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    g, gv = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)

    def windows(src, n, gen):
        starts = torch.randint(0, len(src) - length - 1, (n,), generator=gen)
        return torch.stack([src[s : s + length] for s in starts]), torch.stack(
            [src[s + 1 : s + length + 1] for s in starts]
        )

    vx, vy = windows(val, 128, gv)
    losses, tokens, step = {}, 0, 0
    for budget in sorted(budgets):
        while tokens < budget:
            x, y = windows(data, batch, g)
            loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
            opt.zero_grad()
            loss.backward()
            opt.step()
            tokens += batch * length
            step += 1
        model.eval()
        with torch.no_grad():
            losses[budget] = float(F.cross_entropy(model(vx).flatten(0, 1), vy.flatten()))
        model.train()
    return non_embedding_params(model), losses


def scaling_study(out: Path, seed: int = 0, budgets=(50_000, 150_000, 450_000)) -> Path:
    from groundup.reports import figure, markdown_table, write_report
    from groundup.theory.papers.layernorm import shakespeare

    data, val, vocab = shakespeare()
    results = {w: run(w, data, val, vocab, budgets, seed) for w in WIDTHS}
    N = np.array([results[w][0] for w in WIDTHS], float)
    rows = [[w, int(results[w][0]), *(results[w][1][b] for b in budgets)] for w in WIDTHS]
    D = budgets[-1]
    alpha_n, _, ci_n = power_law_fit(N, np.array([results[w][1][D] for w in WIDTHS]))
    alpha_d, _, ci_d = power_law_fit(
        np.array(budgets, float), np.array([results[WIDTHS[-1]][1][b] for b in budgets])
    )
    # compute-optimal frontier: for each (N, D) pair C = 6 N D; at each budget level of compute keep the best N
    points = [(6 * n * b, results[w][1][b], n) for w, n in zip(WIDTHS, N, strict=True) for b in budgets]
    levels = np.geomspace(min(p[0] for p in points), max(p[0] for p in points), 8)
    frontier = []
    for c in levels:
        within = [p for p in points if p[0] <= c * 1.0001]
        best = min(within, key=lambda p: p[1])
        frontier.append((c, best[2], best[1]))
    a_opt, _, ci_a = power_law_fit(np.array([f[0] for f in frontier]), 1 / np.array([f[1] for f in frontier]))
    with figure(out / "scaling.png", ncols=2, figsize=(10, 4)) as (fig, (ax1, ax2)):
        for b in budgets:
            ax1.loglog(N, [results[w][1][b] for w in WIDTHS], marker="o", label=f"D = {b:,} tokens")
        ax1.set(xlabel="non-embedding parameters N", ylabel="validation loss (nats/char)", title="L(N)")
        ax1.legend()
        for w, n in zip(WIDTHS, N, strict=True):
            ax2.loglog(
                [6 * n * b for b in budgets],
                [results[w][1][b] for b in budgets],
                marker="o",
                label=f"N = {int(n):,}",
            )
        ax2.set(xlabel="compute C = 6 N D (FLOPs)", ylabel="validation loss", title="loss vs compute")
        ax2.legend(fontsize=7)
    fits = [
        [f"alpha_N (L ~ N^-alpha, D = {D:,})", f"{alpha_n:.3f} +- {ci_n:.3f}", "0.076 (Kaplan)"],
        ["alpha_D (L ~ D^-alpha, largest N)", f"{alpha_d:.3f} +- {ci_d:.3f}", "0.095 (Kaplan)"],
        ["a (N_opt ~ C^a)", f"{a_opt:.2f} +- {ci_a:.2f}", "0.50 (Chinchilla), 0.73 (Kaplan)"],
    ]
    return write_report(
        out / "report.md",
        "Scaling laws at toy scale: character GPTs on Shakespeare",
        [
            f"GPT, 2 layers, widths {', '.join(map(str, WIDTHS))} (heads = width/8), context 64, batch 16, AdamW lr 3e-3 "
            f"constant, tinyshakespeare characters ({vocab}-symbol vocabulary); validation loss on 128 fixed windows "
            f"after {', '.join(f'{b:,}' for b in budgets)} training tokens; seed {seed}.",
            markdown_table(["width", "non-embedding N", *(f"loss @ {b:,}" for b in budgets)], rows),
            markdown_table(["fit", "ours (95% interval)", "paper"], fits),
            "![scaling](scaling.png)",
        ],
    )
