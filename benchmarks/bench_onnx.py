"""ONNX Runtime vs our PyTorch model on SmolLM2-135M: prompt (prefill) and decode tokens/s, batch 1.

The same weights run twice: as our `Llama` (float32 PyTorch, KV cache) and as the ONNX export with a
KV-cache input/output pair (`groundup.export.onnx`) on ONNX Runtime's CPU provider, both on one thread.
Prompt: the first 128 tokens of WikiText-2 test from an empty cache. Decode: 32 greedy tokens after
it, timed without the prompt (the two runtimes' tokens are compared). The two runtimes alternate, round by
round, and the medians are reported with the load average. No goal; `speedup` = ONNX Runtime's time /
ours (above 1: PyTorch is faster).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.harness import Report


def ort_decode(runner, prompt: list[int], n_tokens: int) -> tuple[list[int], float]:
    """(greedy tokens, decode tokens/s) on ONNX Runtime, the prompt's prefill not timed."""
    s = runner.spec
    empty = np.zeros((s.n_layers, 1, s.n_kv_heads, 0, s.head_dim), np.float32)
    logits, keys, values = runner.step(np.array([prompt], dtype=np.int64), empty, empty)
    out = []
    start = time.perf_counter()
    for _ in range(n_tokens):
        out.append(int(logits[0, -1].argmax()))
        logits, keys, values = runner.step(np.array([[out[-1]]], dtype=np.int64), keys, values)
    return out, n_tokens / (time.perf_counter() - start)


def run(report: Report, quick: bool) -> None:
    from groundup.data import smollm2_gguf_path
    from groundup.export import onnx as export
    from groundup.export.compare import greedy, wikitext_windows
    from groundup.models.llama import Llama
    from groundup.tokenizers.gguf import from_gguf

    torch.set_num_threads(1)
    model = Llama.from_gguf(smollm2_gguf_path())
    prompt_len, new_tokens, repeats = (32, 8, 2) if quick else (128, 32, 5)
    prompt = wikitext_windows(from_gguf(smollm2_gguf_path()), 1, prompt_len)  # (1, T)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        path = export.export_llama_with_cache(model, Path(tmp) / "smollm2.onnx")
        report.add(case="export SmolLM2 with KV cache", export_s=time.perf_counter() - start)
        runner = export.OnnxCausalLM(path, model.cache_spec, threads=1)
        s = model.cache_spec
        empty = np.zeros((s.n_layers, 1, s.n_kv_heads, 0, s.head_dim), np.float32)

        @torch.no_grad()
        def ours_prefill():
            model(prompt, kv_cache=model.new_cache(1, prompt_len + 1))

        def ort_prefill():
            runner.step(prompt.numpy(), empty, empty)

        ours_prefill(), ort_prefill()  # warm-up
        ids = prompt[0].tolist()
        times = {"ours": [], "ort": []}
        ours, theirs = [], []
        for _ in range(repeats):  # alternating rounds: the machine's load hits both alike
            times["ours"].append(timed(ours_prefill))
            times["ort"].append(timed(ort_prefill))
            ours.append(greedy(model, ids, new_tokens))
            theirs.append(ort_decode(runner, ids, new_tokens))
        ours_prefill_s, ort_prefill_s = statistics.median(times["ours"]), statistics.median(times["ort"])
        report.add(
            case=f"prompt {prompt_len} tokens", peer="onnxruntime", ours_tokens_per_s=prompt_len / ours_prefill_s,
            peer_tokens_per_s=prompt_len / ort_prefill_s, speedup=ort_prefill_s / ours_prefill_s,
            ours_times_s=times["ours"], peer_times_s=times["ort"], load_average=os.getloadavg()[0],
        )  # fmt: skip
        ours_speed = statistics.median(speed for _, speed in ours)
        ort_speed = statistics.median(speed for _, speed in theirs)
        report.add(
            case=f"decode {new_tokens} greedy tokens after the prompt", peer="onnxruntime",
            ours_tokens_per_s=ours_speed, peer_tokens_per_s=ort_speed, speedup=ours_speed / ort_speed,
            same_tokens=ours[0][0] == theirs[0][0], load_average=os.getloadavg()[0],
        )  # fmt: skip


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
