"""Quantizing the whole SmolLM2-135M to Q4_K_M (and Q6_K, Q4_0): our NumPy quantizer vs llama.cpp's.

Both start from the same all-float32 GGUF (SmolLM2 dequantized by our writer) and write a file of the
same llama.cpp file type; the row records whether the two files are identical byte for byte. Ours is
vectorized NumPy on one thread; llama.cpp runs its reference C quantizer with `nthread=1` (the goal is
ours <= 5x llama.cpp's time). Without llama-cpp-python only our times are recorded.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks import llama_cpp_ref
from benchmarks.harness import Report
from groundup.data import smollm2_gguf_path
from groundup.formats.convert import convert


def run(report: Report, quick: bool) -> None:
    from groundup.profiling import measure

    missing = llama_cpp_ref.available()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        f32 = convert(smollm2_gguf_path(), tmp / "f32.gguf", "f32", order="llama.cpp")
        for ftype in ["q4_k_m"] if quick else ["q4_k_m", "q6_k", "q4_0"]:
            ours_path, theirs_path = tmp / f"ours-{ftype}.gguf", tmp / f"theirs-{ftype}.gguf"

            def ours(ftype=ftype, ours_path=ours_path):
                convert(f32, ours_path, ftype, order="llama.cpp")

            if missing:
                timing = measure(ours, warmup=0, repeats=1)
                report.add(case=f"SmolLM2-135M f32 -> {ftype}", ours_median_s=timing.median_s, peer=missing)
                continue

            def theirs(ftype=ftype, theirs_path=theirs_path):
                llama_cpp_ref.quantize(f32, theirs_path, ftype, threads=1)

            row = report.compare(
                f"SmolLM2-135M f32 -> {ftype}", ours, theirs, peer_name="llama.cpp quantize (1 thread)",
                warmup=0, repeats=1 if quick else 3,
            )  # fmt: skip
            row["identical_file"] = ours_path.read_bytes() == theirs_path.read_bytes()
            row["ours_over_llama_cpp"] = row["ours_median_s"] / row["peer_median_s"]
            row["goal_met (<= 5x)"] = row["ours_over_llama_cpp"] <= 5
