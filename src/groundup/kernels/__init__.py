"""Kernels: the inner loops of quantized inference, each beside its float reference (curriculum 1.5).

    int4.py            int4 groups of 32 (ggml Q4_0/Q4_1): reference, PyTorch's int4 kernel, ours
    int8.py            int8 groups of 32 (ggml Q8_0): reference, ours; PyTorch's per-row int8 kernel
    native.py          our compiled kernels (csrc/qmatmul.c): built with the system C compiler on first
                       use, loaded with ctypes, PyTorch fallback with a warning when they cannot build
    triton_kernels.py  Triton: INT8 quantized vector add (the CUDA capstone) and an int4 GEMV; on a CPU
                       they run in Triton's interpreter

Kernels sit below `models` (a quantized linear layer calls a kernel). Names load from their
submodules on first use (`groundup.lazy`).
"""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(__name__, {"native": ["available", "describe"]})
