"""Llama runtime on SmolLM2-135M (float32): decode and prompt tokens/s, load time, memory vs transformers.

Both models come from the same bundled GGUF, dequantized to float32, and run one after the other in
this process with the same torch thread count. Decode: greedy generation of 128 new tokens (EOS
ignored) after a short prompt, batch 1, each side with its own KV cache. Prompt: one prefill of a
512-token prompt producing the last position's logits (what generation needs). Load: building the
model from the GGUF file.
"""

from __future__ import annotations

import time

import torch

from benchmarks.harness import Report
from groundup.data import smollm2_gguf_path
from groundup.generate import SamplingParams, generate
from groundup.models.llama import Llama
from groundup.profiling import PeakRSS

THREADS = 1  # the shared 2-core machine: two threads per process spin against the neighbours


def run(report: Report, quick: bool) -> None:
    import transformers

    torch.set_num_threads(THREADS)
    path = smollm2_gguf_path()

    def load_ours():
        return Llama.from_gguf(path)

    def load_peer():
        return transformers.AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, dtype=torch.float32
        ).eval()

    loaded = {}
    for label, fn in (("ours", load_ours), ("peer", load_peer)):
        with PeakRSS() as mem:
            start = time.perf_counter()
            loaded[label] = fn()
            seconds = time.perf_counter() - start
        report.add(case=f"load ({label})", seconds=seconds, peak_rss_mb=mem.peak_mb, threads=THREADS)
    ours, peer = loaded["ours"], loaded["peer"]

    new_tokens = 32 if quick else 128
    prompt = [504, 3575, 282, 4649, 314]  # "The capital of France is"
    params = SamplingParams(temperature=0, max_tokens=new_tokens, ignore_eos=True)

    def decode_ours():
        out = generate(ours, prompt, params)
        assert len(out.token_ids) == new_tokens

    @torch.inference_mode()
    def decode_peer():
        out = peer.generate(
            torch.tensor([prompt]),
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            pad_token_id=2,
        )
        assert out.shape[1] == len(prompt) + new_tokens

    repeats = 2 if quick else 3
    report.compare(
        f"decode {new_tokens} tokens, batch 1",
        decode_ours,
        decode_peer,
        peer_name="transformers",
        work=new_tokens,
        unit="tokens",
        warmup=1,
        repeats=repeats,
        threads=THREADS,
    )

    n_prompt = 128 if quick else 512
    ids = torch.randint(100, 40000, (1, n_prompt), generator=torch.Generator().manual_seed(0))

    @torch.inference_mode()
    def prefill_ours():
        ours(ids, kv_cache=ours.new_cache(1, n_prompt + 1), logits_index=slice(-1, None))

    @torch.inference_mode()
    def prefill_peer():
        peer(ids, use_cache=True, logits_to_keep=1)

    report.compare(
        f"prompt {n_prompt} tokens",
        prefill_ours,
        prefill_peer,
        peer_name="transformers",
        work=n_prompt,
        unit="tokens",
        warmup=1,
        repeats=repeats,
        threads=THREADS,
    )
