"""Compare GGUF files of one model (module 1.4's capstone): size, load time, quality, speed, a sample.

For each file, with our runtime (`Llama.from_gguf`, which dequantizes every tensor to float32 as it loads):

    size_mb      bytes on disk
    bpw          bits per weight over all tensors (8 x bytes / parameters)
    types        how many tensors of each ggml type
    load_s       wall time of reading and dequantizing the file into a model
    perplexity   exp(mean next-token NLL) on `eval_windows` non-overlapping windows of `eval_len`
                 tokens from the start of WikiText-2 test, each scored from position 0 (the protocol
                 of the LLM-quantization table, `groundup.quant.llm.report`)
    decode_tok_s greedy tokens per second, batch 1, KV cache, after the sample's prompt
    sample       the greedy continuation of the prompt

Every file is scored on the same token windows (tokenized once, by the first file's tokenizer).
llama.cpp's own load time and perplexity for the same files are added by the capstone benchmark
(benchmarks/bench_gguf_capstone.py), which may import llama-cpp-python.
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

CHARS_PER_TOKEN_GUESS = 3


@dataclass
class CompareConfig:
    eval_windows: int = 8
    eval_len: int = 256
    decode_tokens: int = 32
    threads: int = 1


def wikitext_windows(tokenizer, windows: int, length: int) -> torch.Tensor:
    """(windows, length) token ids from the start of WikiText-2 test (only a prefix is tokenized)."""
    from groundup.data import load_text

    text, n = load_text("wikitext2", "test"), windows * length
    chars = n * CHARS_PER_TOKEN_GUESS
    ids = tokenizer.encode(text[:chars], add_bos=False)
    while len(ids) < n and chars < len(text):
        chars *= 2
        ids = tokenizer.encode(text[:chars], add_bos=False)
    if len(ids) < n:
        raise ValueError(f"windows: WikiText-2 test has {len(ids)} tokens, {n} are needed")
    return torch.tensor(ids[:n]).reshape(windows, length)


def window_perplexity(model, windows: torch.Tensor) -> float:
    """exp(mean NLL) over the windows (B, T), each scored on its own from position 0."""
    from groundup.eval.perplexity import perplexity

    length = windows.shape[1]
    return perplexity(model, windows.reshape(-1).tolist(), context_length=length, stride=length).perplexity


@torch.no_grad()
def greedy(model, prompt: list[int], n_tokens: int) -> tuple[list[int], float]:
    """(greedy continuation, decode tokens/s) with a KV cache; the prompt's prefill is not timed."""
    cache = model.new_cache(1, len(prompt) + n_tokens + 1)
    logits = model(torch.tensor([prompt]), kv_cache=cache, logits_index=slice(-1, None))
    out = []
    start = time.perf_counter()
    for _ in range(n_tokens):
        token = int(logits[0, -1].argmax())
        out.append(token)
        logits = model(torch.tensor([[token]]), kv_cache=cache, logits_index=slice(-1, None))
    return out, n_tokens / (time.perf_counter() - start)


def file_summary(path: str | os.PathLike) -> dict:
    """Size, bits per weight and tensor types of a GGUF file (header only)."""
    from groundup.formats.gguf import GGUFReader

    reader = GGUFReader(path)
    n_params = sum(t.n_elements for t in reader.tensors.values())
    size = Path(path).stat().st_size
    counts = collections.Counter(t.ggml_type.name for t in reader.tensors.values())
    return {
        "file": Path(path).name,
        "size_mb": size / 1e6,
        "bpw": 8 * sum(t.n_bytes for t in reader.tensors.values()) / n_params,
        "types": ", ".join(f"{n} {name}" for name, n in counts.most_common()),
    }


def measure_file(path, windows: torch.Tensor, prompt: list[int], tokenizer, config: CompareConfig) -> dict:
    from groundup.models.llama import Llama

    torch.set_num_threads(config.threads)
    row = file_summary(path)
    start = time.perf_counter()
    model = Llama.from_gguf(path)
    row["load_s"] = time.perf_counter() - start
    row["perplexity"] = window_perplexity(model, windows)
    tokens, speed = greedy(model, prompt, config.decode_tokens)
    row["decode_tok_s"] = speed
    row["sample"] = tokenizer.decode(tokens)
    row["sample_ids"] = tokens
    return row


def compare_files(
    paths: list[str | os.PathLike],
    config: CompareConfig | None = None,
    prompt: str = "The history of the city of Paris",
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """One row per file (see the module docstring), all on the same windows and prompt."""
    from groundup.tokenizers.gguf import from_gguf

    config = config or CompareConfig()
    tokenizer = from_gguf(paths[0])
    windows = wikitext_windows(tokenizer, config.eval_windows, config.eval_len)
    prompt_ids = tokenizer.encode(prompt, add_bos=False)
    rows = []
    for path in paths:
        if progress:
            progress(f"measuring {path}")
        rows.append(measure_file(path, windows, prompt_ids, tokenizer, config))
    return rows


COLUMNS = [
    ("file", "file", "{}"),
    ("size_mb", "size MB", "{:.1f}"),
    ("bpw", "bits/weight", "{:.2f}"),
    ("load_s", "load s (ours)", "{:.2f}"),
    ("llama_cpp_load_s", "load s (llama.cpp)", "{:.2f}"),
    ("perplexity", "perplexity (ours)", "{:.3f}"),
    ("llama_cpp_perplexity", "perplexity (llama.cpp)", "{:.3f}"),
    ("llama_cpp_f32_perplexity", "perplexity (llama.cpp, float32 dequantization)", "{:.3f}"),
    ("decode_tok_s", "decode tok/s (ours)", "{:.1f}"),
    ("llama_cpp_decode_tok_s", "decode tok/s (llama.cpp)", "{:.1f}"),
]


def render_table(rows: list[dict]) -> str:
    """The markdown table (columns present in any row), then one greedy sample per file."""
    columns = [c for c in COLUMNS if any(c[0] in r for r in rows)]
    lines = ["| " + " | ".join(title for _, title, _ in columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        cells = [fmt.format(r[key]) if r.get(key) is not None else "–" for key, _, fmt in columns]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"- **{r['file']}** ({r['types']}): {r['sample']!r}" for r in rows if "sample" in r]
    return "\n".join(lines)
