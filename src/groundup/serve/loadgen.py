"""A load generator for OpenAI-compatible servers (`groundup loadtest`), measuring what serving papers
and vLLM's `benchmark_serving` measure.

Arrivals are a Poisson process at `rate` requests per second (exponential gaps, fixed seed), open
loop: a request is sent at its time whether or not earlier ones are done, so a server slower than the
offered load shows it as queueing (rising TTFT), not as a lower offered rate. Each request is a
streamed completion whose prompt and output lengths are drawn from log-normal distributions (a
ShareGPT-like mix, scaled for a CPU); the prompt is a run of words, `max_tokens` the drawn output
length (`ignore_eos` asks servers that know it, vLLM's extension, for exactly that many).

Per request: TTFT (send to first streamed text), the inter-token latencies between text chunks, TPOT
((end - first token) / (output tokens - 1)) and end-to-end latency. Per rate: their p50/p90/p99, the
output-token throughput, and goodput: the requests per second that met the SLO (TTFT and TPOT
under their bounds) — the quantity a deployment is sized by (DistServe, Zhong et al. 2024).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import asdict, dataclass, field

import httpx

WORDS = "the cat sat on a mat while two dogs ran past an old red barn near the river".split()


@dataclass
class RequestSpec:
    send_at: float  # seconds after the run starts
    prompt: str
    max_tokens: int


@dataclass
class RequestResult:
    ok: bool
    ttft: float = float("nan")
    e2e: float = float("nan")
    output_tokens: int = 0
    itls: list[float] = field(default_factory=list)
    error: str = ""

    @property
    def tpot(self) -> float:
        if self.output_tokens < 2:
            return float("nan")
        return (self.e2e - self.ttft) / (self.output_tokens - 1)


def workload(rate: float, count: int, seed: int = 0, prompt_words=48, output_tokens=32) -> list[RequestSpec]:
    """`count` requests with Poisson arrivals at `rate`/s; log-normal lengths around the medians."""
    rng = random.Random(seed)
    t, specs = 0.0, []
    for _ in range(count):
        t += rng.expovariate(rate)
        n_words = max(4, min(256, int(rng.lognormvariate(_log(prompt_words), 0.6))))
        n_out = max(4, min(128, int(rng.lognormvariate(_log(output_tokens), 0.5))))
        prompt = " ".join(rng.choice(WORDS) for _ in range(n_words))
        specs.append(RequestSpec(t, prompt, n_out))
    return specs


def _log(x: float) -> float:
    import math

    return math.log(x)


async def one_request(client: httpx.AsyncClient, url: str, model: str, spec: RequestSpec) -> RequestResult:
    """Stream one completion; time its first text and each later chunk."""
    body = {
        "model": model,
        "prompt": spec.prompt,
        "max_tokens": spec.max_tokens,
        "temperature": 0,
        "stream": True,
        "ignore_eos": True,
        "stream_options": {"include_usage": True},
    }
    start = time.perf_counter()
    result, last, chunks, usage = RequestResult(ok=False), None, 0, None
    try:
        async with client.stream("POST", url + "/v1/completions", json=body) as r:
            if r.status_code != 200:
                result.error = f"HTTP {r.status_code}: {(await r.aread())[:200]!r}"
                return result
            async for line in r.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                usage = chunk.get("usage") or usage
                if not any(c.get("text") for c in chunk.get("choices") or []):
                    continue
                now = time.perf_counter()
                if last is None:
                    result.ttft = now - start
                else:
                    result.itls.append(now - last)
                last, chunks = now, chunks + 1
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    result.e2e = time.perf_counter() - start
    result.output_tokens = (usage or {}).get("completion_tokens") or chunks
    result.ok = chunks > 0
    return result


async def run_load(
    url: str, model: str, specs: list[RequestSpec], timeout: float = 600.0
) -> list[RequestResult]:
    limits = httpx.Limits(max_connections=1024, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        start = time.perf_counter()

        async def at_time(spec):
            await asyncio.sleep(max(0.0, spec.send_at - (time.perf_counter() - start)))
            return await one_request(client, url, model, spec)

        return list(await asyncio.gather(*(at_time(s) for s in specs)))


def percentile(values: list[float], q: float) -> float:
    values = sorted(v for v in values if v == v)  # drop NaN
    if not values:
        return float("nan")
    k = (len(values) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


@dataclass
class Summary:
    rate: float
    requests: int
    completed: int
    duration_s: float
    throughput_tok_s: float
    goodput_req_s: float
    slo_attained: float
    ttft_p50: float
    ttft_p90: float
    ttft_p99: float
    tpot_p50: float
    tpot_p90: float
    tpot_p99: float
    itl_p50: float
    itl_p99: float
    e2e_p50: float
    e2e_p90: float
    e2e_p99: float


def summarize(
    rate: float, results: list[RequestResult], duration: float, slo_ttft: float, slo_tpot: float
) -> Summary:
    ok = [r for r in results if r.ok]
    good = [r for r in ok if r.ttft <= slo_ttft and (r.tpot != r.tpot or r.tpot <= slo_tpot)]
    ttft, tpot, e2e = [r.ttft for r in ok], [r.tpot for r in ok], [r.e2e for r in ok]
    itl = [x for r in ok for x in r.itls]
    return Summary(
        rate=rate,
        requests=len(results),
        completed=len(ok),
        duration_s=duration,
        throughput_tok_s=sum(r.output_tokens for r in ok) / duration,
        goodput_req_s=len(good) / duration,
        slo_attained=len(good) / max(1, len(results)),
        **{f"ttft_p{q}": percentile(ttft, q) for q in (50, 90, 99)},
        **{f"tpot_p{q}": percentile(tpot, q) for q in (50, 90, 99)},
        itl_p50=percentile(itl, 50),
        itl_p99=percentile(itl, 99),
        **{f"e2e_p{q}": percentile(e2e, q) for q in (50, 90, 99)},
    )


def sweep(
    url: str, model: str, rates: list[float], count: int, slo_ttft: float, slo_tpot: float, seed: int = 0
) -> list[Summary]:
    """One open-loop run per rate (the same seeded mix at each); a summary each."""
    out = []
    for rate in rates:
        specs = workload(rate, count, seed)
        start = time.perf_counter()
        results = asyncio.run(run_load(url, model, specs))
        out.append(summarize(rate, results, time.perf_counter() - start, slo_ttft, slo_tpot))
    return out


COLUMNS = [
    ("rate", "req/s", "{:.2f}"),
    ("completed", "done", "{:d}"),
    ("throughput_tok_s", "tok/s", "{:.1f}"),
    ("goodput_req_s", "goodput", "{:.2f}"),
    ("slo_attained", "SLO %", "{:.0%}"),
    ("ttft_p50", "TTFT p50", "{:.2f}"),
    ("ttft_p90", "p90", "{:.2f}"),
    ("ttft_p99", "p99", "{:.2f}"),
    ("tpot_p50", "TPOT p50", "{:.3f}"),
    ("tpot_p99", "p99", "{:.3f}"),
    ("itl_p99", "ITL p99", "{:.3f}"),
    ("e2e_p50", "E2E p50", "{:.2f}"),
    ("e2e_p99", "p99", "{:.2f}"),
]


def table(rows: list[dict], label_key: str | None = None) -> str:
    """A Markdown table of summaries (seconds unless said); `label_key` adds a first column."""
    head = ([label_key] if label_key else []) + [h for _, h, _ in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [str(row[label_key])] if label_key else []
        cells += [fmt.format(row[key]) if row[key] == row[key] else "-" for key, _, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(series: dict[str, list[dict]], path) -> None:
    """Latency vs offered load: TTFT p50/p99 and TPOT p50 against the rate, one line per server."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for name, rows in series.items():
        rates = [r["rate"] for r in rows]
        axes[0].plot(rates, [r["ttft_p50"] for r in rows], "o-", label=f"{name} p50")
        axes[0].plot(rates, [r["ttft_p99"] for r in rows], "x--", label=f"{name} p99")
        axes[1].plot(rates, [r["tpot_p50"] for r in rows], "o-", label=name)
        axes[2].plot(rates, [r["throughput_tok_s"] for r in rows], "o-", label=name)
    for ax, title in zip(axes, ("TTFT (s)", "TPOT p50 (s/token)", "output tokens/s")):
        ax.set_xlabel("offered load (requests/s)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def as_dicts(summaries: list[Summary]) -> list[dict]:
    return [asdict(s) for s in summaries]
