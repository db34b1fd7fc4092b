"""Profiling the decode step of a language model (curriculum 1.6): where a token's time goes.

    profile = profile_decode(model, prompt_ids, tokens=16, trace=Path("decode.json.gz"))
    profile.tokens_per_s        greedy decode speed outside the profiler
    profile.top                 operators by self CPU time per token (torch.profiler)
    profile.trace               a Chrome trace (open it in https://ui.perfetto.dev)

and the arithmetic that says how far a step is from the machine's limit. At batch 1 every weight is
read once per token, so

    tokens/s  <=  memory bandwidth / bytes read per token          (the roofline of decode)

`bytes_per_token(model)` counts what one step must read (every projection and the LM head, in the
form it is stored; an embedding lookup reads one row), `stream_bandwidth()` measures what one thread
can read from memory, and `Roofline` puts them side by side.

The model is any `CausalLM` (`model(ids, kv_cache=..., logits_index=...)`, `new_cache`): this module
sits at the bottom of the layers and takes the model as an argument.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch


@dataclass
class OpRow:
    """One operator of the profile, per decoded token."""

    name: str
    calls: float
    self_ms: float
    share: float  # of all self CPU time


@dataclass
class DecodeProfile:
    label: str
    tokens: int
    tokens_per_s: float
    step_ms: float
    profiled_ms: float  # self CPU time per token the profiler attributes to operators
    top: list[OpRow] = field(default_factory=list)
    trace: Path | None = None


def _prefill(model, prompt_ids, tokens: int):
    """(cache, next token) after the prompt, with room for `tokens` more."""
    cache = model.new_cache(1, len(prompt_ids) + tokens + 1)
    logits = model(torch.tensor([prompt_ids]), kv_cache=cache, logits_index=slice(-1, None))[:, -1]
    return cache, int(logits.argmax(-1))


def _steps(model, cache, token: int, tokens: int) -> int:
    """`tokens` greedy single-token steps through the cache; the last token."""
    for _ in range(tokens):
        token = int(model(torch.tensor([[token]]), kv_cache=cache)[:, -1].argmax(-1))
    return token


@torch.inference_mode()
def profile_decode(
    model,
    prompt_ids: list[int],
    tokens: int = 16,
    *,
    label: str = "",
    trace: Path | None = None,
    top: int = 15,
    profiled_tokens: int = 4,
) -> DecodeProfile:
    """Time `tokens` greedy steps (after a warm-up), then run `profiled_tokens` more under
    torch.profiler (the prompt's prefill is outside both). A trace path ending in .gz is compressed."""
    cache, token = _prefill(model, prompt_ids, tokens + profiled_tokens + 2)
    token = _steps(model, cache, token, 2)  # warm-up: first-call allocations, lazy kernel builds
    start = time.perf_counter()
    token = _steps(model, cache, token, tokens)
    step_s = (time.perf_counter() - start) / tokens
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        _steps(model, cache, token, profiled_tokens)
    if trace is not None:
        trace = Path(trace)
        trace.parent.mkdir(parents=True, exist_ok=True)
        prof.export_chrome_trace(str(trace))
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total_us = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    per_token = profiled_tokens
    rows = [
        OpRow(
            e.key,
            e.count / per_token,
            e.self_cpu_time_total / 1e3 / per_token,
            e.self_cpu_time_total / total_us,
        )
        for e in events[:top]
    ]
    return DecodeProfile(label, tokens, 1 / step_s, step_s * 1e3, total_us / 1e3 / per_token, rows, trace)


def bytes_per_token(model: torch.nn.Module) -> int:
    """Bytes a batch-1 decode step reads from weights: every module that multiplies by a whole weight
    (Linear, quantized layers: any module with `in_features`), in its stored form, once each
    (a tied head is counted once); embeddings read one row, counted as nothing."""
    seen, total = set(), 0
    for module in model.modules():
        if not hasattr(module, "in_features"):
            continue
        for t in list(module.parameters(recurse=False)) + list(module.buffers(recurse=False)):
            if t.data_ptr() in seen:
                continue
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size()
    return total


def stream_bandwidth(n_bytes: int = 256 * 2**20, repeats: int = 5) -> dict[str, float]:
    """What the calling thread(s) can move through memory, in GB/s (best of `repeats`): `read` sums a
    float32 array far larger than the caches (bytes read once), `copy` copies it (read + write)."""
    a = torch.ones(n_bytes // 4)
    b = torch.empty_like(a)
    best = {"read": 0.0, "copy": 0.0}
    for _ in range(repeats):
        start = time.perf_counter()
        a.sum()
        best["read"] = max(best["read"], n_bytes / (time.perf_counter() - start) / 1e9)
        start = time.perf_counter()
        b.copy_(a)
        best["copy"] = max(best["copy"], 2 * n_bytes / (time.perf_counter() - start) / 1e9)
    return best


@dataclass
class Roofline:
    """Measured decode speed against the memory-bandwidth limit of one decode step."""

    label: str
    bytes_per_token: int
    tokens_per_s: float
    read_gb_s: float

    @property
    def limit_tokens_per_s(self) -> float:
        return self.read_gb_s * 1e9 / self.bytes_per_token

    @property
    def effective_gb_s(self) -> float:
        """Weight bytes per second the decode actually moved."""
        return self.bytes_per_token * self.tokens_per_s / 1e9

    @property
    def fraction_of_limit(self) -> float:
        return self.tokens_per_s / self.limit_tokens_per_s
