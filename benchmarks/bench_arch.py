"""Modern architectures (curriculum 3.4): flash attention, scans, training forms and recurrent decoding, on CPU.

Cases (every ours/peer pair timed in alternating rounds, medians; one torch thread; load recorded):
  attention T=...   our tiled flash attention (PyTorch, forward) vs naive attention (the T x T
                    scores) and vs torch's fused SDPA, causal, 4 heads x 64, batch 1: median time and
                    the peak bytes of the tensors each allocates (`profiling.tensor_memory`). The
                    crossover row names the first T where ours is no slower than naive; the plot
                    `arch_attention.png` (with --write-docs: beside the 3.4 note) shows time and memory against T.
  scan T=...        Mamba's associative (parallel) scan vs the sequential loop, (B=4, T, 64, 16).
  train step ...    one forward + backward of the comparison's ~1M-parameter model (batch 16 x 64):
                    Mamba with the time-major chunked scan vs the fused per-step scan, RWKV with the
                    chunkwise WKV vs the token loop (the same numbers, tests/models check it).
  decode ...        RetNet and RWKV at generation time: seconds per new token after P tokens, through
                    the recurrent state (flat in P) vs recomputing the parallel form over all P + 1
                    tokens (growing in P).
speedup = peer time / our time (above 1: ours faster).
"""

from __future__ import annotations

import statistics
import time
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks.harness import RESULTS_DIR, Report
from groundup.models.flash_attention import flash_attention, naive_attention
from groundup.models.mamba import scan_parallel, scan_sequential
from groundup.models.retnet import RetNet, RetNetConfig
from groundup.models.rwkv import RWKV, RWKVConfig
from groundup.profiling.tensor_memory import peak_tensor_bytes
from groundup.reports import figure

DOCS_PLOTS = Path(__file__).resolve().parent.parent / "docs" / "notes" / "3.4-modern-architectures"


def run(report: Report, quick: bool) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    report.env["torch_threads"] = 1
    rounds = 3
    try:
        with torch.no_grad():
            attention_cases(report, (256, 512, 1024) if quick else (256, 512, 1024, 2048, 4096), rounds)
            scan_cases(report, (64, 256) if quick else (64, 256, 1024), rounds)
        train_step_cases(report, 2 if quick else 3)
        with torch.no_grad():
            decode_cases(report, (32, 128) if quick else (32, 128, 512), rounds)
    finally:
        torch.set_num_threads(threads)


def alternating(fns: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds per call of each callable, one call of each per round (after one warm-up call each),
    so that a change in machine load hits all of them alike."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def add_pair(report: Report, case: str, times: dict, ours: str, peer: str, work=None, unit="items", **extra):
    """A row in `Report.compare`'s columns from alternating timings."""
    o, p = statistics.median(times[ours]), statistics.median(times[peer])
    row = dict(case=case, peer=peer, ours_median_s=o, peer_median_s=p, speedup=p / o)
    row.update(ours_times_s=times[ours], peer_times_s=times[peer], **extra)
    if work:
        row[f"ours_{unit}_per_s"], row[f"peer_{unit}_per_s"] = work / o, work / p
    return report.add(**row)


def attention_cases(report: Report, lengths, rounds: int) -> None:
    curves = {name: {"s": [], "mib": []} for name in ("flash (ours)", "naive", "sdpa")}
    for T in lengths:
        q, k, v = (torch.randn(1, 4, T, 64) for _ in range(3))
        fns = {
            "flash (ours)": partial(flash_attention, q, k, v, causal=True),
            "naive": partial(naive_attention, q, k, v, causal=True),
            "sdpa": partial(F.scaled_dot_product_attention, q, k, v, is_causal=True),
        }
        mib = {name: peak_tensor_bytes(fn) / 2**20 for name, fn in fns.items()}
        times = alternating(fns, rounds)
        for name in fns:
            curves[name]["s"].append(statistics.median(times[name]))
            curves[name]["mib"].append(mib[name])
        for peer in ("naive", "sdpa"):
            add_pair(
                report,
                f"attention T={T}",
                times,
                "flash (ours)",
                peer,
                work=T,
                unit="tokens",
                ours_tensor_mb=mib["flash (ours)"],
                peer_tensor_mb=mib[peer],
            )
    faster = [T for T, o, n in zip(lengths, curves["flash (ours)"]["s"], curves["naive"]["s"]) if o <= n]
    report.add(case="attention crossover", peer="naive", first_T_ours_no_slower=faster[0] if faster else None)
    # with --write-docs the plot goes beside its note (the docs site serves only docs/)
    plot_dir = DOCS_PLOTS if report.directory == RESULTS_DIR else report.directory
    plot_attention(list(lengths), curves, plot_dir / "arch_attention.png")


def plot_attention(lengths, curves: dict, path) -> None:
    """Time and peak tensor memory against T, log-log, with a slope-1 and a slope-2 guide."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with figure(path, ncols=2, figsize=(12, 4.5)) as (_, (by_time, by_memory)):
        for name, curve in curves.items():
            by_time.plot(lengths, [1e3 * s for s in curve["s"]], "o-", ms=4, label=name)
            by_memory.plot(lengths, curve["mib"], "o-", ms=4, label=name)
        base = curves["flash (ours)"]["mib"][0]
        for slope, style in ((1, ":"), (2, "--")):
            guide = [base * (T / lengths[0]) ** slope for T in lengths]
            by_memory.plot(lengths, guide, "k" + style, lw=0.8, label=f"∝ T^{slope}")
        by_time.set(xscale="log", yscale="log", xlabel="sequence length T", ylabel="ms (median)")
        by_time.set_title("causal attention, 4 heads x 64, one thread")
        by_memory.set(xscale="log", yscale="log", xlabel="sequence length T", ylabel="peak tensor MiB")
        by_memory.set_title("memory the call allocates (SDPA's buffers are internal)")
        for ax in (by_time, by_memory):
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=8)


def scan_cases(report: Report, lengths, rounds: int) -> None:
    for T in lengths:
        a, b = torch.rand(4, T, 64, 16), torch.randn(4, T, 64, 16)
        times = alternating(
            {
                "parallel scan": partial(scan_parallel, a, b),
                "sequential loop": partial(scan_sequential, a, b),
            },
            rounds,
        )
        add_pair(report, f"scan T={T}", times, "parallel scan", "sequential loop", work=T, unit="steps")


def train_step(model, ids):
    """One forward + backward of the next-token loss (gradients dropped)."""
    model.zero_grad(set_to_none=True)
    logits = model(ids[:, :-1])  # (B, T, vocab)
    F.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten()).backward()


def train_step_cases(report: Report, rounds: int) -> None:
    from groundup.train.arch.compare import ARCHS, SHARED
    from groundup.train.config import make_config
    from groundup.train.zoo import build_model

    ids = torch.randint(0, 65, (SHARED["batch_size"], SHARED["block_size"] + 1))
    torch.manual_seed(0)
    mamba = build_model(make_config(model="mamba", **SHARED, **ARCHS["mamba"]), 65)
    rwkv = build_model(make_config(model="rwkv", **SHARED, **ARCHS["rwkv"]), 65)

    def with_scan(scan):
        for block in mamba.blocks:
            block.mixer.cfg.scan = scan
        train_step(mamba, ids)

    def with_form(form):
        rwkv.form = form
        train_step(rwkv, ids)

    times = alternating(
        {"time_major": partial(with_scan, "time_major"), "fused": partial(with_scan, "fused")}, rounds
    )
    add_pair(report, "train step mamba", times, "time_major", "fused", work=ids[:, 1:].numel(), unit="tokens")
    times = alternating(
        {"chunk": partial(with_form, "chunk"), "recurrent": partial(with_form, "recurrent")}, rounds
    )
    add_pair(report, "train step rwkv", times, "chunk", "recurrent", work=ids[:, 1:].numel(), unit="tokens")
    with_scan("auto")
    with_form("chunk")


def per_token(model, prefix: int, recurrent: bool):
    """A callable that decodes one token after `prefix` tokens: through a state filled once, or by
    running the parallel form over all prefix + 1 tokens (no cache)."""
    ids = torch.randint(0, model.vocab_size, (1, prefix + 1))
    if not recurrent:
        return lambda: model(ids, logits_index=slice(-1, None))
    cache = model.new_cache(1)
    model(ids[:, :prefix], kv_cache=cache)
    state = [s for s in cache.states]

    def step():
        cache.states, cache.lengths = list(state), [prefix] * len(state)
        return model(ids[:, -1:], kv_cache=cache)

    return step


def decode_cases(report: Report, prefixes, rounds: int) -> None:
    torch.manual_seed(0)
    models = {
        "retnet": RetNet(
            RetNetConfig(vocab_size=65, dim=128, n_layers=4, n_heads=4, max_context=2048)
        ).eval(),
        "rwkv": RWKV(RWKVConfig(vocab_size=65, dim=128, n_layers=4, max_context=2048)).eval(),
    }
    models["rwkv"].form = "parallel"  # the no-cache peer recomputes with the parallel form
    for name, model in models.items():
        for P in prefixes:
            times = alternating(
                {
                    "recurrent state": per_token(model, P, recurrent=True),
                    "parallel form, no state": per_token(model, P, recurrent=False),
                },
                rounds,
            )
            add_pair(
                report,
                f"decode {name} P={P}",
                times,
                "recurrent state",
                "parallel form, no state",
                work=1,
                unit="tokens",
            )
