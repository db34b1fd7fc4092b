"""Quantized runtime vs llama.cpp on SmolLM2-135M: decode and prompt tokens/s, load time, peak RSS.

Every engine runs on the same bundled GGUF file, each measurement in a fresh process (so one engine's
caches and allocator state cannot help or hurt the next), engines alternating within each round,
at least 3 rounds; the table holds medians over rounds. Engines: groundup with each weight form
(`float32`: everything dequantized; `auto`: Q4_1 -> int4, Q8_0 -> int8, our fused kernel, the single-token
step in C (`models/native_decode.py`); `auto:eager`: the same with PyTorch's step; `auto:dot8`:
the same weights through our int8-activation kernel, llama.cpp's method; `int8`; `int4`) and llama.cpp through llama-cpp-python (skipped with the reason when it does not import).
Other builds of the same llama.cpp version run as extra peers: `GROUNDUP_LLAMA_CPP_BUILDS=avx512=DIR,...`
adds an engine `llama.cpp:avx512` that loads DIR's libllama/libggml (llama-cpp-python's
`LLAMA_CPP_LIB_PATH`), e.g. a build with AVX-512 kernels beside the installed portable one.

Decode: greedy, batch 1, 128 new tokens (32 with --quick) after a 5-token prompt, EOS ignored.
Prompt: one prefill of 512 tokens (128 with --quick) to the last position's logits. Threads: 1 (and
2 without --quick; on a shared 2-core machine the 2-thread figures are unreliable).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINES = (
    "ours:float32",
    "ours:auto:eager",
    "ours:auto",
    "ours:auto:dot8",
    "ours:int8",
    "ours:int4",
    "llama.cpp",
)
PROMPT = [504, 3575, 282, 4649, 314]  # "The capital of France is"


PROBE = """
import llama_cpp
from groundup.data import smollm2_gguf_path
llm = llama_cpp.Llama(str(smollm2_gguf_path()), n_ctx=64, n_threads=1, verbose=False)
llm.eval([1, 2, 3])
"""


def extra_llama_cpp_builds() -> dict[str, str]:
    """{"llama.cpp:LABEL": library folder} from GROUNDUP_LLAMA_CPP_BUILDS="LABEL=DIR,LABEL=DIR"."""
    builds = {}
    for item in filter(None, os.environ.get("GROUNDUP_LLAMA_CPP_BUILDS", "").split(",")):
        label, sep, folder = item.partition("=")
        if not sep or not Path(folder).is_dir():
            raise SystemExit(f"GROUNDUP_LLAMA_CPP_BUILDS: expected LABEL=DIR with DIR a folder, got {item!r}")
        builds[f"llama.cpp:{label}"] = folder
    return builds


def engine_env(engine: str) -> dict[str, str]:
    """The environment of a worker: our sources first, an extra llama.cpp build's libraries if named."""
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}")
    folder = extra_llama_cpp_builds().get(engine)
    if folder:
        env["LLAMA_CPP_LIB_PATH"] = folder
    return env


def llama_cpp_missing(engine: str = "llama.cpp") -> str | None:
    """Why the llama.cpp rows cannot run, or None: it must import and evaluate three tokens (in a
    separate process: a broken build crashes its process instead of raising)."""
    env = engine_env(engine)
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return None
    tail = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
    if done.returncode < 0:
        tail = f"the probe died of signal {-done.returncode} in llama_cpp.Llama.eval (a broken build?)"
    return f"llama-cpp-python cannot run here ({tail}); install it with `pip install llama-cpp-python`"


def run(report, quick: bool) -> None:
    rounds = 3
    threads = [1] if quick else [1, 2]
    decode, prompt = (32, 128) if quick else (128, 512)
    engines = list(ENGINES) + list(extra_llama_cpp_builds())
    skipped = {}
    for peer in [e for e in engines if e.startswith("llama.cpp")]:
        reason = llama_cpp_missing(peer)
        if reason:
            engines.remove(peer)
            skipped[peer] = reason
            print(f"skipping {peer}: {reason}", file=sys.stderr)
    for t in threads:
        results: dict[str, list[dict]] = {e: [] for e in engines}
        for r in range(rounds):
            for engine in engines if r % 2 == 0 else engines[::-1]:  # alternate the order too
                results[engine].append(worker_in_fresh_process(engine, t, decode, prompt))
        for engine in engines:
            report.add(case=f"{engine} {t} thread(s)", engine=engine, threads=t, **medians(results[engine]))
    add_ratios(report, threads, [e for e in engines if e.startswith("llama.cpp")])
    for peer, reason in skipped.items():
        report.add(case=peer, skipped=reason)


def medians(samples: list[dict]) -> dict:
    keys = ("decode_tokens_per_s", "decode_cpu_tokens_per_s", "prompt_tokens_per_s", "load_s", "peak_rss_mb")
    row = {k: statistics.median(s[k] for s in samples) for k in keys}
    row["decode_rounds"] = [round(s["decode_tokens_per_s"], 1) for s in samples]
    row["load_avg_1m"] = os.getloadavg()[0]
    return row


def add_ratios(report, threads: list[int], peers: list[str]) -> None:
    """Each of our engines against our float32 and against every llama.cpp build that ran."""
    rows = {r["case"]: r for r in report.rows if "engine" in r}
    for t in threads:
        base = rows.get(f"ours:float32 {t} thread(s)")
        for engine in ("ours:auto:eager", "ours:auto", "ours:auto:dot8", "ours:int8", "ours:int4"):
            row = rows.get(f"{engine} {t} thread(s)")
            if row is None:
                continue
            ratios = {"vs_float32_decode": row["decode_tokens_per_s"] / base["decode_tokens_per_s"]}
            for name in peers:
                peer = rows[f"{name} {t} thread(s)"]
                key = name.replace("llama.cpp", "llama_cpp").replace(":", "_")
                ratios[f"vs_{key}_decode"] = row["decode_tokens_per_s"] / peer["decode_tokens_per_s"]
                ratios[f"vs_{key}_prompt"] = row["prompt_tokens_per_s"] / peer["prompt_tokens_per_s"]
            report.add(case=f"{engine} {t} thread(s) ratios", **ratios)


def worker_in_fresh_process(engine: str, threads: int, decode: int, prompt: int) -> dict:
    env = dict(engine_env(engine), OMP_NUM_THREADS=str(threads))
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.bench_quant_runtime",
        engine,
        str(threads),
        str(decode),
        str(prompt),
    ]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{engine} worker failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- the workers (one engine, one process) ---------------------------------------------------------


def measure_ours(form: str, threads: int, decode: int, prompt: int) -> dict:
    import torch

    from groundup.data import smollm2_gguf_path
    from groundup.generate import SamplingParams, generate
    from groundup.models.llama import Llama
    from groundup.models.quantized import use_kernel
    from groundup.profiling import PeakRSS

    torch.set_num_threads(threads)
    eager = form.endswith(":eager")  # PyTorch's single-token step instead of the native one
    form, _, kernel = form.removesuffix(":eager").partition(":")  # e.g. auto:dot8
    with PeakRSS() as mem:
        start = time.perf_counter()
        model = Llama.from_gguf(smollm2_gguf_path(), weights=form)
        if kernel:
            use_kernel(model, kernel)
        if eager:
            model.decode_step = None
        load_s = time.perf_counter() - start
    params = SamplingParams(temperature=0, max_tokens=decode, ignore_eos=True)
    generate(model, PROMPT, SamplingParams(temperature=0, max_tokens=4, ignore_eos=True))  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    out = generate(model, PROMPT, params)
    decode_s, decode_cpu = time.perf_counter() - start, time.process_time() - cpu
    assert len(out.token_ids) == decode
    ids = torch.randint(100, 40000, (1, prompt), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        model(ids[:, :16], kv_cache=model.new_cache(1, 17), logits_index=slice(-1, None))  # warm-up
        start = time.perf_counter()
        model(ids, kv_cache=model.new_cache(1, prompt + 1), logits_index=slice(-1, None))
        prompt_s = time.perf_counter() - start
    return result(decode / decode_s, decode / decode_cpu, prompt / prompt_s, load_s, mem.peak_mb)


def measure_llama_cpp(threads: int, decode: int, prompt: int) -> dict:
    import llama_cpp
    import numpy as np

    from groundup.data import smollm2_gguf_path
    from groundup.profiling import PeakRSS

    with PeakRSS() as mem:
        start = time.perf_counter()
        llm = llama_cpp.Llama(
            str(smollm2_gguf_path()),
            n_ctx=prompt + decode + 64,
            n_batch=prompt,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )
        load_s = time.perf_counter() - start
    vocab = llm.n_vocab()

    def greedy(n: int) -> None:
        llm.reset()
        llm.eval(PROMPT)
        for _ in range(n):
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(vocab,))
            llm.eval([int(logits.argmax())])

    greedy(4)  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    greedy(decode)
    decode_s, decode_cpu = time.perf_counter() - start, time.process_time() - cpu
    ids = np.random.default_rng(0).integers(100, 40000, prompt).tolist()
    llm.reset()
    llm.eval(ids[:16])  # warm-up
    llm.reset()
    start = time.perf_counter()
    llm.eval(ids)
    prompt_s = time.perf_counter() - start
    return result(decode / decode_s, decode / decode_cpu, prompt / prompt_s, load_s, mem.peak_mb)


def result(
    decode_tps: float, decode_cpu_tps: float, prompt_tps: float, load_s: float, peak_mb: float
) -> dict:
    """Decode tokens/s in wall time and in the process's CPU time (less distorted on a loaded machine)."""
    return {
        "decode_tokens_per_s": decode_tps,
        "decode_cpu_tokens_per_s": decode_cpu_tps,
        "prompt_tokens_per_s": prompt_tps,
        "load_s": load_s,
        "peak_rss_mb": peak_mb,
    }


def worker(argv: list[str]) -> None:
    engine, threads, decode, prompt = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    if engine.startswith("llama.cpp"):
        out = measure_llama_cpp(threads, decode, prompt)
    else:
        out = measure_ours(engine.removeprefix("ours:"), threads, decode, prompt)
    print(json.dumps(out))


if __name__ == "__main__":
    worker(sys.argv[1:])
