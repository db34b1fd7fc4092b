"""GPU kernels written in Triton: curriculum 1.5's CUDA capstone (an INT8 quantized vector add with host
orchestration) and an int4 GEMV over the group format of `kernels/int4.py`.

Triton is a Python dialect for GPU kernels: one *program* (a CUDA thread block) handles a block of
the output, and `tl.arange(0, BLOCK)` is the block's threads in one vector. What CUDA makes explicit,
Triton decides from the block shapes: the thread hierarchy is the launch `grid` (blocks) times the
lanes of each `tl.arange` (threads); consecutive lanes read consecutive addresses, so loads coalesce;
shared-memory tiling and occupancy are chosen by its compiler from BLOCK sizes and `num_warps`; and
divergence becomes masks (`mask=offs < n`: lanes past the end run but do not load or store).

On a machine without a GPU the same kernels run in Triton's interpreter (NumPy underneath), which
is how the tests check them; `device` picks where they run. Each wrapper is the host side: check the
inputs, move them to the device, allocate the output there, launch the grid, bring the result back.

    int8_add(a, b)                          saturating int8 + int8 -> int8 (bit-exact vs NumPy)
    quantized_add(a, sa, b, sb, sc)         requantized add of two int8 tensors with scales
    int4_gemv(x, codes, scale, min)         x (M, K) float32 @ Wᵀ for int4 groups of 32 -> (M, N)
"""

import os

import torch

from groundup.errors import GroundupError

if not torch.cuda.is_available():
    # Without a GPU the interpreter is Triton's only backend. It must be chosen before Triton is
    # imported: Triton's own library functions (tl.sum, tl.zeros) are wrapped at import time.
    os.environ.setdefault("TRITON_INTERPRET", "1")
try:
    import triton
    import triton.language as tl
except ImportError:  # the wrappers raise a GroundupError saying how to install it
    triton = tl = None

BLOCK = 1024  # elements per program of the vector kernels
BLOCK_N = 16  # weight rows per program of the GEMV


def available() -> bool:
    return triton is not None


if tl is not None:

    def _int8_add_kernel(a_ptr, b_ptr, out_ptr, n, BLOCK: tl.constexpr):
        pid = tl.program_id(0)  # which block of the vector this program owns
        offs = pid * BLOCK + tl.arange(0, BLOCK)  # its lanes: consecutive addresses, coalesced loads
        mask = offs < n  # the last block's extra lanes do nothing
        a = tl.load(a_ptr + offs, mask=mask, other=0).to(tl.int16)  # widen: the sum needs 9 bits
        b = tl.load(b_ptr + offs, mask=mask, other=0).to(tl.int16)
        total = tl.minimum(tl.maximum(a + b, -128), 127)  # saturate instead of wrapping around
        tl.store(out_ptr + offs, total.to(tl.int8), mask=mask)

    def _quantized_add_kernel(a_ptr, b_ptr, out_ptr, n, sa, sb, inv_sc, BLOCK: tl.constexpr):
        pid = tl.program_id(0)
        offs = pid * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        a = tl.load(a_ptr + offs, mask=mask, other=0).to(tl.float32) * sa  # dequantize
        b = tl.load(b_ptr + offs, mask=mask, other=0).to(tl.float32) * sb
        q = tl.floor((a + b) * inv_sc + 0.5)  # requantize: round half up
        tl.store(out_ptr + offs, tl.minimum(tl.maximum(q, -128.0), 127.0).to(tl.int8), mask=mask)

    def _int4_gemv_kernel(x_ptr, codes_ptr, scale_ptr, min_ptr, y_ptr, N, K, BLOCK_N: tl.constexpr):
        row_block, m = tl.program_id(0), tl.program_id(1)  # BLOCK_N weight rows, one row of x
        rows = row_block * BLOCK_N + tl.arange(0, BLOCK_N)  # (BLOCK_N,)
        live = rows < N
        j = tl.arange(0, 16)  # byte j of a group: weights j (low nibble) and j + 16 (high nibble)
        groups = K // 32
        acc = tl.zeros((BLOCK_N,), dtype=tl.float32)
        for g in range(0, groups):
            byte = tl.load(
                codes_ptr + rows[:, None] * (K // 2) + g * 16 + j[None, :], mask=live[:, None], other=0
            )  # (BLOCK_N, 16) uint8: each row's 16 bytes are contiguous
            s = tl.load(scale_ptr + rows * groups + g, mask=live, other=0).to(tl.float32)  # (BLOCK_N,)
            mn = tl.load(min_ptr + rows * groups + g, mask=live, other=0).to(tl.float32)
            x_lo = tl.load(x_ptr + m * K + g * 32 + j)  # (16,) shared by every row of the block
            x_hi = tl.load(x_ptr + m * K + g * 32 + 16 + j)
            w_lo = (byte & 0xF).to(tl.float32) * s[:, None] + mn[:, None]  # (BLOCK_N, 16)
            w_hi = (byte >> 4).to(tl.float32) * s[:, None] + mn[:, None]
            acc += tl.sum(w_lo * x_lo[None, :], axis=1) + tl.sum(w_hi * x_hi[None, :], axis=1)
        tl.store(y_ptr + m * N + rows, acc, mask=live)


_compiled: dict = {}


def _launcher(fn, device: torch.device):
    """The kernel compiled for a GPU, or wrapped by Triton's interpreter for the CPU."""
    if triton is None:
        raise GroundupError("Triton is not installed; `pip install triton` to run the Triton kernels")
    interpret = device.type == "cpu"
    if interpret and not triton.knobs.runtime.interpret:
        raise GroundupError(
            "Triton was imported before TRITON_INTERPRET=1 was set, so its interpreter cannot run the "
            "kernels on the CPU; set TRITON_INTERPRET=1 in the environment (or import this module first)"
        )
    key = (fn.__name__, interpret)
    if key not in _compiled:
        if interpret:
            from triton.runtime.interpreter import InterpretedFunction

            _compiled[key] = InterpretedFunction(fn)
        else:
            _compiled[key] = triton.jit(fn)
    return _compiled[key]


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _int8_inputs(a: torch.Tensor, b: torch.Tensor, device) -> tuple[torch.Tensor, torch.Tensor, torch.device]:
    if a.dtype != torch.int8 or b.dtype != torch.int8 or a.shape != b.shape:
        raise ValueError(
            f"a, b: expected int8 tensors of one shape, got {a.dtype} {a.shape} and {b.dtype} {b.shape}"
        )
    device = torch.device(device) if device is not None else default_device()
    return a.contiguous().to(device), b.contiguous().to(device), device


def int8_add(a: torch.Tensor, b: torch.Tensor, device=None) -> torch.Tensor:
    """Saturating a + b for int8 tensors (values clamp to [-128, 127]), on `device`; result on a's device."""
    home = a.device
    a, b, device = _int8_inputs(a, b, device)
    out = torch.empty_like(a)
    n = a.numel()
    _launcher(_int8_add_kernel, device)[(triton.cdiv(n, BLOCK),)](a, b, out, n, BLOCK=BLOCK)
    return out.to(home)


def quantized_add(
    a: torch.Tensor, sa: float, b: torch.Tensor, sb: float, sc: float, device=None
) -> torch.Tensor:
    """The int8 codes of (sa · a + sb · b) at scale sc: floor(x / sc + 0.5) clamped to [-128, 127]."""
    if sc <= 0:
        raise ValueError(f"sc: the output scale must be positive, got {sc}")
    home = a.device
    a, b, device = _int8_inputs(a, b, device)
    out = torch.empty_like(a)
    n = a.numel()
    kernel = _launcher(_quantized_add_kernel, device)
    kernel[(triton.cdiv(n, BLOCK),)](a, b, out, n, float(sa), float(sb), 1.0 / float(sc), BLOCK=BLOCK)
    return out.to(home)


def int4_gemv(x: torch.Tensor, codes: torch.Tensor, scale: torch.Tensor, min: torch.Tensor, device=None):
    """x (M, K) float32 @ Wᵀ for W as int4 groups (codes (N, K/2) uint8, scale/min (N, K/32) float16)
    -> (M, N) float32, on `device`; result on x's device."""
    n, k = scale.shape[0], scale.shape[1] * 32
    if x.ndim != 2 or x.shape[1] != k or codes.shape != (n, k // 2):
        raise ValueError(
            f"x, codes: expected (M, {k}) and ({n}, {k // 2}), got {tuple(x.shape)} and {tuple(codes.shape)}"
        )
    home = x.device
    device = torch.device(device) if device is not None else default_device()
    x, codes, scale, min = (t.contiguous().to(device) for t in (x.float(), codes, scale, min))
    y = torch.empty(x.shape[0], n, dtype=torch.float32, device=device)
    grid = (triton.cdiv(n, BLOCK_N), x.shape[0])
    _launcher(_int4_gemv_kernel, device)[grid](x, codes, scale, min, y, n, k, BLOCK_N=BLOCK_N)
    return y.to(home)
