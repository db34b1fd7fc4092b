"""INT8 QuantLinear forward vs float32 nn.Linear on CPU, LLM-like shapes (SmolLM2 MLP 576x1536).

Paths measured (which kernel ran is recorded per row):
  w8a8        QuantLinear(mode="int", dynamic activations): per-batch int8 activation codes,
              torch._int_mm int8 GEMM with int32 accumulation, zero-point correction, float rescale
  w8 only     QuantLinear(mode="int", activation=None): torch._weight_int8pack_mm (float x, int8 W)
              for <= 8 rows, dequantize + float32 matmul above (the fused kernel is slow for big M)
  torch.ao    torch.ao.nn.quantized.dynamic.Linear (fbgemm/onednn), the production dynamic-int8 peer
Peer for the speed ratio is float32 nn.Linear unless stated; speedup = peer time / our time.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmarks.harness import Report
from groundup.quant import QScheme, QuantConfig, QuantLinear
from groundup.quant.kernels import int8_matmul, weight_only_kernel

SHAPES = ((576, 1536), (1536, 576))


def weight_bytes(layer: nn.Module) -> int:
    return sum(
        t.numel() * t.element_size()
        for t in list(layer.parameters()) + list(layer.buffers())
        if t is not None
    )


def kernel_name() -> str:
    try:
        int8_matmul(torch.zeros(1, 8, dtype=torch.int8), torch.zeros(8, 8, dtype=torch.int8))
        return "torch._int_mm" if hasattr(torch, "_int_mm") else "int32 matmul"
    except RuntimeError:
        return "int32 matmul"


def run(report: Report, quick: bool) -> None:
    """One torch thread for every path (a shared 2-core machine; restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    report.env["torch_threads"] = 1
    try:
        run_cases(report, quick)
    finally:
        torch.set_num_threads(threads)


def run_cases(report: Report, quick: bool) -> None:
    torch.manual_seed(0)
    repeats = 5 if quick else 30
    batches = (1, 64)
    weight = QScheme(bits=8, granularity="channel")
    for d_in, d_out in SHAPES[:1] if quick else SHAPES:
        linear = nn.Linear(d_in, d_out).eval()
        w8a8 = QuantLinear.from_float(
            linear, QuantConfig(weight, QScheme(bits=8, symmetric=False), mode="int", dynamic=True)
        ).eval()
        w8 = QuantLinear.from_float(linear, QuantConfig(weight, None, mode="int")).eval()
        ao = torch.ao.nn.quantized.dynamic.Linear.from_float(
            _with_qconfig(nn.Linear(d_in, d_out).eval(), linear)
        )
        for batch in batches:
            x = torch.randn(batch, d_in)
            common = dict(repeats=repeats, batch=batch, shape=f"{d_in}x{d_out}")
            fp32 = weight_bytes(linear)
            ao_bytes = d_in * d_out + 4 * d_out  # int8 codes + per-channel float scales
            tag = f"{d_in}x{d_out} b{batch}"
            bench(
                report,
                f"w8a8 {tag}",
                w8a8,
                linear,
                x,
                "fp32 nn.Linear",
                kernel_name(),
                weight_bytes(w8a8),
                fp32,
                **common,
            )
            bench(
                report,
                f"w8-only {tag}",
                w8,
                linear,
                x,
                "fp32 nn.Linear",
                weight_only_kernel(batch, d_out, d_out),
                weight_bytes(w8),
                fp32,
                **common,
            )
            engine = f"torch.ao dynamic ({torch.backends.quantized.engine})"
            bench(
                report,
                f"torch.ao dynamic {tag}",
                ao,
                linear,
                x,
                "fp32 nn.Linear",
                engine,
                ao_bytes,
                fp32,
                **common,
            )
            bench(
                report,
                f"w8a8 vs torch.ao {tag}",
                w8a8,
                ao,
                x,
                "torch.ao dynamic Linear",
                kernel_name(),
                weight_bytes(w8a8),
                ao_bytes,
                **common,
            )


@torch.inference_mode()
def bench(
    report: Report,
    case: str,
    ours,
    peer,
    x,
    peer_name: str,
    kernel: str,
    ours_bytes: int,
    peer_bytes: int,
    **extra,
) -> None:
    """One ours-vs-peer row with the kernel that ran, weight memory of both and our error vs the peer."""
    reference = peer(x)
    error = float((ours(x) - reference).abs().max() / reference.abs().max())
    report.compare(
        case,
        lambda: ours(x),
        lambda: peer(x),
        peer_name=peer_name,
        work=x.shape[0],
        unit="rows",
        warmup=3,
        kernel=kernel,
        weight_bytes=ours_bytes,
        peer_weight_bytes=peer_bytes,
        rel_max_error_vs_peer=error,
        **extra,
    )


def _with_qconfig(target: nn.Linear, source: nn.Linear) -> nn.Linear:
    """A copy of `source` carrying the per-channel dynamic qconfig torch.ao's from_float reads."""
    from torch.ao.quantization import per_channel_dynamic_qconfig

    target.load_state_dict(source.state_dict())
    target.qconfig = per_channel_dynamic_qconfig
    return target
