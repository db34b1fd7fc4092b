"""The single-token decode step of a Llama in one compiled call (`kernels/csrc/decode_step.c`).

An eager decode step runs a few thousand small PyTorch operations per token (norms, rotary, attention,
residuals, views), each paying Python and dispatcher overhead: on SmolLM2 about 20 ms of a 45-49 ms
step is not the matmuls. `NativeDecode` hands the whole step to C: the embedding row, every RMSNorm,
the fused q/k/v projection and its split, rotary with `RotaryEmbedding`'s own cos/sin tables (so rope
scaling and frequency factors stay ours), the K/V written into the `ContiguousKVCache` buffers in
place, grouped-query attention over positions 0..pos (float32 softmax, max subtracted), the output
projection, SwiGLU and the head, calling `groundup.kernels`' matmuls for every projection.

    step, why_not = enable_native_decode(model)  # sets model.decode_step = NativeDecode(model), or not
    model(ids (1, 1), kv_cache=cache)     # Llama.forward routes batch-1 single-token steps here

It computes what the eager path computes: the projections are the same kernels on the same inputs,
the elementwise steps the same float32 operations, only long sums (mean square, attention) add in
another order. Anything it does not cover falls back to the eager step: batch > 1, a cache with a
window or ALiBi or not float32, gradients wanted (a float head), dynamic NTK past its original context.
`Llama.from_gguf` turns it on for quantized weights; `GROUNDUP_NATIVE_STEP=0` turns it off.
"""

from __future__ import annotations

import ctypes
import os

import torch
from torch import nn

from groundup.kernels import native
from groundup.models.layers import Attention, ContiguousKVCache, RMSNorm, RotaryEmbedding, SwiGLU
from groundup.models.quantized import QuantizedEmbedding, QuantizedLinear

_p, _i64, _f32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
SCRATCH = ("x", "xn", "proj", "qkv", "att", "scores", "gate_up", "act")  # gu_model's buffers, in order


class _Linear(ctypes.Structure):  # gu_linear
    _fields_ = [
        ("codes", _p), ("scale", _p), ("min", _p), ("bias", _p),
        ("out", _i64), ("in_", _i64), ("bits", ctypes.c_int32), ("dot8", ctypes.c_int32),
    ]  # fmt: skip


class _Layer(ctypes.Structure):  # gu_layer
    _fields_ = [
        ("qkv", _Linear), ("out", _Linear), ("gate_up", _Linear), ("down", _Linear),
        ("attn_norm", _p), ("mlp_norm", _p), ("attn_eps", _f32), ("mlp_eps", _f32),
    ]  # fmt: skip


class _Model(ctypes.Structure):  # gu_model
    _fields_ = [
        *[(name, _i64) for name in ("dim", "n_layers", "n_heads", "n_kv_heads", "head_dim", "hidden")],
        ("vocab", _i64), ("max_positions", _i64), ("norm_eps", _f32), ("attn_scale", _f32),
        ("embed", _Linear), ("norm", _p), ("head", _Linear), ("layers", _p), ("cos", _p), ("sin", _p),
        *[(name, _p) for name in SCRATCH],
    ]  # fmt: skip


def _library():
    """The compiled library with the step's functions declared, or None."""
    lib = native.load()
    if lib is None or not hasattr(lib, "gu_decode_step"):
        return None
    if lib.gu_decode_step.argtypes is None:
        lib.gu_decode_step.argtypes = [ctypes.POINTER(_Model), _i64, _i64, _p, _p, _i64, _p, ctypes.c_int]
        lib.gu_decode_step.restype = ctypes.c_int
    return lib


def _float32(t: torch.Tensor | None) -> bool:
    return t is None or (t.dtype == torch.float32 and t.device.type == "cpu" and t.is_contiguous())


def _projection_problem(name: str, m: nn.Module) -> str | None:
    """Why the C step cannot compute projection `name`, or None."""
    if isinstance(m, QuantizedLinear):
        if m.kernel not in ("native", "dot8"):
            return f"{name} uses the {m.kernel!r} kernel (the C step calls the native and dot8 kernels)"
        return None if _float32(m.bias) else f"{name}: its bias is not contiguous float32 on the CPU"
    if type(m) is nn.Linear:
        if _float32(m.weight) and _float32(m.bias):
            return None
        return f"{name} is a {m.weight.dtype} nn.Linear (the C step reads float32 or group-quantized weights)"
    return f"{name} is a {type(m).__name__}, not a QuantizedLinear or a float32 nn.Linear"


def native_decode_problem(model: nn.Module) -> str | None:
    """None when `NativeDecode(model)` can compute the model's single-token step, else a one-line reason.

    It needs the compiled library, a Llama (embed, rope, blocks of RMSNorm + Attention + SwiGLU of one
    shape, norm, lm_head) whose projections are QuantizedLinear with our native or dot8 kernel (or
    float32 nn.Linear), float32 norms and rotary tables, and no dropout. Batch 1 is checked per call."""
    if _library() is None:
        if native.load() is None:
            return "the compiled kernels are unavailable (GROUNDUP_NATIVE_KERNELS=0 or no C compiler)"
        return "the compiled library has no gu_decode_step (an older build)"
    for attr in ("embed", "rope", "blocks", "norm", "lm_head"):
        if not hasattr(model, attr):
            return f"the model has no {attr!r} (a Llama-style decoder is needed)"
    rope, embed = model.rope, model.embed
    if not isinstance(rope, RotaryEmbedding) or not (_float32(rope.cos) and _float32(rope.sin)):
        return "the rotary tables are not float32 RotaryEmbedding buffers on the CPU"
    if not (
        isinstance(embed, QuantizedEmbedding) or (type(embed) is nn.Embedding and _float32(embed.weight))
    ):
        return (
            f"the embedding is a {type(embed).__name__} (needs QuantizedEmbedding or a float32 nn.Embedding)"
        )
    if embed.num_embeddings != getattr(model.lm_head, "out_features", None):
        return "the embedding and the head have different vocabularies"
    norms, projections = [("norm", model.norm)], [("lm_head", model.lm_head)]
    for i, block in enumerate(model.blocks):
        problem = _block_problem(block, model.blocks[0])
        if problem:
            return f"block {i}: {problem}"
        norms += [(f"blocks.{i}.attn_norm", block.attn_norm), (f"blocks.{i}.mlp_norm", block.mlp_norm)]
        for part in ("attn.qkv", "attn.out", "mlp.gate_up", "mlp.down"):
            projections.append((f"blocks.{i}.{part}", block.get_submodule(part)))
    for name, norm in norms:
        if type(norm) is not RMSNorm or not _float32(norm.weight):
            return f"{name} is not a float32 RMSNorm"
    for name, m in projections:
        problem = _projection_problem(name, m)
        if problem:
            return problem
    return None


def _block_problem(block: nn.Module, first: nn.Module) -> str | None:
    """Why the C step cannot run `block` (with the shapes of the model's `first` block), or None."""
    attn, mlp = getattr(block, "attn", None), getattr(block, "mlp", None)
    if type(attn) is not Attention or type(mlp) is not SwiGLU or not hasattr(block, "mlp_norm"):
        return "not RMSNorm + Attention + SwiGLU"
    if not isinstance(attn.resid_dropout, nn.Identity):
        return "it has dropout"
    shape = (attn.n_heads, attn.n_kv_heads, attn.head_dim, attn.scale, mlp.down.in_features)
    ref = first.attn
    if shape != (ref.n_heads, ref.n_kv_heads, ref.head_dim, ref.scale, first.mlp.down.in_features):
        return "its heads or hidden size differ from block 0's"
    return "an odd head size" if attn.head_dim % 2 else None


def _table(m: nn.Module, rows: int, cols: int, bias=None, dot8: bool = False) -> _Linear:
    """The gu_linear of a (rows, cols) float32 weight or group-quantized table (pointers into m's tensors)."""
    bias = None if bias is None else bias.data_ptr()
    if isinstance(m, (nn.Linear, nn.Embedding)):
        return _Linear(m.weight.data_ptr(), None, None, bias, rows, cols, 32, 0)
    mins = None if m.min_bits is None else m.min_bits.data_ptr()
    return _Linear(m.codes.data_ptr(), m.scale_bits.data_ptr(), mins, bias, rows, cols, m.bits, int(dot8))


def _linear(m: nn.Module) -> _Linear:
    """A QuantizedLinear or float32 nn.Linear, with its bias and kernel."""
    return _table(m, m.out_features, m.in_features, m.bias, getattr(m, "kernel", None) == "dot8")


def _embedding(m: nn.Module) -> _Linear:
    """A QuantizedEmbedding or float32 nn.Embedding (rows gathered, never multiplied)."""
    return _table(m, m.num_embeddings, m.embedding_dim)


def _slots(model: nn.Module) -> list[tuple[dict, str, nn.Module]]:
    """(parent._modules, name, child) for every module the plan reads: replacing one (e.g.
    `quantized.use_kernel`) makes the plan stale."""
    slots = [
        (model._modules, name, model._modules[name])
        for name in ("embed", "rope", "blocks", "norm", "lm_head")
    ]
    for block in model.blocks:
        for parent, names in (
            (block, ("attn_norm", "attn", "mlp_norm", "mlp")),
            (block.attn, ("qkv", "out")),
            (block.mlp, ("gate_up", "down")),
        ):
            slots += [(parent._modules, name, parent._modules[name]) for name in names]
    return slots


class NativeDecode:
    """model(input_ids (1, 1), kv_cache) for a Llama whose step the C code covers (see the module
    docstring); other calls run the eager step. The model's description (pointers into its tensors)
    and the scratch buffers are built once and rebuilt when a module of the model is replaced. One
    call at a time: the scratch buffers are shared by every call."""

    def __init__(self, model: nn.Module):
        problem = native_decode_problem(model)
        if problem:
            raise ValueError(f"model: the native decode step cannot run it: {problem}")
        self.model, self.lib, self.problem = model, _library(), None
        self.calls = self.fallbacks = 0
        self._build()

    def _build(self) -> None:
        m = self.model
        blocks, attn = list(m.blocks), m.blocks[0].attn
        dim, hidden = m.norm.weight.shape[0], blocks[0].mlp.down.in_features
        h, hkv, d = attn.n_heads, attn.n_kv_heads, attn.head_dim
        positions = m.rope.cos.shape[0]
        sizes = dict(x=dim, xn=dim, proj=dim, qkv=(h + 2 * hkv) * d, att=h * d, scores=positions)
        sizes |= dict(gate_up=2 * hidden, act=hidden)
        self._scratch = {name: torch.empty(sizes[name]) for name in SCRATCH}  # float32, reused every step
        layers = (_Layer * len(blocks))()
        for layer, b in zip(layers, blocks, strict=True):
            layer.qkv, layer.out = _linear(b.attn.qkv), _linear(b.attn.out)
            layer.gate_up, layer.down = _linear(b.mlp.gate_up), _linear(b.mlp.down)
            layer.attn_norm, layer.mlp_norm = b.attn_norm.weight.data_ptr(), b.mlp_norm.weight.data_ptr()
            layer.attn_eps, layer.mlp_eps = b.attn_norm.eps, b.mlp_norm.eps
        self._layers = layers
        self._desc = _Model(
            dim, len(blocks), h, hkv, d, hidden, m.lm_head.out_features, positions, m.norm.eps, attn.scale,
            _embedding(m.embed), m.norm.weight.data_ptr(), _linear(m.lm_head), ctypes.addressof(layers),
            m.rope.cos.data_ptr(), m.rope.sin.data_ptr(),
            *(self._scratch[name].data_ptr() for name in SCRATCH),
        )  # fmt: skip
        self._desc_ref = ctypes.byref(self._desc)
        self._slots = _slots(m)
        self._keep = list(m.parameters()) + list(m.buffers())  # the pointed-to tensors stay alive
        # the eager step's logits carry gradients only through a float head (our kernels have none)
        self._needs_grad = type(m.lm_head) is nn.Linear and any(p.requires_grad for p in m.parameters())
        rs = m.rope.rope_scaling
        dynamic = rs is not None and rs.kind == "dynamic"  # past its original context: new angles
        self._max_pos = min(positions, rs.original_max_positions) if dynamic else positions
        self._vocab = m.lm_head.out_features

    def refresh(self) -> None:
        """Re-read the model (after its modules or tensors were replaced rather than modified in place).
        A model that no longer qualifies (`problem` says why) runs the eager step until it does again."""
        self.problem = native_decode_problem(self.model)
        if self.problem is None:
            self._build()
        else:
            self._slots = _slots(self.model)

    def covers(self, input_ids: torch.Tensor, kv_cache: ContiguousKVCache) -> bool:
        """Whether this call is one the C step computes (the rest go to the eager step)."""
        k, pos = kv_cache.k, kv_cache.length
        return (
            input_ids.shape[0] == 1
            and k.shape[1] == 1
            and k.dtype == torch.float32
            and k.device.type == "cpu"
            and k.is_contiguous()
            and kv_cache.v.is_contiguous()
            and kv_cache.window is None
            and kv_cache.alibi_slopes is None
            and pos < self._max_pos
            and not (self._needs_grad and torch.is_grad_enabled())
        )

    def __call__(self, input_ids: torch.Tensor, kv_cache: ContiguousKVCache) -> torch.Tensor:
        """input_ids (1, 1) -> logits (1, 1, vocab); writes the token's K/V and advances the cache."""
        if not all(parent.get(name) is child for parent, name, child in self._slots):
            self.refresh()
        if self.problem is not None or not self.covers(input_ids, kv_cache):
            self.fallbacks += 1
            return self.eager(input_ids, kv_cache)
        if torch.autograd._profiler_enabled():  # one named span in torch.profiler's tables and traces
            with torch.profiler.record_function("groundup::native_decode_step"):
                return self._step(input_ids, kv_cache)
        return self._step(input_ids, kv_cache)

    def _step(self, input_ids: torch.Tensor, kv_cache: ContiguousKVCache) -> torch.Tensor:
        logits = torch.empty(1, 1, self._vocab)
        status = self.lib.gu_decode_step(
            self._desc_ref, int(input_ids[0, 0]), kv_cache.length,
            kv_cache.k.data_ptr(), kv_cache.v.data_ptr(), kv_cache.max_len,
            logits.data_ptr(), torch.get_num_threads(),
        )  # fmt: skip
        if status == -2:
            raise IndexError(
                f"input_ids: token {int(input_ids[0, 0])} is outside the vocabulary of {self._vocab}"
            )
        if status:
            raise MemoryError("native decode step: a dot8 kernel could not allocate the int8 copy of x")
        kv_cache.lengths = [n + 1 for n in kv_cache.lengths]
        self.calls += 1
        return logits

    def eager(self, input_ids: torch.Tensor, kv_cache: ContiguousKVCache) -> torch.Tensor:
        """The model's PyTorch step for this call (the hook switched off while it runs)."""
        saved, self.model.decode_step = self.model.decode_step, None
        try:
            return self.model(input_ids, kv_cache=kv_cache)
        finally:
            self.model.decode_step = saved


def enable_native_decode(model: nn.Module) -> tuple[NativeDecode | None, str | None]:
    """Route the model's single-token steps through a NativeDecode where it qualifies and
    GROUNDUP_NATIVE_STEP is not 0; returns (the step or None, the reason when None)."""
    if os.environ.get("GROUNDUP_NATIVE_STEP", "1") == "0":
        return None, "switched off (GROUNDUP_NATIVE_STEP=0)"
    problem = native_decode_problem(model)
    if problem:
        return None, problem
    model.decode_step = NativeDecode(model)
    return model.decode_step, None
