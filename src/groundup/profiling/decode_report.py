"""The decode profiling study (curriculum 1.6's capstone) as one function: profile each configuration,
put its speed beside the memory-bandwidth limit, write traces, a report and plots.

    run_decode_study(["float32", "auto:reference", "auto"], out, load)   -> out/report.md

`load(config) -> (model, tokenizer)` is given by the caller (`groundup profile decode` loads through
`groundup.generate.load_model`), so this module stays below every model layer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from groundup.profiling.decode import Roofline, bytes_per_token, profile_decode, stream_bandwidth
from groundup.reports import figure, markdown_table, write_json, write_report

PROMPT = "The capital of France is"


def run_decode_study(
    configs: list[str],
    out: Path,
    load: Callable[[str], tuple],
    *,
    prompt: str = PROMPT,
    tokens: int = 16,
    top: int = 12,
) -> Path:
    """Profile every configuration in turn (one model in memory at a time); returns the report path."""
    out = Path(out)
    bandwidth = stream_bandwidth()
    results = []
    for config in configs:
        start = time.perf_counter()
        model, tokenizer = load(config)
        load_s = time.perf_counter() - start
        trace = out / "traces" / f"decode-{config.replace(':', '-')}.json.gz"
        profile = profile_decode(model, tokenizer.encode(prompt), tokens, label=config, trace=trace, top=top)
        roof = Roofline(config, bytes_per_token(model), profile.tokens_per_s, bandwidth["read"])
        results.append((config, load_s, profile, roof))
        del model
    return _write(out, results, bandwidth, tokens)


def _write(out: Path, results, bandwidth: dict, tokens: int) -> Path:
    summary = markdown_table(
        [
            "config",
            "load s",
            "weight MB read / token",
            "tokens/s",
            "bandwidth limit tokens/s",
            "of limit",
            "profiled ms / token",
            "wall ms / token",
        ],
        [
            [
                c,
                round(load_s, 2),
                round(r.bytes_per_token / 1e6, 1),
                round(p.tokens_per_s, 1),
                round(r.limit_tokens_per_s, 1),
                f"{r.fraction_of_limit:.0%}",
                round(p.profiled_ms, 2),
                round(p.step_ms, 2),
            ]
            for c, load_s, p, r in results
        ],
    )
    sections = [
        f"Greedy decoding of {tokens} tokens at batch 1 after a short prompt. One thread reads "
        f"{bandwidth['read']:.1f} GB/s (sum over 256 MiB) and copies {bandwidth['copy']:.1f} GB/s "
        "(read + write): the bandwidth limit is that read rate divided by the weight bytes one token "
        "reads.",
        "## Summary\n\n" + summary,
    ]
    for config, _, profile, _ in results:
        rows = [[r.name, round(r.calls, 1), round(r.self_ms, 3), f"{r.share:.1%}"] for r in profile.top]
        sections.append(
            f"## Top operators: {config}\n\nSelf CPU time per decoded token (trace: `traces/{profile.trace.name}`, "
            "open in https://ui.perfetto.dev). Our compiled kernels run inside Python (ctypes) and are "
            "not operators: their time is the gap between the wall and profiled columns above.\n\n"
            + markdown_table(["operator", "calls / token", "self ms / token", "share"], rows)
        )
    with figure(out / "decode-roofline.png", figsize=(7, 3.8)) as (_, ax):
        labels = [c for c, *_ in results]
        ax.bar(labels, [r.tokens_per_s for *_, r in results], label="measured")
        ax.plot(
            labels, [r.limit_tokens_per_s for *_, r in results], "k_", markersize=30, label="bandwidth limit"
        )
        ax.set(ylabel="tokens / s", title="decode speed vs the memory-bandwidth limit")
        ax.legend()
    sections.append("![decode speed vs the bandwidth limit](decode-roofline.png)")
    write_json(
        out / "results.json",
        {
            "bandwidth_gb_s": bandwidth,
            "tokens": tokens,
            "configs": [
                {
                    "config": c,
                    "load_s": load_s,
                    "bytes_per_token": r.bytes_per_token,
                    "tokens_per_s": p.tokens_per_s,
                    "limit_tokens_per_s": r.limit_tokens_per_s,
                    "profiled_ms": p.profiled_ms,
                    "step_ms": p.step_ms,
                    "top": [vars(row) for row in p.top],
                }
                for c, load_s, p, r in results
            ],
        },
    )
    return write_report(out / "report.md", "Decode profile", sections)
