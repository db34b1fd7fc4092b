"""Linear layers and embeddings whose weights stay quantized: int4 or int8 codes in groups of 32 with a
float16 scale and minimum per group, the arrays of ggml's Q4_0 / Q4_1 / Q8_0 blocks.

    W[n, 32g + j] = scale[n, g] · q[n, 32g + j] + min[n, g]

`GroupWeight.from_ggml(type, blocks)` takes a GGUF tensor's stored bytes apart without changing a bit
(`dequantize()` equals `groundup.formats`' decoder exactly), `from_float(w, bits)` quantizes a float
weight round-to-nearest through the same ggml block quantizers (Q4_1 for 4 bits, Q8_0 for 8), and
`QuantizedLinear` / `QuantizedEmbedding` compute with them through `groundup.kernels`:

    up to 64 rows       our fused kernel reads 0.625 (int4) or 1.125 (int8) bytes per weight, float32
    (decode, a serving  activations; from 2 rows on it decodes each block of 4 weight rows once into an
    step's batch)       L1-resident panel that every row of x reuses; PyTorch's int4 kernel (bfloat16) or
                        the reference when it is absent; `kernel="dot8"` (up to 8 rows): x rounded to
                        int8 per group and integer dots (llama.cpp's way)
    more rows (prefill) dequantize once, then one float32 GEMM: compute-bound, so the float GEMM wins

A tied embedding and LM head share one `GroupWeight`: the embedding gathers and dequantizes the rows
of its tokens, the head multiplies with all of them.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from groundup.formats.ggml_quants import dequantize as ggml_dequantize
from groundup.formats.ggml_quants import quantize as ggml_quantize
from groundup.formats.ggml_types import GGMLType
from groundup.kernels import int4, int8, native

GROUP = 32
# Rows of x up to which our fused kernel runs (decode, batched decode of a serving step, a speculative
# verify); above it, dequantize + one float32 GEMM is faster (prefill). Set by the crossover measured
# on SmolLM2's shapes (benchmarks/bench_kernels.py, docs/notes/1.5-quantized-cpu-inference.md).
FUSED_MAX_ROWS = 64
# Rows up to which a `kernel="dot8"` layer rounds x to int8; above, its exact float kernel is faster
# (dot8 runs each row of x alone, the float kernel reuses each decoded block for 4 rows at a time).
DOT8_MAX_ROWS = 8
GGML_KERNEL_TYPES = (GGMLType.Q4_0, GGMLType.Q4_1, GGMLType.Q8_0)
EXACT = {4: (GGMLType.Q4_0, GGMLType.Q4_1), 8: (GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1)}
FLOAT_TYPES = (GGMLType.F32, GGMLType.F16, GGMLType.BF16)
log = logging.getLogger(__name__)


def _f16(blocks: np.ndarray, start: int) -> torch.Tensor:
    """The float16 at byte `start` of every block (n_rows, n_blocks, type_size) -> (n_rows, n_blocks)."""
    return torch.from_numpy(np.ascontiguousarray(blocks[:, :, start : start + 2]).view(np.float16)[..., 0])


@dataclass
class GroupWeight:
    """W (N, K) as `bits`-bit codes with float16 `scale` and `min` (N, K/32); min None means zero."""

    bits: int
    codes: torch.Tensor  # int4: (N, K/2) uint8 in ggml's nibble order; int8: (N, K) int8
    scale: torch.Tensor
    min: torch.Tensor | None

    @property
    def shape(self) -> tuple[int, int]:
        return self.scale.shape[0], self.scale.shape[1] * GROUP

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.codes, self.scale, self.min) if t is not None)

    def dequantize(self) -> torch.Tensor:
        """W (N, K) float32, exactly as ggml decodes the blocks."""
        if self.bits == 4:
            return int4.dequantize(self.codes, self.scale, self.min)
        return int8.dequantize(self.codes, self.scale, self.min)

    @classmethod
    def from_ggml(cls, ggml_type: GGMLType, blocks: np.ndarray) -> GroupWeight:
        """Stored rows (N, row_bytes) uint8 of a Q4_0, Q4_1 or Q8_0 tensor -> its arrays, bit for bit."""
        ggml_type = GGMLType(ggml_type)
        n = blocks.shape[0]
        if ggml_type is GGMLType.Q8_0:  # d: f16 | qs: 32 x int8
            b = blocks.reshape(n, -1, 34)
            codes = np.ascontiguousarray(b[:, :, 2:]).view(np.int8).reshape(n, -1)
            return cls(8, torch.from_numpy(codes), _f16(b, 0), None)
        if ggml_type is GGMLType.Q4_1:  # d: f16 | m: f16 | qs: 16 bytes
            b = blocks.reshape(n, -1, 20)
            codes = np.ascontiguousarray(b[:, :, 4:]).reshape(n, -1)
            return cls(4, torch.from_numpy(codes), _f16(b, 0), _f16(b, 2))
        if ggml_type is GGMLType.Q4_0:  # d: f16 | qs: 16 bytes; w = d (q - 8) = d q + (-8 d), exact
            b = blocks.reshape(n, -1, 18)
            codes = np.ascontiguousarray(b[:, :, 2:]).reshape(n, -1)
            scale = _f16(b, 0)
            return cls(4, torch.from_numpy(codes), scale, (scale.float() * -8).half())
        raise ValueError(f"ggml_type: {ggml_type.name} has no group kernel; supported: Q4_0, Q4_1, Q8_0")

    @classmethod
    def from_float(cls, w: torch.Tensor | np.ndarray, bits: int) -> GroupWeight:
        """Round-to-nearest quantization in groups of 32: ggml's Q4_1 (min/max) for 4 bits, Q8_0
        (absmax, symmetric) for 8. W (N, K) with K a multiple of 32."""
        if bits not in (4, 8):
            raise ValueError(f"bits must be 4 or 8, got {bits!r}")
        w = w.detach().float().numpy() if isinstance(w, torch.Tensor) else np.asarray(w, np.float32)
        ggml_type = GGMLType.Q4_1 if bits == 4 else GGMLType.Q8_0
        return cls.from_ggml(ggml_type, ggml_quantize(w, ggml_type))

    def to_int8(self) -> GroupWeight:
        """The same weights with 8-bit codes (exact: 4-bit codes fit, scales and mins unchanged)."""
        if self.bits == 8:
            return self
        return GroupWeight(8, int4.unpack(self.codes).to(torch.int8), self.scale, self.min)

    @staticmethod
    def cat(parts: list[GroupWeight]) -> GroupWeight:
        """Stack the rows of several weights (fused q/k/v, gate/up); mixed widths widen to int8."""
        if len({p.bits for p in parts}) > 1:
            parts = [p.to_int8() for p in parts]
        mins = None
        if any(p.min is not None for p in parts):
            mins = torch.cat([p.min if p.min is not None else torch.zeros_like(p.scale) for p in parts])
        return GroupWeight(
            parts[0].bits, torch.cat([p.codes for p in parts]), torch.cat([p.scale for p in parts]), mins
        )

    def rows(self, index: torch.Tensor) -> GroupWeight:
        """The weight rows `index` (an embedding lookup)."""
        mins = None if self.min is None else self.min[index]
        return GroupWeight(self.bits, self.codes[index], self.scale[index], mins)


# our compiled kernels as torch operators, by (kernel, bits)
OPS = {
    ("native", 4): native.q4_matmul_op,
    ("native", 8): native.q8_matmul_op,
    ("dot8", 4): native.q4_matmul_dot8_op,
    ("dot8", 8): native.q8_matmul_dot8_op,
}


def default_kernel(bits: int, out_features: int = 16) -> str:
    """Our compiled kernel when it built; else PyTorch's int4 kernel where its packing fits, or the
    float reference (PyTorch's int8 kernel takes one scale per row, not per group)."""
    if native.available():
        return "native"
    return "torch" if bits == 4 and int4.torch_supports(out_features) else "reference"


def _register(module: nn.Module, weight: GroupWeight) -> None:
    """The weight's arrays as buffers; float16 scales and mins are stored as their int16 bits, so that
    `model.to(dtype)` (which converts floating buffers) cannot round them."""
    module.register_buffer("codes", weight.codes)
    module.register_buffer("scale_bits", weight.scale.view(torch.int16))
    module.register_buffer("min_bits", None if weight.min is None else weight.min.view(torch.int16))


def _weight(module: nn.Module) -> GroupWeight:
    mins = None if module.min_bits is None else module.min_bits.view(torch.float16)
    return GroupWeight(module.bits, module.codes, module.scale_bits.view(torch.float16), mins)


class QuantizedLinear(nn.Module):
    """y = x Wᵀ (+ b) with W kept as a GroupWeight and the optional bias in float32.

    `kernel`: "native" (ours), "dot8" (ours with int8 activations: faster, not bit-faithful to the float
    weights), "torch" (PyTorch's int4 kernel, bfloat16 activations, 4 bits only) or "reference"
    (dequantize + float32 matmul); None picks `default_kernel`.
    """

    def __init__(self, weight: GroupWeight, kernel: str | None = None, bias: torch.Tensor | None = None):
        super().__init__()
        kernel = kernel or default_kernel(weight.bits, weight.shape[0])
        if kernel == "torch" and not int4.torch_supports(weight.shape[0]):
            kernel = "reference"  # PyTorch's packing needs N % 16 == 0; same weights, float path
        allowed = int4.KERNELS if weight.bits == 4 else int8.KERNELS
        if kernel not in allowed:
            raise ValueError(f"kernel must be one of {allowed} for {weight.bits}-bit weights, got {kernel!r}")
        if kernel in ("native", "dot8") and not native.available():
            raise ValueError(
                f"kernel: {kernel!r} needs the compiled kernels, which did not build (see the warning)"
            )
        self.bits, self.kernel = weight.bits, kernel
        self.out_features, self.in_features = weight.shape
        _register(self, weight)
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())
        self._fused = self._exact = None  # compiled functions for `_decode_step`, on arrays checked here
        if kernel in ("native", "dot8"):
            native.check_weight(weight.bits, weight.codes, weight.scale, weight.min)
            self._fused = native.function(weight.bits, dot8=kernel == "dot8")
            self._exact = native.function(weight.bits)
        if kernel == "torch":
            packed, scales_and_zeros = int4.torch_pack(weight.codes, weight.scale, weight.min)
            self.register_buffer("packed", packed, persistent=False)
            self.register_buffer("scales_and_zeros", scales_and_zeros, persistent=False)

    @property
    def weight(self) -> GroupWeight:
        return _weight(self)

    scale = property(lambda self: self.scale_bits.view(torch.float16))
    min = property(lambda self: None if self.min_bits is None else self.min_bits.view(torch.float16))

    def dequantize(self) -> torch.Tensor:
        """W (N, K) float32, exactly the float weight this layer stands for."""
        return self.weight.dequantize()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., K) -> (..., N) in x's dtype."""
        y = self._decode_step(x) if self._fused is not None else None
        if y is None:
            y = self._matmul(x)
        return y if self.bias is None else y + self.bias.to(y.dtype)

    def _decode_step(self, x: torch.Tensor) -> torch.Tensor | None:
        """The common decode case, float32 x of 1-`FUSED_MAX_ROWS` contiguous rows (one sequence, or a
        serving step's batch), straight into our compiled kernel: the general path's reshapes, casts
        and checks cost more than a small layer's multiply (~25 µs per call measured, 121 calls per
        SmolLM2 token). None: not that case."""
        rows = x.numel() // self.in_features
        if (
            not 0 < rows <= FUSED_MAX_ROWS
            or x.dtype != torch.float32
            or x.shape[-1] != self.in_features
            or not x.is_contiguous()
            or torch.compiler.is_compiling()
        ):
            return None
        y = x.new_empty(*x.shape[:-1], self.out_features)
        mins = None if self.min_bits is None else self.min_bits.data_ptr()
        fused = self._fused if rows <= DOT8_MAX_ROWS else self._exact
        status = fused(
            x.data_ptr(), self.codes.data_ptr(), self.scale_bits.data_ptr(), mins, y.data_ptr(),
            rows, self.out_features, self.in_features, torch.get_num_threads(),
        )  # fmt: skip
        if status:  # only the dot8 kernels allocate (x's int8 copy)
            raise MemoryError(f"{self.kernel} kernel: could not allocate the int8 copy of x")
        return y

    def _matmul(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // self.in_features
        if self.kernel == "reference" or rows > FUSED_MAX_ROWS or rows == 0:
            return F.linear(x.float(), self._dense()).to(x.dtype)
        if self.kernel == "torch":
            return int4.matmul_torch(x, self.packed, self.scales_and_zeros)
        if torch.compiler.is_compiling() or self.kernel == "dot8":
            kernel = self.kernel if rows <= DOT8_MAX_ROWS else "native"
            op = OPS[kernel, self.bits]  # torch operators, which torch.compile can call
            y = op(x.reshape(-1, self.in_features).float().contiguous(), self.codes, self.scale, self.min)
            return y.reshape(*x.shape[:-1], self.out_features).to(x.dtype)
        fused = int4.matmul_native if self.bits == 4 else int8.matmul_native
        y = fused(x, self.codes, self.scale, self.min)
        return y if x.dtype == torch.float32 else y.to(x.dtype)

    def _dense(self) -> torch.Tensor:
        """The float32 weight for a GEMM, rebuilt by the compiled kernel when it is there (faster)."""
        if self.kernel not in ("native", "dot8"):
            return self.dequantize()
        if self.bits == 4:
            return native.q4_dequantize(self.codes, self.scale, self.min)
        return native.q8_dequantize(self.codes, self.scale, self.min)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, bits={self.bits}, group=32, kernel={self.kernel}"


class QuantizedEmbedding(nn.Module):
    """Token embeddings gathered from a GroupWeight (N = vocabulary, K = width): only the looked-up
    rows are dequantized. Give it the LM head's `weight` to share its storage (tied embeddings)."""

    def __init__(self, weight: GroupWeight):
        super().__init__()
        self.bits = weight.bits
        self.num_embeddings, self.embedding_dim = weight.shape
        _register(self, weight)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (...) -> (..., K) float32."""
        rows = _weight(self).rows(ids.reshape(-1))
        return rows.dequantize().reshape(*ids.shape, self.embedding_dim)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, bits={self.bits}, group=32"


def quantize_linears(model: nn.Module, bits: int, kernel: str | None = None) -> list[str]:
    """Replace every nn.Linear whose input width is a multiple of 32 by a round-to-nearest
    QuantizedLinear (in place); returns the names replaced. Weights tied to another module (an LM head
    sharing the embedding) are left in float so the tie holds."""
    seen: dict[int, int] = {}
    for module in model.modules():
        for p in module.parameters(recurse=False):
            seen[id(p)] = seen.get(id(p), 0) + 1
    replaced = []
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if not isinstance(child, nn.Linear) or child.in_features % GROUP:
                continue
            if seen.get(id(child.weight), 0) > 1:
                continue
            weight = GroupWeight.from_float(child.weight, bits)
            setattr(module, child_name, QuantizedLinear(weight, kernel, child.bias))
            replaced.append(f"{name}.{child_name}" if name else child_name)
    return replaced


def stacked_weight(parts: list[tuple[GGMLType, np.ndarray]], form: str, notes: Counter):
    """The rows of several GGUF matrices (stored data as `GGUFReader.tensor` gives it, rows already in
    our order), stacked into one weight in the form `form` asks for: a GroupWeight, or a float32 array
    where it stays float. What is not bit-exact is counted in `notes` (see `log_notes`).

    auto: Q4_0/Q4_1 -> int4 and Q8_0 -> int8, bit-exact; float types stay float; any other type (the
          K-quants) has no group kernel here and is dequantized to float32.
    int4 / int8: exact where the blocks fit (Q4_* -> int4; Q8_0 and Q4_* -> int8), else round-to-nearest
          in groups of 32 from the dequantized values.
    """
    kinds = {GGMLType(kind) for kind, _ in parts}
    bits = {"int4": 4, "int8": 8}.get(form)
    fits = GGML_KERNEL_TYPES if form == "auto" else EXACT[bits]
    width = parts[0][1].shape[-1] if parts[0][1].ndim == 2 else 0
    if width and kinds <= set(fits):
        if len(kinds) == 1:  # the stored bytes (stacked), split into codes, scales and mins
            raws = [raw for _, raw in parts]
            weight = GroupWeight.from_ggml(kinds.pop(), raws[0] if len(raws) == 1 else np.concatenate(raws))
            return weight.to_int8() if bits == 8 else weight
        pieces = [GroupWeight.from_ggml(kind, raw) for kind, raw in parts]
        return GroupWeight.cat([p.to_int8() for p in pieces] if bits == 8 else pieces)
    dense = np.concatenate([ggml_dequantize(raw, kind) for kind, raw in parts])
    if dense.ndim != 2 or dense.shape[1] % GROUP:
        return dense
    if form == "auto":
        for kind in kinds - set(FLOAT_TYPES):
            notes[f"{kind.name} has no group kernel here: dequantized to float32"] += 1
        return dense
    scheme = "Q4_1: min/max" if bits == 4 else "Q8_0: absmax"
    for kind in kinds - set(fits):
        notes[
            f"{kind.name} -> int{bits}: quantized at load, round-to-nearest in groups of 32 ({scheme})"
        ] += 1
    return GroupWeight.from_float(dense, bits)


def log_notes(notes: Counter, source: str) -> None:
    """One log line per kind of conversion that was not bit-exact (logged once per load)."""
    for note, count in notes.items():
        log.warning("%s: %d weight(s): %s", source, count, note)


def use_kernel(model: nn.Module, kernel: str) -> int:
    """Rebuild every QuantizedLinear of `model` to compute with `kernel` (same weights; 8-bit layers
    keep theirs where the kernel is 4-bit only); returns how many layers changed."""
    changed = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if not isinstance(child, QuantizedLinear) or child.kernel == kernel:
                continue
            if kernel not in (int4.KERNELS if child.bits == 4 else int8.KERNELS):
                continue
            setattr(module, name, QuantizedLinear(child.weight, kernel, child.bias))
            changed += 1
    return changed
