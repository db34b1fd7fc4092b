"""The training-optimization laboratory (curriculum 0.6 capstone): which training choices help, with
statistics instead of single runs.

One small baseline CNN (`LabNet`: two conv-norm-ReLU-pool blocks and a Linear) trained on the same split
with BatchNorm, SGD + momentum and a cosine schedule. Every variant changes one thing (the
normalisation, the optimizer, the schedule, or adds one regulariser) and is trained with the same
seeds; each seed fixes the initial weights, the batch order and the augmentation draws. For each
variant against the baseline: mean +- 95% CI of test accuracy, Welch's t-test and an exact permutation
test, and Holm's correction over all the comparisons (`groundup.vision.stats`). An A/A comparison
(the baseline against itself on other seeds) checks that the procedure does not cry wolf. A second
experiment trains on an imbalanced copy of the data (classes 5-9 cut to a few percent) with
cross-entropy and with focal loss, and compares the recall of the rare classes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from groundup.train.tasks import ImageSplits
from groundup.vision import augment as A
from groundup.vision.losses import focal_loss, soft_cross_entropy
from groundup.vision.stats import holm, mean_ci, permutation_test, relabellings, welch_t_test

NORMS = ("batch", "layer", "group", "none")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine", "onecycle")


def norm_layer(kind: str, channels: int) -> nn.Module:
    """BatchNorm (over the batch), LayerNorm (GroupNorm with one group: over C, H, W of each image),
    GroupNorm (4 groups of channels), or nothing."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "group":
        return nn.GroupNorm(4, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {kind!r}")


class LabNet(nn.Module):
    """(B, 1, 28, 28) -> [conv3x3 16 -> norm -> ReLU -> pool] -> [conv3x3 32 -> norm -> ReLU -> pool]
    -> (B, 32, 7, 7) -> dropout -> Linear -> (B, classes)."""

    def __init__(self, norm: str = "batch", dropout: float = 0.0, num_classes: int = 10, width: int = 8):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), norm_layer(norm, width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), norm_layer(norm, 2 * width), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * width * 49, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.features(x).flatten(1)))


@dataclass(frozen=True)
class LabConfig:
    """One training recipe; the defaults are the baseline."""

    norm: str = "batch"
    optimizer: str = "sgd"
    schedule: str = "cosine"
    lr: float = 0.0  # 0: the optimizer's default (SGD 0.02, Adam/AdamW 2e-3)
    weight_decay: float = 0.0
    dropout: float = 0.0
    augment: bool = False
    label_smoothing: float = 0.0
    mixup: float = 0.0
    cutmix: float = 0.0
    loss: str = "ce"  # "ce" or "focal" (gamma 2)

    def __post_init__(self):
        for name, value, allowed in (
            ("norm", self.norm, NORMS),
            ("optimizer", self.optimizer, OPTIMIZERS),
            ("schedule", self.schedule, SCHEDULES),
            ("loss", self.loss, ("ce", "focal")),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")

    @property
    def learning_rate(self) -> float:
        return self.lr or (0.02 if self.optimizer == "sgd" else 2e-3)


BASELINE = LabConfig()
VARIANTS: dict[str, tuple[str, LabConfig]] = {  # name: (what changed, config)
    "layernorm": ("LayerNorm instead of BatchNorm", replace(BASELINE, norm="layer")),
    "groupnorm": ("GroupNorm (4 groups) instead of BatchNorm", replace(BASELINE, norm="group")),
    "no-norm": ("no normalisation", replace(BASELINE, norm="none")),
    "adam": ("Adam (lr 2e-3) instead of SGD", replace(BASELINE, optimizer="adam")),
    "adamw": (
        "AdamW (lr 2e-3, wd 0.05) instead of SGD",
        replace(BASELINE, optimizer="adamw", weight_decay=0.05),
    ),
    "constant-lr": ("constant learning rate instead of cosine", replace(BASELINE, schedule="constant")),
    "step-lr": ("step decay x0.1 at 50% and 75% instead of cosine", replace(BASELINE, schedule="step")),
    "one-cycle": ("one-cycle schedule instead of cosine", replace(BASELINE, schedule="onecycle")),
    "dropout": ("dropout 0.3 before the classifier", replace(BASELINE, dropout=0.3)),
    "weight-decay": ("weight decay 5e-4", replace(BASELINE, weight_decay=5e-4)),
    "augment": ("random crop (pad 2) + rotation 10 deg", replace(BASELINE, augment=True)),
    "label-smoothing": ("label smoothing 0.1", replace(BASELINE, label_smoothing=0.1)),
    "mixup": ("mixup alpha 0.2", replace(BASELINE, mixup=0.2)),
    "cutmix": ("cutmix alpha 1.0", replace(BASELINE, cutmix=1.0)),
}


def make_optimizer(cfg: LabConfig, params) -> torch.optim.Optimizer:
    lr, wd = cfg.learning_rate, cfg.weight_decay
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    return torch.optim.AdamW(params, lr=lr, weight_decay=wd)


def make_schedule(cfg: LabConfig, opt: torch.optim.Optimizer, steps: int):
    """A per-step scheduler (None for a constant rate)."""
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.MultiStepLR(opt, [steps // 2, 3 * steps // 4], gamma=0.1)
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.learning_rate, total_steps=steps)
    return None


def batch_loss(
    cfg: LabConfig, model: nn.Module, xb, yb, num_classes: int, gen: torch.Generator
) -> torch.Tensor:
    """The configured loss on one batch, mixing the batch first for mixup/cutmix."""
    if cfg.mixup or cfg.cutmix:
        mix = A.mixup if cfg.mixup else A.cutmix
        xb, soft, _ = mix(xb, yb, num_classes, cfg.mixup or cfg.cutmix, gen)
        return soft_cross_entropy(model(xb), soft, cfg.label_smoothing)
    logits = model(xb)
    if cfg.loss == "focal":
        return focal_loss(logits, yb, gamma=2.0)
    return F.cross_entropy(logits, yb, label_smoothing=cfg.label_smoothing)


@torch.no_grad()
def recalls(model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int) -> np.ndarray:
    """Per-class recall (share of each class's test images classified correctly)."""
    model.eval()
    pred = torch.cat([model(x[i : i + 500]).argmax(-1) for i in range(0, len(x), 500)])
    return np.array([float((pred[y == c] == c).float().mean()) for c in range(num_classes)])


def train_run(
    cfg: LabConfig, data: ImageSplits, seed: int, epochs: int, batch_size: int = 64, num_classes: int = 10
) -> dict:
    """Train LabNet with `cfg` from seed `seed`; returns test accuracy, per-class recall and seconds."""
    torch.manual_seed(seed)
    model = LabNet(cfg.norm, cfg.dropout, num_classes)
    opt = make_optimizer(cfg, model.parameters())
    steps = epochs * math.ceil(len(data.x_train) / batch_size)
    sched = make_schedule(cfg, opt, steps)
    gen = torch.Generator().manual_seed(seed)
    pipeline = A.train_pipeline(data.x_train.shape[-1], padding=2, rotation=10.0)
    fill = float(data.x_train.amin())
    start = time.perf_counter()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(data.x_train), generator=gen)
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            xb, yb = data.x_train[idx], data.y_train[idx]
            if cfg.augment:
                xb = A.apply_batch(pipeline, xb - fill, gen) + fill  # pads and corners get the background
            loss = batch_loss(cfg, model, xb, yb, num_classes, gen)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
    seconds = time.perf_counter() - start
    r = recalls(model, data.x_test, data.y_test, num_classes)
    counts = np.bincount(data.y_test.numpy(), minlength=num_classes)
    return {"accuracy": float((r * counts).sum() / counts.sum()), "recall": r.tolist(), "seconds": seconds}


def imbalanced(data: ImageSplits, rare: tuple[int, ...] = (5, 6, 7, 8, 9), keep: float = 0.05, seed: int = 0):
    """A copy whose training set keeps only `keep` of each rare class (the test set stays balanced)."""
    gen = torch.Generator().manual_seed(seed)
    mask = torch.ones(len(data.y_train), dtype=torch.bool)
    for c in rare:
        idx = torch.nonzero(data.y_train == c)[:, 0]
        drop = idx[torch.randperm(len(idx), generator=gen)[max(1, int(keep * len(idx))) :]]
        mask[drop] = False
    return ImageSplits(data.x_train[mask], data.y_train[mask], data.x_test, data.y_test)


def compare(baseline: list[float], variant: list[float]) -> dict:
    """Mean +- CI of the variant, the difference to the baseline and both p-values."""
    s = mean_ci(variant)
    t, df, p = welch_t_test(variant, baseline)
    return {"mean": s.mean, "ci": s.half_width, "delta": s.mean - float(np.mean(baseline)), "t": t, "df": df,
            "p_welch": p, "p_perm": permutation_test(variant, baseline)}  # fmt: skip


def aa_split_rates(
    runs: list[float], alpha: float = 0.05, random_splits: int = 200
) -> tuple[float, float, int]:
    """Rejection rates of Welch and the permutation test over every half-split of one configuration's
    runs: all null comparisons, so both rates should sit near (permutation: at most) alpha.

    Every split relabels the same pooled runs, so the exact permutation null (all C(2n, n) mean
    differences) is computed once and each split's p is the share of it at least as extreme as its own
    difference (what `permutation_test` returns for that split). Too many runs to enumerate: a seeded
    sample of `random_splits` splits, each tested with `permutation_test`."""
    x = np.asarray(runs, float)
    total, n = len(x), len(x) // 2
    if math.comb(total, n) <= 20_000:
        every = relabellings(total, n)
        splits = every[every[:, 0] == 0]  # each split once
        diff = lambda sums: np.abs(sums / n - (x.sum() - sums) / (total - n))  # noqa: E731
        null = np.sort(diff(x[every].sum(1)))
        observed = diff(x[splits].sum(1))
        p_perm = 1 - np.searchsorted(null, observed - 1e-12, side="left") / len(null)
    else:
        rng = np.random.default_rng(0)
        splits = np.array([np.sort(rng.permutation(total)[:n]) for _ in range(random_splits)])
        p_perm = np.array([permutation_test(x[c], np.delete(x, c)) for c in splits])
    p_welch = np.array([welch_t_test(x[c], np.delete(x, c))[2] for c in splits])
    return float(np.mean(p_welch < alpha)), float(np.mean(p_perm < alpha)), len(splits)


def run_lab(
    data: ImageSplits,
    *,
    seeds: int = 5,
    epochs: int = 3,
    variants: dict[str, tuple[str, LabConfig]] | None = None,
    progress: Callable[[str], None] = print,
) -> dict:
    """Every variant and the baseline over `seeds` seeds (the baseline over 2 x seeds, for the A/A
    check), then the imbalanced-data experiment; returns the raw runs and the comparisons."""
    variants = VARIANTS if variants is None else variants
    runs: dict[str, list[dict]] = {}

    def train_all(name: str, cfg: LabConfig, seed_list, split: ImageSplits = data) -> list[dict]:
        out = []
        for s in seed_list:
            out.append(train_run(cfg, split, s, epochs))
            progress(f"{name} seed {s}: accuracy {out[-1]['accuracy']:.4f} ({out[-1]['seconds']:.1f} s)")
        return out

    runs["baseline"] = train_all("baseline", BASELINE, range(seeds))
    runs["baseline (A/A)"] = train_all("baseline (A/A)", BASELINE, range(seeds, 2 * seeds))
    for name, (_, cfg) in variants.items():
        runs[name] = train_all(name, cfg, range(seeds))
    skewed = imbalanced(data)
    runs["imbalanced ce"] = train_all("imbalanced ce", BASELINE, range(seeds), skewed)
    runs["imbalanced focal"] = train_all(
        "imbalanced focal", replace(BASELINE, loss="focal"), range(seeds), skewed
    )
    return analyse(runs, variants, len(skewed.y_train))


def analyse(
    runs: dict[str, list[dict]], variants: dict[str, tuple[str, LabConfig]], skewed_size: int
) -> dict:
    acc = {k: [r["accuracy"] for r in v] for k, v in runs.items()}
    base = acc["baseline"]
    rows = {name: compare(base, acc[name]) for name in variants}
    for name, p_w, p_p in zip(
        rows, holm([r["p_welch"] for r in rows.values()]), holm([r["p_perm"] for r in rows.values()])
    ):
        rows[name]["holm_welch"], rows[name]["holm_perm"] = float(p_w), float(p_p)
    aa = compare(base, acc["baseline (A/A)"])
    aa["split_rate_welch"], aa["split_rate_perm"], aa["splits"] = aa_split_rates(base + acc["baseline (A/A)"])
    minority = {
        k: [float(np.mean(r["recall"][5:])) for r in runs[k]] for k in ("imbalanced ce", "imbalanced focal")
    }
    focal = compare(minority["imbalanced ce"], minority["imbalanced focal"])
    focal["ce"] = asdict(mean_ci(minority["imbalanced ce"]))
    focal["accuracy_ce"] = asdict(mean_ci(acc["imbalanced ce"]))
    focal["accuracy_focal"] = asdict(mean_ci(acc["imbalanced focal"]))
    focal["train_size"] = skewed_size
    return {"baseline": asdict(mean_ci(base)), "rows": rows, "aa": aa, "focal": focal, "runs": runs,
            "changes": {k: v[0] for k, v in variants.items()}, "baseline_config": asdict(BASELINE)}  # fmt: skip


def _fmt_p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def write_report(out: str | Path, result: dict, budget: str, alpha: float = 0.05) -> Path:
    """lab.md (tables, A/A check, focal loss, the recipe), lab.png (means with CIs) and lab.json."""
    from groundup.reports import figure, markdown_table, write_json, write_report

    out = Path(out)
    base, rows, aa, focal = result["baseline"], result["rows"], result["aa"], result["focal"]
    table = [
        [
            "baseline",
            "BatchNorm, SGD+momentum 0.9 (lr 0.02), cosine",
            f"{base['mean']:.4f} ± {base['half_width']:.4f}",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
    ]
    for name, r in rows.items():
        sig = "**yes**" if r["holm_welch"] < alpha else "no"
        table.append([name, result["changes"][name], f"{r['mean']:.4f} ± {r['ci']:.4f}", f"{r['delta']:+.4f}",
                      _fmt_p(r["p_welch"]), _fmt_p(r["p_perm"]), _fmt_p(r["holm_welch"]), _fmt_p(r["holm_perm"]), sig])  # fmt: skip
    better = [n for n, r in rows.items() if r["holm_welch"] < alpha and r["delta"] > 0]
    worse = [n for n, r in rows.items() if r["holm_welch"] < alpha and r["delta"] < 0]
    n_seeds = len(result["runs"]["baseline"])
    min_perm = 2 / math.comb(2 * n_seeds, n_seeds)
    sections = [
        budget,
        f"Each configuration: {n_seeds} seeds (seed = initial weights, batch order, augmentation draws); "
        "test accuracy on the held-out split. ± is the 95% t confidence interval of the mean. p-values "
        "compare each variant with the baseline (two-sided Welch t-test; exact permutation test over all "
        f"{math.comb(2 * n_seeds, n_seeds)} relabellings); Holm's correction runs over the {len(rows)} comparisons. "
        f"'significant' = Holm-adjusted Welch p < {alpha}.",
        markdown_table(["config", "change", "accuracy", "Δ vs baseline", "p Welch", "p perm", "Holm Welch", "Holm perm", "significant"], table),
        f"With {n_seeds} seeds per arm the exact permutation test cannot go below p = {min_perm:.2g}, so after "
        f"Holm over {len(rows)} comparisons its smallest possible adjusted p is {min(1, len(rows) * min_perm):.2g}"
        + (": at this budget only the t-test can reach significance, and only for large, consistent effects."
           if len(rows) * min_perm >= alpha else " (below α: both tests can detect a consistent effect)."),
        "![means and 95% CIs](lab.png)",
        "## A/A check",
        f"The baseline on seeds {n_seeds}..{2 * n_seeds - 1} against the baseline on seeds 0..{n_seeds - 1}: "
        f"Δ = {aa['delta']:+.4f}, Welch p = {_fmt_p(aa['p_welch'])}, permutation p = {_fmt_p(aa['p_perm'])} "
        f"({'no false positive' if aa['p_welch'] >= alpha else 'a false positive'}). Over all {aa['splits']} "
        f"ways to split the {2 * n_seeds} baseline runs into two groups (every one a null comparison), Welch "
        f"rejected at α = {alpha} in {aa['split_rate_welch']:.1%} and the permutation test in "
        f"{aa['split_rate_perm']:.1%} of splits (the splits share runs, so this is a sanity check of the "
        "rate, not an independent estimate).",
        "## Focal loss on imbalanced data",
        f"Training set: the same split with classes 5-9 cut to 5% ({focal['train_size']} images); test set balanced. "
        "Minority recall = mean recall over classes 5-9.",
        markdown_table(
            ["loss", "minority recall", "test accuracy"],
            [["cross-entropy", f"{focal['ce']['mean']:.4f} ± {focal['ce']['half_width']:.4f}",
              f"{focal['accuracy_ce']['mean']:.4f} ± {focal['accuracy_ce']['half_width']:.4f}"],
             ["focal (γ = 2)", f"{focal['mean']:.4f} ± {focal['ci']:.4f}",
              f"{focal['accuracy_focal']['mean']:.4f} ± {focal['accuracy_focal']['half_width']:.4f}"]],
        ),  # fmt: skip
        f"Focal − CE minority recall: {focal['delta']:+.4f}, Welch p = {_fmt_p(focal['p_welch'])}, "
        f"permutation p = {_fmt_p(focal['p_perm'])} (a single planned comparison: no correction).",
        "## The recipe the evidence supports",
        ("Significantly better than the baseline: " + ", ".join(better) + ". ") if better else
        "No change beat the baseline significantly after Holm's correction at this budget. ",
        ("Significantly worse (avoid): " + ", ".join(worse) + ". ") if worse else "No change was significantly worse. ",
        "Recipe: the baseline (BatchNorm, SGD with momentum, cosine schedule)"
        + (" plus " + ", ".join(better) if better else "")
        + ". Changes without a significant effect are not evidence of no effect: the intervals say how large an "
        "effect this budget could have missed, and combinations of changes were not tested.",
    ]  # fmt: skip
    names = ["baseline", *rows]
    means = [base["mean"]] + [r["mean"] for r in rows.values()]
    cis = [base["half_width"]] + [r["ci"] for r in rows.values()]
    with figure(out / "lab.png", figsize=(9, 4)) as (_, ax):
        colors = ["gray"] + [
            "tab:green" if n in better else "tab:red" if n in worse else "tab:blue" for n in rows
        ]
        ax.bar(range(len(names)), means, yerr=cis, color=colors, capsize=3)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
        ax.set_ylim(
            min(m - c for m, c in zip(means, cis)) - 0.01, max(m + c for m, c in zip(means, cis)) + 0.005
        )
        ax.set_ylabel("test accuracy (mean ± 95% CI)")
        ax.set_title("Training laboratory: one change from the baseline each")
    write_json(out / "lab.json", result)
    return write_report(out / "lab.md", "Training-optimization laboratory (curriculum 0.6)", sections)
