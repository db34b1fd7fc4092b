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
    eval_interval: int = 50,
    only=None,
    threads: int = 1,
    text: str | None = None,
    progress: bool = False,
    probe_lengths=(256, 512, 1024, 2048),
    decode_tokens: int = 256,
    probes: bool = True,
) -> dict:
    """Train every model for every seed, probe memory and decoding, write the report; return the data.

    `probes=False` trains only (a process that runs extra seeds of models another process probes);
    its compare.json is then a part for `merge`, without a report of its own."""
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
    settings = dict(
        SHARED,
        warmup_iters=min(SHARED["warmup_iters"], max(1, max_iters // 10)),  # short pilot runs warm up less
        max_iters=max_iters,
        lr_decay_iters=max_iters,
        eval_interval=eval_interval,
        threads=threads,
        progress=progress,
    )
    tokens_per_iter = settings["batch_size"] * settings["block_size"]
    vocab_size = CharTokenizer.from_text(load_corpus(make_config(**settings), text)).vocab_size
    sizes = {}
    for name in names:
        model = build_model(make_config(model=name, **settings, **ARCHS[name]), vocab_size)
        sizes[name] = (
            count_params(model),
            (model.active_params() if hasattr(model, "active_params") else None),
        )
    budget = dict(settings, seeds=list(seeds), tokens_per_run=max_iters * tokens_per_iter)
    runs = []
    for seed in seeds:  # seed-major: a comparison cut short still has every model at the same seeds
        for name in names:
            result = train(
                make_config(model=name, seed=seed, **settings, **ARCHS[name]),
                out / name / f"seed{seed}",
                text=text,
            )
            params, active = sizes[name]
            evals = [dict(e, tokens=e["iter"] * tokens_per_iter) for e in result.evals]
            runs.append(
                dict(
                    model=name,
                    seed=seed,
                    params=params,
                    active_params=active or params,
                    best_val_loss=result.best_val_loss,
                    final_val_loss=result.val_loss,
                    wall_s=result.wall_s,
                    tokens_per_s=result.tokens_per_s,
                    evals=evals,
                )
            )
            partial = {"settings": dict(budget, seeds=sorted({r["seed"] for r in runs})), "runs": runs}
            write_json(out / "compare.json", partial)  # the runs so far, for `merge` if the process is cut
    archs = {n: ARCHS[n] for n in names}
    data = {"settings": budget, "runs": runs}
    if not probes:
        write_json(out / "compare.json", data)
        return data
    data["attention_memory"] = attention_memory(probe_lengths)
    data["forward_memory"] = forward_memory(archs, vocab_size, probe_lengths)
    data["state_memory"] = state_bytes(archs, vocab_size, probe_lengths)
    data["decode"] = decode_profile(archs, vocab_size, decode_tokens)
    write_outputs(data, out)
    return data


def write_outputs(data: dict, out_dir) -> None:
    """compare.json, the plots and report.md for `data` (adds its "summary")."""
    out = Path(out_dir)
    names = list(dict.fromkeys(r["model"] for r in data["runs"]))
    data["summary"] = summarize(data, names)
    write_json(out / "compare.json", data)
    plot_val_loss(data["runs"], names, out / "val_loss.png")
    plot_memory(data, names, out / "memory.png")
    plot_decode(data["decode"], out / "decode.png")
    write_report(out / "report.md", "Modern architectures on tiny Shakespeare", report_sections(data))


def merge(parts: list[dict]) -> dict:
    """One comparison from several `compare.json` of one budget, run by several processes (disjoint
    models, or extra seeds of a model trained with probes=False), and `probes.json` of `run_probes`:
    runs concatenated, the probe columns of every part that probed joined by T. Every model must have
    been probed by one part."""
    probes_only = [p for p in parts if "runs" not in p]
    parts = [p for p in parts if "runs" in p] + probes_only
    if not parts or probes_only == parts:
        raise ValueError("parts: none of them holds training runs (give a compare.json part)")
    trained = [p for p in parts if "runs" in p]
    first = trained[0]
    same = [k for k in first["settings"] if k not in ("seeds", "processes")]
    for part in trained[1:]:
        differ = [k for k in same if part["settings"].get(k) != first["settings"][k]]
        if differ:
            raise ValueError(
                f"parts: the comparisons differ in {', '.join(differ)}; merge runs of one budget"
            )
    seeds = sorted({seed for p in trained for seed in p["settings"]["seeds"]})
    processes = sum(p["settings"].get("processes", 1) for p in trained)
    data = {
        "settings": dict(first["settings"], seeds=seeds, processes=processes),
        "runs": sorted((r for p in trained for r in p["runs"]), key=lambda r: r["seed"]),
    }
    probed = [p for p in parts if "decode" in p]
    if not probed:
        raise ValueError("parts: none of them ran the probes (probes=False everywhere)")
    data["attention_memory"] = probed[0]["attention_memory"]
    for key in ("forward_memory", "state_memory"):
        data[key] = [dict(row) for row in probed[0][key]]
        for part in probed[1:]:
            by_T = {row["T"]: row for row in part[key]}
            for row in data[key]:
                row.update({k: v for k, v in by_T[row["T"]].items() if k != "T"})
    data["decode"] = {name: d for p in probed for name, d in p["decode"].items()}
    order = list(dict.fromkeys(r["model"] for p in trained for r in p["runs"]))
    data["runs"].sort(key=lambda r: order.index(r["model"]))
    missing = [name for name in order if name not in data["decode"]]
    if missing:
        raise ValueError(f"parts: no part probed {', '.join(missing)}; run one of its parts with probes")
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
            "seeds",
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
                r["seeds"],
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
    if s.get("processes", 1) > 1:
        budget += (
            f" The runs were made by {s['processes']} processes, several at a time on one machine "
            "(`groundup arch merge` joined them): speeds and wall times are shares of that machine, "
            "comparable only roughly."
        )
    return [budget, "## Results\n\n" + table, "![validation loss](val_loss.png)", *probe_sections(data)]


def probe_sections(data: dict) -> list[str]:
    """The complexity table measured: memory tables, decoding table and the two plots."""

    def table(rows, digits):
        return markdown_table(
            list(rows[0]), [[r["T"], *(f"{r[k]:.{digits}f}" for k in list(r)[1:])] for r in rows]
        )

    decode = markdown_table(
        ["model", "decode tokens/s", "ms/token, first quarter", "ms/token, last quarter"],
        [
            [name, f"{d['tokens_per_s']:,.0f}", f"{d['first_quarter_ms']:.2f}", f"{d['last_quarter_ms']:.2f}"]
            for name, d in data["decode"].items()
        ],
    )
    return [
        "## Attention memory (peak tensor MiB, one causal attention call, 4 heads x 36)\n\n"
        + table(data["attention_memory"], 2),
        "## Whole forward pass (peak tensor MiB, batch 1, no grad)\n\n" + table(data["forward_memory"], 1),
        "## Decoding cache after T tokens (MiB, batch 1: KV cache or recurrent state)\n\n"
        + table(data["state_memory"], 3),
        "![memory against sequence length](memory.png)",
        "## Decoding cost per token (greedy, 16-token prompt)\n\n" + decode + "\n\n![decoding](decode.png)",
    ]


def run_probes(
    out_dir, *, only=None, probe_lengths=(256, 512, 1024, 2048), decode_tokens: int = 256, text=None
) -> dict:
    """The complexity table alone (no training: the probes use fresh models): probes.json, memory.png,
    decode.png and probes.md in `out_dir`."""
    from groundup.tokenizers.char import CharTokenizer
    from groundup.train.arch.probes import attention_memory, decode_profile, forward_memory, state_bytes
    from groundup.train.trainer import load_corpus

    names = list(only) if only else list(ARCHS)
    unknown = [n for n in names if n not in ARCHS]
    if unknown:
        raise ValueError(f"only: unknown model(s) {', '.join(unknown)}; models: {', '.join(ARCHS)}")
    vocab_size = CharTokenizer.from_text(load_corpus(make_config(**SHARED), text)).vocab_size
    archs = {n: ARCHS[n] for n in names}
    data = {
        "attention_memory": attention_memory(probe_lengths),
        "forward_memory": forward_memory(archs, vocab_size, probe_lengths),
        "state_memory": state_bytes(archs, vocab_size, probe_lengths),
        "decode": decode_profile(archs, vocab_size, decode_tokens),
    }
    out = Path(out_dir)
    write_json(out / "probes.json", data)
    plot_memory(data, names, out / "memory.png")
    plot_decode(data["decode"], out / "decode.png")
    intro = (
        f"Fresh models of the comparison's shapes (random weights: memory and decoding cost do not depend on "
        f"training), a character vocabulary of {vocab_size}, one thread."
    )
    write_report(
        out / "probes.md",
        "Modern architectures: the complexity table measured",
        [intro, *probe_sections(data)],
    )
    return data


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
