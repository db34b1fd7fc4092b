"""Module 1.4's capstone: HF checkpoint -> F16 GGUF -> Q8_0 / Q4_K_M / Q4_0 / GPTQ / AWQ, run by us and llama.cpp.

The workflow every local-LLM user runs, end to end on SmolLM2-135M-Instruct:

1. a Hugging Face folder (config.json, model.safetensors, tokenizer.json): the only copy of SmolLM2 on
   this machine is the bundled Q4_1 GGUF, so `gguf_to_hf` writes it out as float32 first (a documented
   substitute for downloading the original checkpoint; every row therefore starts from Q4_1-rounded
   weights);
2. `hf_to_gguf(..., "f16")`: the F16 GGUF;
3. our quantizer: F16 -> Q8_0, Q4_K_M (llama.cpp's mixture, byte-identical to llama-quantize's) and
   Q4_0; our GPTQ and AWQ (W4 g32, calibrated on WikiText-2 valid) exported as Q4_1;
4. every file measured by our runtime (`groundup.export.compare`) and by llama.cpp (load time,
   perplexity on the same WikiText-2 test windows, decode tokens/s, its own greedy sample).

Writes docs/notes/1.4-gguf-capstone/report.md (the table and the samples) beside the benchmark JSON.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from benchmarks import llama_cpp_ref
from benchmarks.harness import Report

NOTES = Path(__file__).resolve().parents[1] / "docs" / "notes" / "1.4-gguf-capstone"
PROMPT = "The history of the city of Paris"


def build_files(folder: Path, quick: bool, log) -> dict[str, Path]:
    from groundup.data import smollm2_gguf_path
    from groundup.formats.convert import convert
    from groundup.formats.convert_hf import gguf_to_hf, hf_to_gguf

    hf = gguf_to_hf(smollm2_gguf_path(), folder / "hf")
    files = {"F16": hf_to_gguf(hf, folder / "smollm2-f16.gguf", "f16")}
    for name, ftype in (("Q8_0", "q8_0"), ("Q4_K_M", "q4_k_m"), ("Q4_0", "q4_0")):
        start = time.perf_counter()
        files[name] = convert(files["F16"], folder / f"smollm2-{ftype}.gguf", ftype)
        log(f"{name}: {time.perf_counter() - start:.1f} s")
    for method in ("gptq",) if quick else ("gptq", "awq"):
        files[f"{method.upper()} W4 g32 (Q4_1)"] = quantize_and_export(
            files["F16"], method, folder, quick, log
        )
    return files


def quantize_and_export(f16: Path, method: str, folder: Path, quick: bool, log) -> Path:
    from groundup.data import load_text
    from groundup.models.llama import Llama
    from groundup.quant.llm.calibration import calibration_windows
    from groundup.quant.llm.gguf_export import export_gguf
    from groundup.quant.llm.quantize import quantize_llm
    from groundup.tokenizers.gguf import from_gguf

    samples, length = (4, 128) if quick else (16, 256)
    ids = from_gguf(f16).encode(load_text("wikitext2", "valid")[: samples * length * 16], add_bos=False)
    start = time.perf_counter()
    model = Llama.from_gguf(f16)
    model = quantize_llm(model, method, 4, 32, windows=calibration_windows(ids, samples, length)) or model
    log(f"{method}: {time.perf_counter() - start:.1f} s")
    return export_gguf(model, f16, folder / f"smollm2-{method}-q4_1.gguf")


def llama_cpp_columns(path: Path, windows, prompt: list[int], n_tokens: int, tokenizer) -> dict:
    """llama.cpp on the file, and on the file's exact float32 dequantization (written by our converter):
    the second perplexity separates llama.cpp's reading of the weights (it equals ours) from its
    quantized dot products (activations rounded to Q8_0/Q8_K blocks), which move the first one."""
    from groundup.formats.convert import convert

    n_ctx = max(windows.shape[1], len(prompt) + n_tokens + 1)
    llm, load_s = llama_cpp_ref.load(path, n_ctx=n_ctx, threads=1)
    tokens, speed = llama_cpp_ref.greedy(llm, prompt, n_tokens)
    row = {
        "llama_cpp_load_s": load_s,
        "llama_cpp_perplexity": llama_cpp_ref.perplexity(llm, windows.numpy()),
        "llama_cpp_decode_tok_s": speed,
        "llama_cpp_sample": tokenizer.decode(tokens),
    }
    del llm
    dequantized = convert(path, path.with_suffix(".f32.gguf"), "f32")
    llm, _ = llama_cpp_ref.load(dequantized, n_ctx=n_ctx, threads=1)
    row["llama_cpp_f32_perplexity"] = llama_cpp_ref.perplexity(llm, windows.numpy())
    dequantized.unlink()
    return row


def run(report: Report, quick: bool) -> None:
    from groundup.export.compare import CompareConfig, measure_file, render_table, wikitext_windows
    from groundup.reports import write_report
    from groundup.tokenizers.gguf import from_gguf

    torch.set_num_threads(1)
    config = CompareConfig(*((2, 128, 8) if quick else (8, 256, 32)))
    missing = llama_cpp_ref.available()
    with tempfile.TemporaryDirectory() as tmp:
        files = build_files(Path(tmp), quick, print)
        tokenizer = from_gguf(files["F16"])
        windows = wikitext_windows(tokenizer, config.eval_windows, config.eval_len)
        prompt = tokenizer.encode(PROMPT, add_bos=False)
        rows = []
        for name, path in files.items():
            row = measure_file(path, windows, prompt, tokenizer, config)
            row["file"] = name
            if not missing:
                row |= llama_cpp_columns(path, windows, prompt, config.decode_tokens, tokenizer)
            print({k: v for k, v in row.items() if k != "sample_ids"}, flush=True)
            rows.append(row)
            report.add(**{k: v for k, v in row.items() if k != "sample_ids"})
    if quick:
        return
    samples = [
        f"- **{r['file']}**, llama.cpp: {r['llama_cpp_sample']!r}" for r in rows if "llama_cpp_sample" in r
    ]
    write_report(
        NOTES / "report.md",
        "Capstone 1.4: one checkpoint, six GGUF files, two runtimes",
        [
            f"SmolLM2-135M-Instruct. {config.eval_windows} WikiText-2 test windows x {config.eval_len} tokens "
            "(from the start of the split, each scored from position 0; the protocol of the 1.2 table); "
            f"decode speed: {config.decode_tokens} greedy tokens after the prompt {PROMPT!r}, batch 1, "
            "1 thread for both runtimes. Our runtime dequantizes every tensor to float32 at load time; "
            "llama.cpp computes on the quantized blocks. "
            + (
                f"llama.cpp columns missing: {missing}." if missing else "llama.cpp: llama-cpp-python 0.3.36."
            ),
            render_table(rows),
            "Greedy samples by llama.cpp (the same prompt):\n\n" + "\n".join(samples) if samples else "",
        ],
    )
