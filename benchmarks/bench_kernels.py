"""Group int4/int8 GEMV kernels at batch 1 on SmolLM2-135M's shapes: ours vs PyTorch's vs float32.

Per shape (N outputs x K inputs, one row of x): our fused dequantize-and-dot kernel (int4 and int8,
float32 activations, `groundup.kernels.native`), the same with x rounded to int8 per group of 32 and
integer dot products (`dot8`, llama.cpp's method), PyTorch's `_weight_int4pack_mm_for_cpu` (bfloat16
activations: its fast path) and `_weight_int8pack_mm` (bfloat16, one scale per row), a float32
`F.linear` on the dense weight, and dequantize-then-matmul (what a runtime without a fused kernel
does per call). One thread, medians of `repeats` calls after a warm-up; `speedup` in each compare row
is the peer's time over ours. Also ours at 4 rows (a short speculative verify) and the
bytes each variant reads per call.

Batched rows (a serving step decodes 9-64 requests at once; prefill runs hundreds of rows): per shape and
row count, our fused kernel (from 2 rows: each block of 4 weight rows decoded once into an L1 panel
that every row of x reuses), dot8, dequantize + one float32 GEMM (what `QuantizedLinear` runs above
`FUSED_MAX_ROWS`), PyTorch's int4 kernel and float32 `F.linear`; `fused_over_dequant` below 1 means the
fused kernel is faster there. The head row is SmolLM2's real Q8_0 head (int8 codes, no minimum).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from benchmarks.harness import Report
from groundup.kernels import int4, int8, native
from groundup.profiling import measure

SHAPES = {  # SmolLM2-135M's int4 (Q4_1) matrices, fused as the model runs them, and its head as int4
    "qkv 960x576": (960, 576),
    "o 576x576": (576, 576),
    "gate_up 3072x576": (3072, 576),
    "down 576x1536": (576, 1536),
    "head 49152x576": (49152, 576),
}
QUICK = ("gate_up 3072x576", "down 576x1536")
ROWS = (1, 4, 8, 16, 32, 64, 128)
QUICK_ROWS = (1, 16, 64)


def weights(n: int, k: int):
    g = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 256, (n, k // 2), dtype=torch.uint8, generator=g)
    scale = (torch.rand(n, k // 32, generator=g) * 0.01).half()
    mins = (-torch.rand(n, k // 32, generator=g) * 0.08).half()
    return codes, scale, mins


def run(report: Report, quick: bool) -> None:
    torch.set_num_threads(1)
    repeats = 20 if quick else 100
    if not native.available():
        report.add(case="ours", skipped="the compiled kernel did not build (see the warning)")
        return
    report.env["kernel"] = native.describe()
    shapes = {label: SHAPES[label] for label in QUICK} if quick else SHAPES
    for label, (n, k) in shapes.items():
        us = time_variants(n, k, repeats)
        read = {"int4": n * k * 0.625, "int8": n * k * (1 + 4 / 32), "float32": n * k * 4}
        for variant, t in us.items():
            kind = next((f for f in ("int4", "int8") if f in variant), "float32")
            kind = "int4" if variant.startswith("dequantize") else kind
            report.add(case=f"{label}: {variant}", us=t, mb_read=read[kind] / 1e6, gb_s=read[kind] / t / 1e3)
        report.add(
            case=f"{label}: ratios",
            ours_int4_over_torch_int4=us["ours int4"] / us["torch int4 (bf16)"],
            dot8_over_ours_int4=us["ours int4 dot8"] / us["ours int4"],
            dot8_over_torch_int4=us["ours int4 dot8"] / us["torch int4 (bf16)"],
            dequant_matmul_over_ours_int4=us["dequantize + matmul"] / us["ours int4"],
            float32_over_ours_int4=us["float32 F.linear"] / us["ours int4"],
        )
    head_q8_0(report, repeats)
    for label, (n, k) in shapes.items():
        if not label.startswith("head"):
            batched(report, label, n, k, QUICK_ROWS if quick else ROWS, max(3, repeats // 4))
    triton_on_gpu(report, repeats)  # last: the printed table takes its columns from the first row


def head_q8_0(report: Report, repeats: int) -> None:
    """SmolLM2's tied head as the GGUF stores it (Q8_0: int8 codes, one scale per group, no minimum)."""
    n, k = SHAPES["head 49152x576"]
    g = torch.Generator().manual_seed(0)
    codes = torch.randint(-128, 128, (n, k), dtype=torch.int8, generator=g)
    scale = (torch.rand(n, k // 32, generator=g) * 0.01).half()
    dense, x = int8.dequantize(codes, scale), torch.randn(1, k)
    read = n * k * (1 + 2 / 32)
    us = {
        "ours int8": measure(lambda: native.q8_matmul(x, codes, scale), warmup=3, repeats=repeats),
        "ours int8 dot8": measure(lambda: native.q8_matmul_dot8(x, codes, scale), warmup=3, repeats=repeats),
        "float32 F.linear": measure(lambda: F.linear(x, dense), warmup=3, repeats=repeats),
    }
    for variant, t in us.items():
        mb = read if variant.startswith("ours") else n * k * 4
        t_us = t.median_s * 1e6
        report.add(case=f"head Q8_0 49152x576: {variant}", us=t_us, mb_read=mb / 1e6, gb_s=mb / t_us / 1e3)


def batched(report: Report, label: str, n: int, k: int, rows: tuple[int, ...], repeats: int) -> None:
    """Median µs per call at each row count: fused, dot8, dequantize + GEMM, PyTorch int4, float32."""
    codes, scale, mins = weights(n, k)
    dense = int4.dequantize(codes, scale, mins)
    packed, scales_and_zeros = int4.torch_pack(codes, scale, mins)

    def time(fn):
        return measure(fn, warmup=2, repeats=repeats).median_s * 1e6

    for m in rows:
        x = torch.randn(m, k)
        us = {
            "fused": time(lambda: native.q4_matmul(x, codes, scale, mins)),  # noqa: B023 (timed here)
            "dot8": time(lambda: native.q4_matmul_dot8(x, codes, scale, mins)),  # noqa: B023
            "dequantize + GEMM": time(lambda: F.linear(x, native.q4_dequantize(codes, scale, mins))),  # noqa: B023
            "torch int4 (bf16)": time(lambda: int4.matmul_torch(x, packed, scales_and_zeros)),  # noqa: B023
            "float32 F.linear": time(lambda: F.linear(x, dense)),  # noqa: B023
        }
        report.add(
            case=f"{label}: {m} rows",
            **{f"{variant} us": t for variant, t in us.items()},
            fused_over_dequant=us["fused"] / us["dequantize + GEMM"],
            fused_over_torch_int4=us["fused"] / us["torch int4 (bf16)"],
            dot8_over_fused=us["dot8"] / us["fused"],
        )


def time_variants(n: int, k: int, repeats: int) -> dict[str, float]:
    """Median microseconds per call of each variant on one random (N, K) int4 weight."""
    codes, scale, mins = weights(n, k)
    dense = int4.dequantize(codes, scale, mins)
    packed, scales_and_zeros = int4.torch_pack(codes, scale, mins)
    c8 = int4.unpack(codes).to(torch.int8)
    c8_rows, s8_rows = int8.channelwise(dense)
    x, x4 = torch.randn(1, k), torch.randn(4, k)

    def time(fn):
        return measure(fn, warmup=3, repeats=repeats).median_s * 1e6

    return {
        "ours int4": time(lambda: int4.matmul_native(x, codes, scale, mins)),
        "ours int8": time(lambda: int8.matmul_native(x, c8, scale, mins)),
        "ours int4 dot8": time(lambda: native.q4_matmul_dot8(x, codes, scale, mins)),
        "ours int8 dot8": time(lambda: native.q8_matmul_dot8(x, c8, scale, mins)),
        "torch int4 (bf16)": time(lambda: int4.matmul_torch(x, packed, scales_and_zeros)),
        "torch int8 per-row (bf16)": time(lambda: int8.matmul_torch(x, c8_rows, s8_rows)),
        "float32 F.linear": time(lambda: F.linear(x, dense)),
        "dequantize + matmul": time(lambda: F.linear(x, int4.dequantize(codes, scale, mins))),
        "ours int4, 4 rows": time(lambda: int4.matmul_native(x4, codes, scale, mins)),
    }


def triton_on_gpu(report: Report, repeats: int) -> None:
    """The Triton kernels on a CUDA device (the interpreter on a CPU is a correctness tool, not timed)."""
    if not torch.cuda.is_available():
        report.add(case="triton kernels", skipped="no CUDA device: they run only in the interpreter here")
        return
    from groundup.kernels import triton_kernels as tk

    def cuda_us(fn):
        def synced():
            fn()
            torch.cuda.synchronize()

        return measure(synced, warmup=3, repeats=repeats).median_s * 1e6

    a = torch.randint(-128, 128, (1 << 24,), dtype=torch.int8, device="cuda")
    b = torch.randint(-128, 128, (1 << 24,), dtype=torch.int8, device="cuda")
    t = cuda_us(lambda: tk.int8_add(a, b, device="cuda"))
    report.add(case="triton int8_add 16M (cuda)", us=t, gb_s=3 * a.numel() / t / 1e3)
    for label, (n, k) in SHAPES.items():
        codes, scale, mins = (w.cuda() for w in weights(n, k))
        x = torch.randn(1, k, device="cuda")
        t = cuda_us(lambda: tk.int4_gemv(x, codes, scale, mins, device="cuda"))  # noqa: B023 (timed here)
        report.add(case=f"{label}: triton int4 GEMV (cuda)", us=t, gb_s=n * k * 0.625 / t / 1e3)
