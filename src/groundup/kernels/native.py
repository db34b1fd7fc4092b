"""Our compiled kernels (`csrc/qmatmul.c`): built on first use with the system C compiler, loaded with
ctypes, and replaced by the PyTorch paths with a one-line warning when they cannot be built.

Why a plain C file and ctypes rather than a torch C++ extension: it builds in about a second with
nothing but `cc` (no torch headers, no ninja, no Python headers), on any machine the README's two
commands set up. The library is cached per source, compiler flags and CPU under
`~/.cache/groundup/kernels` (or `$GROUNDUP_KERNEL_CACHE`), so later runs only load it.

    lib = load()                       # None when no compiler or the build failed (warned once)
    q4_matmul(x, codes, scale, min)    # y (M, N) float32 from x (M, K) float32, int4 groups of 32
    q8_matmul(x, codes, scale, min)    # the same for int8 codes (min may be None)
    q4_matmul_dot8(x, codes, scale, min)  # x rounded to int8 per group of 32, integer dots (llama.cpp's way)
    q4_dequantize(codes, scale, min)   # W (N, K) float32, bit-exact with the float reference

`GROUNDUP_NATIVE_KERNELS=0` turns the compiled path off (the fallback is then what runs).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import torch

SOURCE = Path(__file__).resolve().parent / "csrc" / "qmatmul.c"
SOURCES = sorted(SOURCE.parent.glob("*.c"))  # all built into one library: decode_step.c calls qmatmul.c
FLAG_SETS = (  # tried in order: the fastest that builds wins
    ["-O3", "-march=native", "-fopenmp"],
    ["-O3", "-march=native"],
    ["-O3"],
)


def cache_dir() -> Path:
    root = os.environ.get("GROUNDUP_KERNEL_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "groundup" / "kernels"


def find_compiler() -> str | None:
    """$CC, else the first of cc, gcc, clang on PATH."""
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _cpu_tag() -> str:
    """What -march=native depends on: the CPU model and its feature flags."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        lines = [line for line in text.splitlines() if line.startswith(("model name", "flags"))][:2]
    except OSError:
        lines = [platform.processor()]
    return platform.machine() + "\n".join(lines)


def _build(compiler: str) -> tuple[Path | None, str]:
    """Compile the source into the cache (atomically: parallel processes may build at once)."""
    source = b"".join(path.name.encode() + path.read_bytes() for path in SOURCES)
    errors = []
    for flags in FLAG_SETS:
        key = hashlib.sha256(source + " ".join([compiler, *flags, _cpu_tag()]).encode()).hexdigest()[:16]
        target = cache_dir() / f"qmatmul-{key}.so"
        if target.exists():
            return target, ""
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            out = Path(tmp) / target.name
            cmd = [compiler, *flags, "-fPIC", "-shared", "-std=c11", *map(str, SOURCES), "-o", str(out)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode == 0:
                os.replace(out, target)
                return target, ""
            errors.append(f"{' '.join(flags)}: {done.stderr.strip().splitlines()[-1:] or ['failed']}")
    return None, "; ".join(errors)


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    p, i64, i32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
    for name in ("gu_q4_matmul", "gu_q8_matmul"):
        getattr(lib, name).argtypes = [p, p, p, p, p, i64, i64, i64, i32]
        getattr(lib, name).restype = None
    for name in ("gu_q4_matmul_dot8", "gu_q8_matmul_dot8"):  # 0, or -1 when out of memory
        getattr(lib, name).argtypes = [p, p, p, p, p, i64, i64, i64, i32]
        getattr(lib, name).restype = ctypes.c_int
    for name in ("gu_q4_dequantize", "gu_q8_dequantize"):
        getattr(lib, name).argtypes = [p, p, p, p, i64, i64, i32]
        getattr(lib, name).restype = None
    lib.gu_kernel_isa.restype = ctypes.c_char_p
    lib.gu_kernel_openmp.restype = ctypes.c_int
    return lib


@functools.cache
def load() -> ctypes.CDLL | None:
    """The compiled library, or None (with one warning saying why and what runs instead)."""
    if os.environ.get("GROUNDUP_NATIVE_KERNELS", "1") == "0":
        return None
    compiler = find_compiler()
    if compiler is None:
        reason = "no C compiler found (looked for $CC, cc, gcc, clang); install one (e.g. gcc)"
    else:
        try:
            path, reason = _build(compiler)
            if path is not None:
                return _declare(ctypes.CDLL(str(path)))
        except OSError as exc:  # unwritable cache, a library the loader refuses
            reason = str(exc)
    warnings.warn(
        f"groundup.kernels: the compiled int4/int8 kernel is unavailable ({reason}); "
        "falling back to PyTorch's kernels (slower at batch 1)",
        RuntimeWarning,
        stacklevel=2,
    )
    return None


def available() -> bool:
    return load() is not None


def describe() -> str:
    """e.g. 'avx512 + OpenMP', or 'unavailable'."""
    lib = load()
    if lib is None:
        return "unavailable"
    return lib.gu_kernel_isa().decode() + (" + OpenMP" if lib.gu_kernel_openmp() else "")


def function(bits: int, dot8: bool = False):
    """The compiled matmul for `bits`-bit codes as a ctypes function taking (x, codes, scale, min,
    y pointers; M, N, K; threads), for callers that checked their arrays once (QuantizedLinear):
    no checks here. `dot8`: the int8-activation kernel (returns 0, or -1 when out of memory).
    None when the library did not build."""
    lib = load()
    name = f"gu_q{4 if bits == 4 else 8}_matmul" + ("_dot8" if dot8 else "")
    return None if lib is None else getattr(lib, name)


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _check(x: torch.Tensor, codes: torch.Tensor, scale: torch.Tensor, min, per_group_bytes: int) -> None:
    n, k = scale.shape[0], scale.shape[1] * 32
    for name, t in (("scale", scale), ("min", min)):
        if t is not None and (t.dtype != torch.float16 or t.shape != scale.shape or not t.is_contiguous()):
            raise ValueError(
                f"{name}: expected contiguous float16 {tuple(scale.shape)}, got {t.dtype} {tuple(t.shape)}"
            )
    if x.dtype != torch.float32 or x.shape[-1] != k or not x.is_contiguous():
        raise ValueError(f"x: expected contiguous float32 (M, {k}), got {x.dtype} {tuple(x.shape)}")
    if codes.shape != (n, k // 32 * per_group_bytes) or not codes.is_contiguous():
        raise ValueError(
            f"codes: expected contiguous ({n}, {k // 32 * per_group_bytes}), got {tuple(codes.shape)}"
        )


def check_weight(bits: int, codes: torch.Tensor, scale: torch.Tensor, min) -> None:
    """The arrays of a `bits`-bit group weight as the kernels read them (ValueError otherwise)."""
    dtype = torch.uint8 if bits == 4 else torch.int8
    if codes.dtype != dtype:
        raise ValueError(f"codes: expected {dtype} for {bits}-bit weights, got {codes.dtype}")
    x = torch.empty(1, scale.shape[1] * 32)
    _check(x, codes, scale, min, 16 if bits == 4 else 32)


def _matmul(fn: str, x, codes, scale, min, per_group_bytes: int) -> torch.Tensor:
    lib = load()
    if lib is None:
        raise RuntimeError("the compiled kernels are unavailable (see the warning); use the PyTorch path")
    _check(x, codes, scale, min, per_group_bytes)
    m, n, k = x.shape[0], scale.shape[0], x.shape[1]
    y = torch.empty(m, n, dtype=torch.float32)
    status = getattr(lib, fn)(
        _ptr(x), _ptr(codes), _ptr(scale), _ptr(min), _ptr(y), m, n, k, torch.get_num_threads()
    )
    if status:  # the dot8 kernels allocate x's int8 copy
        raise MemoryError(f"{fn}: could not allocate the int8 copy of x ({m} x {k})")
    return y


def q4_matmul(x: torch.Tensor, codes, scale, min) -> torch.Tensor:
    """x (M, K) float32 @ Wᵀ for W stored as int4 groups: codes (N, K/2) uint8, scale/min (N, K/32)
    float16 -> (M, N) float32."""
    return _matmul("gu_q4_matmul", x, codes, scale, min, 16)


def q8_matmul(x: torch.Tensor, codes, scale, min=None) -> torch.Tensor:
    """x (M, K) float32 @ Wᵀ for W stored as int8 groups: codes (N, K) int8, scale (and optional min)
    (N, K/32) float16 -> (M, N) float32."""
    return _matmul("gu_q8_matmul", x, codes, scale, min, 32)


def q4_matmul_dot8(x: torch.Tensor, codes, scale, min) -> torch.Tensor:
    """As `q4_matmul`, with x rounded to int8 per group of 32 (scale max|x|/127) and the products
    summed in integers, as llama.cpp does: faster, and off from the float result by x's rounding."""
    return _matmul("gu_q4_matmul_dot8", x, codes, scale, min, 16)


def q8_matmul_dot8(x: torch.Tensor, codes, scale, min=None) -> torch.Tensor:
    """As `q8_matmul`, with x rounded to int8 per group of 32 (see `q4_matmul_dot8`)."""
    return _matmul("gu_q8_matmul_dot8", x, codes, scale, min, 32)


def _dequantize(fn: str, codes, scale, min) -> torch.Tensor:
    lib = load()
    if lib is None:
        raise RuntimeError("the compiled kernels are unavailable (see the warning); use the PyTorch path")
    n, k = scale.shape[0], scale.shape[1] * 32
    w = torch.empty(n, k, dtype=torch.float32)
    getattr(lib, fn)(_ptr(codes), _ptr(scale), _ptr(min), _ptr(w), n, k, torch.get_num_threads())
    return w


def q4_dequantize(codes, scale, min) -> torch.Tensor:
    return _dequantize("gu_q4_dequantize", codes, scale, min)


def q8_dequantize(codes, scale, min=None) -> torch.Tensor:
    return _dequantize("gu_q8_dequantize", codes, scale, min)


# ---- the same kernels as PyTorch operators, so that torch.compile can call them (opaque to it) -----


def _as_operator(name: str, matmul):
    """`matmul` (x, codes, scale, min) -> y as the torch operator groundup::<name>, opaque to
    torch.compile, with a fake (shape-only) version for tracing."""

    @torch.library.custom_op(f"groundup::{name}", mutates_args=())
    def op(
        x: torch.Tensor, codes: torch.Tensor, scale: torch.Tensor, min: torch.Tensor | None
    ) -> torch.Tensor:
        return matmul(x, codes, scale, min)

    @op.register_fake
    def _(x, codes, scale, min):
        return x.new_empty(x.shape[0], scale.shape[0])

    return op


q4_matmul_op = _as_operator("q4_matmul", q4_matmul)
q8_matmul_op = _as_operator("q8_matmul", q8_matmul)
q4_matmul_dot8_op = _as_operator("q4_matmul_dot8", q4_matmul_dot8)
q8_matmul_dot8_op = _as_operator("q8_matmul_dot8", q8_matmul_dot8)
