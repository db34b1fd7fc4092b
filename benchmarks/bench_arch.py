"""Modern architectures (curriculum 3.4): flash attention, scans and recurrent decoding, on CPU.

Cases:
  attention T=...   our tiled flash attention (PyTorch, forward) vs torch's fused SDPA and vs naive
                    attention (the T x T scores), causal, 4 heads x 64, batch 1: median time and the
                    peak bytes of the tensors each allocates (`profiling.tensor_memory`); the
                    crossover is where ours stops being slower than naive.
  scan T=...        Mamba's associative (parallel) scan vs the sequential loop, (B=4, T, 64, 16).
  decode ...        RetNet and RWKV at generation time: seconds per new token after P tokens, through
                    the recurrent state (flat in P) vs recomputing the parallel form over all P + 1
                    tokens (growing in P).
speedup = peer time / our time (above 1: ours faster). One torch thread; the machine load is recorded.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from benchmarks.harness import Report
from groundup.models.flash_attention import flash_attention, naive_attention
from groundup.models.mamba import scan_parallel, scan_sequential
from groundup.models.retnet import RetNet, RetNetConfig
from groundup.models.rwkv import RWKV, RWKVConfig
from groundup.profiling.tensor_memory import peak_tensor_bytes


def run(report: Report, quick: bool) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    report.env["torch_threads"] = 1
    try:
        with torch.no_grad():
            attention_cases(report, (256, 512, 1024) if quick else (256, 512, 1024, 2048, 4096), quick)
            scan_cases(report, (64, 256) if quick else (64, 256, 1024))
            decode_cases(report, (32, 128) if quick else (32, 128, 512))
    finally:
        torch.set_num_threads(threads)


def attention_cases(report: Report, lengths, quick: bool) -> None:
    repeats = 3 if quick else 5
    for T in lengths:
        q, k, v = (torch.randn(1, 4, T, 64) for _ in range(3))
        ours = partial(flash_attention, q, k, v, causal=True)
        ours_mb = peak_tensor_bytes(ours) / 2**20
        for peer_name, peer in (
            ("naive", partial(naive_attention, q, k, v, causal=True)),
            ("sdpa", partial(F.scaled_dot_product_attention, q, k, v, is_causal=True)),
        ):
            report.compare(
                f"attention T={T}",
                ours,
                peer,
                peer_name=peer_name,
                work=T,
                unit="tokens",
                repeats=repeats,
                ours_tensor_mb=ours_mb,
                peer_tensor_mb=peak_tensor_bytes(peer) / 2**20,
            )


def scan_cases(report: Report, lengths) -> None:
    for T in lengths:
        a, b = torch.rand(4, T, 64, 16), torch.randn(4, T, 64, 16)
        report.compare(
            f"scan T={T}",
            partial(scan_parallel, a, b),
            partial(scan_sequential, a, b),
            peer_name="sequential loop",
            work=T,
            unit="steps",
        )


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


def decode_cases(report: Report, prefixes) -> None:
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
            report.compare(
                f"decode {name} P={P}",
                per_token(model, P, recurrent=True),
                per_token(model, P, recurrent=False),
                peer_name="parallel form, no state",
                work=1,
                unit="tokens",
            )
