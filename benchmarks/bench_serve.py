"""Serving engine: throughput, TTFT/TPOT vs one-at-a-time transformers and static batching; KV waste; speculative speedup.

All on the bundled SmolLM2-135M (float32, CPU) with one torch thread for every contender (on a
shared, loaded machine extra OpenMP threads only spin). Requests follow a ShareGPT-like mix:
log-normal prompt and output lengths drawn from a fixed seed, prompts cut from tiny shakespeare
(random token ids without $GROUNDUP_DATA), outputs forced to their drawn length (ignore EOS), as
vLLM's benchmark does. Clients are a closed loop of `concurrency` requests in flight, driven
in-process (no HTTP), so the numbers are the engine's.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from groundup.data import smollm2_gguf_path
from groundup.generate import SamplingParams
from groundup.serve.engine import Engine, EngineConfig

CONTIGUOUS_MAX_LEN = 2048  # what a contiguous cache reserves per sequence (a common max-model-len)


def workload(n: int, tokenizer, seed: int = 0) -> list[tuple[list[int], int]]:
    """(prompt ids, output length) pairs: log-normal lengths like ShareGPT's, scaled for a CPU."""
    rng = np.random.default_rng(seed)
    try:
        from groundup.data import load_text

        ids = tokenizer.encode(load_text("tinyshakespeare")[:200_000])
    except Exception:  # no corpus: random ids from the vocabulary
        ids = rng.integers(100, 40_000, 60_000).tolist()
    out = []
    for _ in range(n):
        p_len = int(np.clip(rng.lognormal(np.log(48), 0.8), 8, 256))
        o_len = int(np.clip(rng.lognormal(np.log(24), 0.6), 8, 64))
        start = int(rng.integers(0, len(ids) - p_len))
        out.append((ids[start : start + p_len], o_len))
    return out


def percentile(values, q):
    return float(np.percentile(values, q)) if values else float("nan")


def run_closed_loop(engine: Engine, requests, concurrency: int, sample_waste: bool = False) -> dict:
    """Keep `concurrency` requests in flight until all are done; latency and throughput figures."""
    pending = list(requests)
    live, done, waste = [], [], []
    t0 = time.perf_counter()
    while pending or live:
        while pending and len(live) < concurrency:
            prompt, n = pending.pop(0)
            live.append(
                engine.add_request(prompt, SamplingParams(temperature=0, max_tokens=n, ignore_eos=True))
            )
        engine.step()
        if sample_waste:
            waste.append(kv_usage(engine))
        done += [s for s in live if s.is_finished]
        live = [s for s in live if not s.is_finished]
    elapsed = time.perf_counter() - t0
    tokens = sum(len(s.output_ids) for s in done)
    ttft = [s.first_token_time - s.arrival_time for s in done]
    tpot = [
        (s.last_token_time - s.first_token_time) / (len(s.output_ids) - 1)
        for s in done
        if len(s.output_ids) > 1
    ]
    row = dict(
        elapsed_s=elapsed,
        tokens=tokens,
        tokens_per_s=tokens / elapsed,
        ttft_p50_s=percentile(ttft, 50),
        ttft_p99_s=percentile(ttft, 99),
        tpot_p50_s=percentile(tpot, 50),
        tpot_p99_s=percentile(tpot, 99),
        outputs=[s.output_ids for s in done],
        preemptions=engine.metrics.preemptions,
    )
    if waste:
        alloc = sum(a for a, _, _ in waste)
        used = sum(u for _, u, _ in waste)
        contiguous = sum(c for _, _, c in waste)
        row.update(paged_waste=(alloc - used) / alloc, contiguous_waste=(contiguous - used) / contiguous)
    return row


def kv_usage(engine: Engine) -> tuple[int, int, int]:
    """(slots allocated to running sequences, slots holding tokens, slots a contiguous cache reserves)."""
    running = engine.scheduler.running
    bs = engine.config.block_size
    blocks = {b for s in running for b in s.block_table}  # shared prefix blocks count once
    used = sum(len(s) for s in running)
    return len(blocks) * bs, min(used, len(blocks) * bs), len(running) * CONTIGUOUS_MAX_LEN


def kv_waste_by_block_size(tokenizer, quick: bool) -> list[dict]:
    """KV waste at concurrency 16 for several block sizes. Allocation depends only on lengths
    (outputs are forced to their drawn length), so a tiny random Llama with SmolLM2's vocabulary
    stands in for the real one and the sweep takes seconds."""
    from groundup.models.llama import Llama, LlamaConfig

    torch.manual_seed(0)
    tiny = Llama(
        LlamaConfig(
            vocab_size=tokenizer.vocab_size,
            dim=32,
            n_layers=2,
            n_heads=4,
            n_kv_heads=2,
            hidden_dim=64,
            max_context=2048,
        )
    ).eval()
    reqs = workload(16 if quick else 64, tokenizer, seed=16)
    rows = []
    for bs in (4, 8, 16, 32):
        engine = Engine(tiny, EngineConfig(num_blocks=4096 // bs * 16, block_size=bs, max_running=16))
        r = run_closed_loop(engine, reqs, 16, sample_waste=True)
        rows.append(
            dict(
                case=f"kv waste block_size {bs}",
                kv_waste_paged=r["paged_waste"],
                kv_waste_contiguous=r["contiguous_waste"],
            )
        )
    return rows


def hf_one_at_a_time(hf, requests) -> dict:
    """transformers' generate, one request after another (greedy, forced lengths)."""
    t0 = time.perf_counter()
    tokens = 0
    for prompt, n in requests:
        ids = torch.tensor([prompt])
        out = hf.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=n,
            min_new_tokens=n,
            do_sample=False,
            pad_token_id=0,
        )
        tokens += out.shape[1] - len(prompt)
    elapsed = time.perf_counter() - t0
    return dict(elapsed_s=elapsed, tokens=tokens, tokens_per_s=tokens / elapsed)


def speculative_case(model, tokenizer, prompt_text: str, max_tokens: int, mode: str) -> dict:
    """Greedy single request with and without speculation: speedup, acceptance, identical outputs."""
    from groundup.generate.chat import render_chat

    prompt = tokenizer.encode(
        render_chat(tokenizer.chat_template, [{"role": "user", "content": prompt_text}])
    )
    params = SamplingParams(temperature=0, max_tokens=max_tokens)
    times, outs, rates = {}, {}, {}
    for spec in (None, mode):
        engine = Engine(
            model,
            EngineConfig(num_blocks=256, speculative=spec, num_speculative_tokens=6),
            eos_token_ids=[tokenizer.eos_token_id],
        )
        t0 = time.perf_counter()
        (seq,) = engine.generate([prompt], params)
        times[spec] = time.perf_counter() - t0
        outs[spec] = seq.output_ids
        rates[spec] = seq.num_accepted / seq.num_drafted if seq.num_drafted else 0.0
    return dict(
        speedup=times[None] / times[mode],
        plain_s=times[None],
        speculative_s=times[mode],
        acceptance_rate=rates[mode],
        tokens=len(outs[None]),
        identical_outputs=outs[None] == outs[mode],
    )


SOURCE_TEXT = (
    "The engine keeps the keys and values of every sequence in fixed-size blocks. A block table maps "
    "each position of a sequence to its block, so memory is allocated as the sequence grows and freed "
    "the moment it finishes. Requests that share a system prompt share its blocks. When memory runs "
    "out, the newest request is preempted and recomputed later."
)


def run(report, quick: bool) -> None:
    from groundup.models.llama import Llama
    from groundup.tokenizers import from_gguf

    torch.set_num_threads(1)
    report.env["torch_threads"] = 1  # what every contender below runs with
    path = smollm2_gguf_path()
    model = Llama.from_gguf(path)
    tokenizer = from_gguf(path)
    levels = [1, 4, 16] if quick else [1, 4, 16, 32]
    n_requests = {1: 2, 4: 8, 16: 16} if quick else {1: 3, 4: 8, 16: 32, 32: 64}

    # (a) the peer: transformers one request at a time, on the first requests of the mix
    import transformers

    hf = transformers.AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32
    ).eval()
    hf_reqs = workload(n_requests[1], tokenizer, seed=1)
    with torch.inference_mode():
        hf_row = hf_one_at_a_time(hf, hf_reqs)
    del hf
    report.add(case="transformers one-at-a-time", **hf_row)
    print(report.rows[-1], file=sys.stderr, flush=True)
    ours_single = run_closed_loop(Engine(model, EngineConfig(num_blocks=1024)), hf_reqs, 1)
    report.add(
        case="ours one-at-a-time",
        elapsed_s=ours_single["elapsed_s"],
        tokens=ours_single["tokens"],
        tokens_per_s=ours_single["tokens_per_s"],
        ttft_p50_s=ours_single["ttft_p50_s"],
    )

    for c in levels:
        reqs = workload(n_requests[c], tokenizer, seed=c)
        row = {}
        for label, continuous in (("continuous", True), ("static", False)):
            engine = Engine(
                model, EngineConfig(num_blocks=1024, max_running=max(c, 1), continuous=continuous)
            )
            row[label] = run_closed_loop(engine, reqs, c, sample_waste=continuous)
            print(
                f"concurrency {c} {label}: {row[label]['tokens_per_s']:.2f} tok/s",
                file=sys.stderr,
                flush=True,
            )
        cont, stat = row["continuous"], row["static"]
        report.add(
            case=f"concurrency {c}",
            tokens_per_s=cont["tokens_per_s"],
            static_tokens_per_s=stat["tokens_per_s"],
            vs_static=cont["tokens_per_s"] / stat["tokens_per_s"],
            vs_transformers_one_at_a_time=cont["tokens_per_s"] / hf_row["tokens_per_s"],
            ttft_p50_s=cont["ttft_p50_s"],
            ttft_p99_s=cont["ttft_p99_s"],
            tpot_p50_s=cont["tpot_p50_s"],
            tpot_p99_s=cont["tpot_p99_s"],
            static_ttft_p99_s=stat["ttft_p99_s"],
            kv_waste_paged=cont["paged_waste"],
            kv_waste_contiguous=cont["contiguous_waste"],
            same_outputs_as_static=sorted(cont["outputs"]) == sorted(stat["outputs"]),
            requests=len(reqs),
        )

    for row in kv_waste_by_block_size(tokenizer, quick):
        report.add(**row)

    repetitive = f"Repeat this text word for word:\n\n{SOURCE_TEXT}"
    free = "Write a short story about a lighthouse keeper who finds a message in a bottle."
    for mode in ("ngram", "draft"):
        for name, text in (("repetitive", repetitive), ("free", free)):
            row = speculative_case(model, tokenizer, text, 48 if quick else 64, mode)
            report.add(case=f"speculative {mode} {name}", **row)
            print(report.rows[-1], file=sys.stderr, flush=True)


# -- over HTTP: Poisson load against servers (issue 24, items 5 and 6) ----------------------------------
# `python -m benchmarks.bench_serve http OUT [--quick]`: groundup serve alone, two replicas behind
# `groundup route`, llama-cpp-python's server and (when `llama-server` is on PATH) llama.cpp's own
# server, all on the bundled SmolLM2 GGUF at one thread per process, each under the same seeded
# open-loop Poisson load (serve/loadgen.py). Writes OUT/serve_http.json, OUT/serve_http.md (the SLO
# tables) and OUT/serve_http.png (latency vs load).
SLO_TTFT, SLO_TPOT = 2.0, 0.1  # seconds; a chat assistant's: the first words within 2 s, then 10+ tok/s


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], url: str, env=None, timeout: float = 300):
    """Start a server process and wait until `url` answers (any status); the Popen."""
    import os
    import subprocess

    import httpx

    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})}
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=5)
            return proc
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"{cmd[:4]} did not start") from None
            time.sleep(0.5)


def groundup_replica(gguf: str):
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "groundup",
        "serve",
        "--model",
        gguf,
        "--model-name",
        "m",
        "--port",
        str(port),
    ]
    cmd += ["--threads", "1", "--max-running", "32"]
    return start(cmd, f"http://127.0.0.1:{port}/health", {"OMP_NUM_THREADS": "1"}), f"http://127.0.0.1:{port}"


def llama_cpp_python_server(gguf: str):
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        gguf,
        "--model_alias",
        "m",
        "--port",
        str(port),
    ]
    cmd += ["--n_threads", "1", "--n_threads_batch", "1", "--n_ctx", "4096"]
    return start(cmd, f"http://127.0.0.1:{port}/v1/models"), f"http://127.0.0.1:{port}"


def llama_server(gguf: str):
    import shutil

    exe = shutil.which("llama-server")
    if exe is None:
        return None, "llama-server is not on PATH (build it with cmake from the llama.cpp source)"
    port = free_port()
    cmd = [exe, "-m", gguf, "--port", str(port), "-t", "1", "-tb", "1", "-np", "16", "-c", "16384", "-a", "m"]
    return (start(cmd, f"http://127.0.0.1:{port}/health"), f"http://127.0.0.1:{port}"), None


def http_sweep(out: str, quick: bool = False) -> dict:
    import json
    import os
    from pathlib import Path

    from groundup.serve import loadgen
    from groundup.serve.router import Router
    from groundup.serve.server import BackgroundServer

    gguf = str(smollm2_gguf_path())
    rates = [0.5, 1.0, 2.0] if quick else [0.5, 1.0, 2.0, 4.0]
    count = 12 if quick else 24
    procs, series, notes = [], {}, []

    def measure(name: str, url: str) -> None:
        rows = loadgen.as_dicts(loadgen.sweep(url, "m", rates, count, SLO_TTFT, SLO_TPOT))
        for r in rows:
            r["load_avg_1m"] = os.getloadavg()[0]
        series[name] = rows
        print(f"\n{name}\n{loadgen.table(rows)}", file=sys.stderr, flush=True)

    try:
        a, url_a = groundup_replica(gguf)
        procs.append(a)
        measure("groundup 1 replica", url_a)
        b, url_b = groundup_replica(gguf)
        procs.append(b)
        with BackgroundServer(Router([url_a, url_b]).app) as router_url:
            measure("groundup 2 replicas + router", router_url)
        for p in procs:
            p.kill()
            p.wait()
        procs.clear()
        try:
            peer, url = llama_cpp_python_server(gguf)
            procs.append(peer)
            measure("llama-cpp-python server", url)
            peer.kill()
            peer.wait()
            procs.clear()
        except Exception as exc:  # not installed, or its server extras missing
            notes.append(f"llama-cpp-python server skipped: {exc}")
        started, why = llama_server(gguf)
        if started:
            procs.append(started[0])
            measure("llama-server -np 16", started[1])
        else:
            notes.append(f"llama-server skipped: {why}")
    finally:
        for p in procs:
            p.kill()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"slo": {"ttft_s": SLO_TTFT, "tpot_s": SLO_TPOT}, "requests_per_rate": count, "series": series}
    result["notes"] = notes
    (out / "serve_http.json").write_text(json.dumps(result, indent=1))
    md = [f"SLO: TTFT <= {SLO_TTFT} s and TPOT <= {SLO_TPOT} s; {count} requests per rate.", *notes]
    for name, rows in series.items():
        md += ["", f"**{name}** (load average {rows[0]['load_avg_1m']:.1f}-{rows[-1]['load_avg_1m']:.1f})"]
        md += ["", loadgen.table(rows)]
    (out / "serve_http.md").write_text("\n".join(md) + "\n")
    loadgen.plot(series, out / "serve_http.png")
    print("\n".join(md))
    return result


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "http":
        http_sweep(sys.argv[2], quick="--quick" in sys.argv)
    else:
        print("usage: python -m benchmarks.bench_serve http OUT [--quick]", file=sys.stderr)
        raise SystemExit(2)
