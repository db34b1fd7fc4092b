"""The modern-architecture comparison (curriculum 3.4): six language models of about 1M parameters on
the same data with the same token budget, several seeds each, then the complexity table measured.

Models: GPT (softmax attention), MoE-GPT (4 experts, top-2, the same active parameters as GPT),
linear-attention GPT, Mamba, RWKV-4 and RetNet, all character-level on tiny Shakespeare, trained by
the same loop (`trainer.train`) with the same optimizer, schedule, batches per seed and token budget.
Outputs in `out_dir`: `compare.json` (every run and probe), `report.md` (the table, mean and 95%
confidence interval over seeds), `val_loss.png` (validation loss against tokens and against wall
time), `memory.png` (memory against sequence length) and `decode.png` (per-token decoding cost).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from groundup.reports import figure, markdown_table, write_json, write_report
from groundup.train.config import make_config

# ~1M parameters each on the 65-character vocabulary (MoE-GPT: ~1M active, 1.7M in all)
ARCHS: dict[str, dict] = {
    "gpt": dict(n_layer=4, n_head=4, n_embd=144),
    "moe_gpt": dict(n_layer=4, n_head=4, n_embd=144, n_experts=4, top_k=2),
    "linear_gpt": dict(n_layer=4, n_head=4, n_embd=144),
    "mamba": dict(n_layer=4, n_embd=192),
    "rwkv": dict(n_layer=4, n_embd=136),
    "retnet": dict(n_layer=4, n_head=4, n_embd=136),
}

# the same optimization for every model (the ladder's recipe, a smaller batch)
SHARED = dict(
    block_size=64,
    batch_size=16,
    lr=3e-3,
    min_lr=3e-4,
    warmup_iters=40,
    weight_decay=0.01,
    bias=False,
    eval_interval=50,
    eval_iters=6,
    log_interval=10,
    ckpt_interval=0,
)

T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def mean_ci(values) -> tuple[float, float]:
    """Mean and half-width of the 95% confidence interval (Student t) over seeds; 0 for one seed."""
    v = np.asarray(values, float)
    if len(v) < 2:
        return float(v.mean()), 0.0
    return float(v.mean()), T_975.get(len(v) - 1, 1.96) * float(v.std(ddof=1)) / math.sqrt(len(v))


def run_compare(
    out_dir,
    *,
    seeds=(0, 1, 2),
    max_iters: int = 400,
    only=None,
    threads: int = 1,
    text: str | None = None,
    progress: bool = False,
    probe_lengths=(256, 512, 1024, 2048),
    decode_tokens: int = 256,
) -> dict:
    """Train every model for every seed, probe memory and decoding, write the report; return the data."""
    from groundup.tokenizers.char import CharTokenizer
    from groundup.train.arch.probes import attention_memory, decode_profile, forward_memory, state_bytes
    from groundup.train.trainer import load_corpus, train
    from groundup.train.zoo import build_model, count_params

    out = Path(out_dir)
    names = list(only) if only else list(ARCHS)
    unknown = [n for n in names if n not in ARCHS]
    if unknown:
        raise ValueError(f"only: unknown model(s) {', '.join(unknown)}; models: {', '.join(ARCHS)}")
    if not seeds:
        raise ValueError("seeds: give at least one seed")
    settings = dict(SHARED, max_iters=max_iters, lr_decay_iters=max_iters, threads=threads, progress=progress)
    tokens_per_iter = settings["batch_size"] * settings["block_size"]
    vocab_size = CharTokenizer.from_text(load_corpus(make_config(**settings), text)).vocab_size
    runs = []
    for name in names:
        cfg = make_config(model=name, **settings, **ARCHS[name])
        model = build_model(cfg, vocab_size)
        params = count_params(model)
        active = model.active_params() if hasattr(model, "active_params") else params
        for seed in seeds:
            result = train(
                make_config(model=name, seed=seed, **settings, **ARCHS[name]),
                out / name / f"seed{seed}",
                text=text,
            )
            evals = [dict(e, tokens=e["iter"] * tokens_per_iter) for e in result.evals]
            runs.append(
                dict(
                    model=name,
                    seed=seed,
                    params=params,
                    active_params=active,
                    best_val_loss=result.best_val_loss,
                    final_val_loss=result.val_loss,
                    wall_s=result.wall_s,
                    tokens_per_s=result.tokens_per_s,
                    evals=evals,
                )
            )
    archs = {n: ARCHS[n] for n in names}
    data = {
        "settings": dict(settings, seeds=list(seeds), tokens_per_run=max_iters * tokens_per_iter),
        "runs": runs,
        "attention_memory": attention_memory(probe_lengths),
        "forward_memory": forward_memory(archs, vocab_size, probe_lengths),
        "state_memory": state_bytes(archs, vocab_size, probe_lengths),
        "decode": decode_profile(archs, vocab_size, decode_tokens),
    }
    data["summary"] = summarize(data, names)
    write_json(out / "compare.json", data)
    plot_val_loss(runs, names, out / "val_loss.png")
    plot_memory(data, names, out / "memory.png")
    plot_decode(data["decode"], out / "decode.png")
    write_report(out / "report.md", "Modern architectures on tiny Shakespeare", report_sections(data))
    return data


def summarize(data: dict, names) -> list[dict]:
    """One row per model: parameters, losses and speeds as mean and CI over seeds."""
    rows = []
    longest = data["state_memory"][-1]
    for name in names:
        runs = [r for r in data["runs"] if r["model"] == name]
        val, val_ci = mean_ci([r["best_val_loss"] for r in runs])
        speed, speed_ci = mean_ci([r["tokens_per_s"] for r in runs])
        wall, _ = mean_ci([r["wall_s"] for r in runs])
        rows.append(
            dict(
                model=name,
                params=runs[0]["params"],
                active_params=runs[0]["active_params"],
                seeds=len(runs),
                val_loss=val,
                val_loss_ci=val_ci,
                train_tokens_per_s=speed,
                train_tokens_per_s_ci=speed_ci,
                wall_s=wall,
                decode_tokens_per_s=data["decode"][name]["tokens_per_s"],
                decode_first_ms=data["decode"][name]["first_quarter_ms"],
                decode_last_ms=data["decode"][name]["last_quarter_ms"],
                state_mib=longest[name],
            )
        )
    return rows


def report_sections(data: dict) -> list[str]:
    s = data["settings"]
    longest = data["state_memory"][-1]["T"]
    table = markdown_table(
        [
            "model",
            "params (active)",
            "best val loss (nats/char)",
            "train tokens/s",
            "wall s / run",
            "decode tokens/s",
            "ms/token early → late",
            f"decode cache at {longest} tokens (MiB)",
        ],
        [
            [
                r["model"],
                f"{r['params']:,} ({r['active_params']:,})",
                f"{r['val_loss']:.4f} ± {r['val_loss_ci']:.4f}",
                f"{r['train_tokens_per_s']:,.0f} ± {r['train_tokens_per_s_ci']:,.0f}",
                f"{r['wall_s']:.0f}",
                f"{r['decode_tokens_per_s']:,.0f}",
                f"{r['decode_first_ms']:.2f} → {r['decode_last_ms']:.2f}",
                f"{r['state_mib']:.3f}",
            ]
            for r in data["summary"]
        ],
    )
    budget = (
        f"Data: tiny Shakespeare, characters (last 10% for validation). Budget per run: {s['max_iters']} steps "
        f"x {s['batch_size']} x {s['block_size']} tokens = {s['tokens_per_run']:,} tokens; AdamW lr "
        f"{s['lr']} -> {s['min_lr']} (warmup {s['warmup_iters']}, cosine), weight decay {s['weight_decay']}, "
        f"{s['threads']} thread(s); seeds {s['seeds']}; ± is the 95% confidence interval over seeds "
        f"(Student t). Validation loss: the best of the evaluations every {s['eval_interval']} steps, "
        f"each over {s['eval_iters']} batches."
    )
    memory_rows = [[r["T"], *(f"{r[k]:.2f}" for k in list(r)[1:])] for r in data["attention_memory"]]
    memory = markdown_table(["T", *list(data["attention_memory"][0])[1:]], memory_rows)
    forward_rows = [[r["T"], *(f"{r[k]:.1f}" for k in list(r)[1:])] for r in data["forward_memory"]]
    forward = markdown_table(["T", *list(data["forward_memory"][0])[1:]], forward_rows)
    return [
        budget,
        "## Results\n\n" + table,
        "![validation loss](val_loss.png)",
        "## Attention memory (peak tensor MiB, one causal attention call, 4 heads x 36)\n\n" + memory,
        "## Whole forward pass (peak tensor MiB, batch 1, no grad)\n\n" + forward,
        "![memory against sequence length](memory.png)",
        "## Decoding cost per token\n\n![decoding](decode.png)",
    ]


def plot_val_loss(runs: list[dict], names, path: Path) -> None:
    """Validation loss against tokens seen and against wall time: the mean over seeds, band = min..max."""
    with figure(path, ncols=2, figsize=(12, 4.5)) as (_, (by_tokens, by_time)):
        for name in names:
            mine = [r for r in runs if r["model"] == name]
            n = min(len(r["evals"]) for r in mine)
            val = np.array([[e["val_loss"] for e in r["evals"][:n]] for r in mine])  # (seeds, evals)
            tokens = [e["tokens"] for e in mine[0]["evals"][:n]]
            seconds = np.array([[e["elapsed_s"] for e in r["evals"][:n]] for r in mine]).mean(0)
            for ax, x in ((by_tokens, tokens), (by_time, seconds)):
                (line,) = ax.plot(x, val.mean(0), "o-", ms=3, label=name)
                ax.fill_between(x, val.min(0), val.max(0), color=line.get_color(), alpha=0.15)
        by_tokens.set(xlabel="training tokens", ylabel="validation loss (nats/char)", title="per token")
        by_time.set(xlabel="wall time (s, this machine)", ylabel="validation loss", title="per second")
        for ax in (by_tokens, by_time):
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)


def plot_memory(data: dict, names, path: Path) -> None:
    with figure(path, ncols=3, figsize=(16, 4.5)) as (_, (attn, fwd, state)):
        for ax, rows, keys, title in (
            (attn, data["attention_memory"], list(data["attention_memory"][0])[1:], "one attention call"),
            (fwd, data["forward_memory"], names, "whole forward pass"),
            (state, data["state_memory"], names, "decoding cache (KV or state)"),
        ):
            T = [r["T"] for r in rows]
            for key in keys:
                ax.plot(T, [max(r[key], 1e-4) for r in rows], "o-", ms=3, label=key)
            ax.set(xscale="log", yscale="log", xlabel="sequence length T", ylabel="MiB", title=title)
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=8)


def plot_decode(decode: dict, path: Path) -> None:
    with figure(path, figsize=(7, 4.5)) as (_, ax):
        for name, d in decode.items():
            ms = 1e3 * np.asarray(d["times_s"])
            window = max(1, len(ms) // 16)
            smoothed = np.convolve(ms, np.ones(window) / window, mode="valid")
            ax.plot(np.arange(len(smoothed)) + window, smoothed, label=name)
        ax.set(xlabel="generated token position", ylabel="ms per token (moving average)", title="decoding")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
