"""Llama (Touvron et al. 2023): the decoder of SmolLM2, Llama 2/3, Mistral-style models.

    tokens -> embedding -> n_layers x [x += attn(rmsnorm(x)); x += swiglu(rmsnorm(x))] -> rmsnorm -> head

with rotary positions and grouped-query attention. `Llama.from_gguf(path)` reads the config from the
GGUF metadata (`llama.*` keys) and the weights through our GGUF reader: dequantized to float32 (or
bfloat16), or kept quantized (`weights="auto" | "int8" | "int4"`, `models/quantized.py`).

Llama speaks the one model interface of `layers.CausalLM` (generate, perplexity, the serving engine):

    forward(input_ids (..., T), positions (..., T) | None, kv_cache | None, logits_index) -> logits

Positions are explicit so left-padded batches and packed sequences work; the KV cache decides where
keys and values live (see `groundup.models.layers`).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from groundup.errors import GroundupError
from groundup.models.layers import (
    Attention,
    CacheSpec,
    ContiguousKVCache,
    KVCache,
    NoCache,
    RMSNorm,
    RotaryEmbedding,
    SwiGLU,
    resolve_positions,
)
from groundup.models.static_decode import can_use as can_use_static_decode


@dataclass
class LlamaConfig:
    vocab_size: int
    dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    hidden_dim: int
    max_context: int = 2048
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    rope_scaling: float = 1.0  # linear position interpolation factor
    tie_embeddings: bool = True
    head_dim: int = 0  # 0: dim // n_heads

    def __post_init__(self):
        for name in ("vocab_size", "dim", "n_layers", "n_heads", "n_kv_heads", "hidden_dim", "max_context"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.head_dim == 0:
            self.head_dim = self.dim // self.n_heads
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_kv_heads: {self.n_kv_heads} must divide n_heads {self.n_heads}")

    @classmethod
    def from_gguf_metadata(cls, meta: dict) -> LlamaConfig:
        arch = meta.get("general.architecture")
        if arch != "llama":
            raise GroundupError(
                f"unsupported architecture {arch!r} in the GGUF file; supported: 'llama' (Llama, SmolLM2, ...)"
            )

        def key(name, default=None):
            """A required (or defaulted) positive number: 0 heads or blocks is a broken file."""
            value = meta.get(f"llama.{name}", default)
            if value is None:
                raise GroundupError(
                    f"GGUF metadata lacks llama.{name}; the file is not a complete Llama model"
                )
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float("inf"):
                raise GroundupError(f"GGUF metadata llama.{name} = {value!r}; it must be a positive number")
            return value

        n_heads = key("attention.head_count")
        vocab = meta.get("llama.vocab_size") or len(meta.get("tokenizer.ggml.tokens", []))
        scaling_type = meta.get("llama.rope.scaling.type", "none")
        if scaling_type not in ("none", "linear"):
            raise GroundupError(f"rope scaling {scaling_type!r} is not supported; supported: none, linear")
        dim = key("embedding_length")
        return cls(
            vocab_size=vocab,
            dim=dim,
            n_layers=key("block_count"),
            n_heads=n_heads,
            n_kv_heads=key("attention.head_count_kv", n_heads),
            hidden_dim=key("feed_forward_length"),
            max_context=key("context_length"),
            norm_eps=key("attention.layer_norm_rms_epsilon", 1e-5),
            rope_theta=key("rope.freq_base", 10000.0),
            rope_scaling=meta.get("llama.rope.scaling.factor", 1.0) if scaling_type == "linear" else 1.0,
            head_dim=meta.get("llama.attention.key_length", dim // n_heads),
        )


# How `from_gguf` keeps the weights: dequantized to float, or quantized (see `models/quantized.py`).
WEIGHTS = ("float", "float32", "bfloat16", "auto", "int8", "int4")
QUANTIZED_FORMS = ("auto", "int8", "int4")


class LlamaBlock(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.attn = Attention(cfg.dim, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim)
        self.mlp_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.mlp = SwiGLU(cfg.dim, cfg.hidden_dim)

    def forward(self, x, kv_cache, layer, rope) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), kv_cache, layer, rope)  # (..., T, C)
        return x + self.mlp(self.mlp_norm(x))


class Llama(nn.Module):
    def __init__(self, cfg: LlamaConfig, freq_factors: torch.Tensor | None = None):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.rope = RotaryEmbedding(
            cfg.head_dim, cfg.max_context, cfg.rope_theta, cfg.rope_scaling, freq_factors
        )
        self.blocks = nn.ModuleList(LlamaBlock(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.embed.weight
        self.decode_step = None  # single-token step: `static_decode.py` (compilable), `native_decode.py` (C)

    vocab_size = property(lambda self: self.cfg.vocab_size)
    max_context = property(lambda self: self.cfg.max_context)
    cache_spec = property(lambda self: CacheSpec(self.cfg.n_layers, self.cfg.n_kv_heads, self.cfg.head_dim))

    def forward(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor | None = None,
        kv_cache: KVCache | None = None,
        logits_index: torch.Tensor | slice | None = None,
        num_layers: int | None = None,
    ) -> torch.Tensor:
        """input_ids (..., T) -> logits (..., T, vocab), or only the rows `logits_index` of the T axis
        (e.g. `slice(-1, None)` in generation: the head is the most expensive matmul of a small model).
        Without a cache, attention is causal over these T tokens and positions default to 0..T-1;
        `num_layers` runs only the first layers (a layer-skip draft model)."""
        if self.decode_step is not None and can_use_static_decode(input_ids, positions, kv_cache, num_layers):
            return self.decode_step(input_ids, kv_cache)
        positions = resolve_positions(input_ids, positions, kv_cache, self.cfg.max_context)
        kv_cache = NoCache() if kv_cache is None else kv_cache
        x = self.embed(input_ids)  # (..., T, C)
        rope = self.rope(positions)  # (cos, sin), shared by all layers
        blocks = self.blocks if num_layers is None else self.blocks[:num_layers]
        for layer, block in enumerate(blocks):
            x = block(x, kv_cache, layer, rope)
        if logits_index is not None:
            x = x[..., logits_index, :]
        return self.lm_head(self.norm(x))  # (..., T, vocab)

    def new_cache(self, batch_size: int = 1, max_len: int | None = None) -> ContiguousKVCache:
        """A pre-allocated cache for `batch_size` sequences of up to `max_len` tokens."""
        return ContiguousKVCache.for_model(self, batch_size, max_len)

    @classmethod
    def from_gguf(
        cls, path: str | os.PathLike, dtype: torch.dtype = torch.float32, weights: str = "float"
    ) -> Llama:
        """Build the model from a GGUF file (the bundled SmolLM2 by default in the CLI).

        `weights` (see `WEIGHTS`): "float" dequantizes every tensor to `dtype`; "float32" and
        "bfloat16" name that dtype; "auto" keeps Q4_0/Q4_1 tensors as int4 and Q8_0 as int8 groups
        (bit-exact, computed by `groundup.kernels`) and other types in float32; "int8" and "int4" put
        every projection and the embedding in that width (exactly where the file's blocks fit,
        round-to-nearest in groups of 32 otherwise, with a note). Quantized models compute in float32,
        their single-token decode steps in one C call where the model qualifies (`native_decode.py`).
        """
        from groundup.formats.gguf import GGUFReader

        if weights not in WEIGHTS:
            raise ValueError(f"weights must be one of {', '.join(WEIGHTS)}, got {weights!r}")
        reader = GGUFReader(path)
        cfg = LlamaConfig.from_gguf_metadata(reader.metadata)
        cfg.tie_embeddings = "output.weight" not in reader.tensors
        factors = None
        if "rope_freqs.weight" in reader.tensors:
            factors = torch.from_numpy(reader.dequantize("rope_freqs.weight"))
        check_tensor_shapes(cfg, reader.tensors)
        with _init_skipped():  # weights about to be loaded need no random init
            model = cls(cfg, factors)
        if weights in QUANTIZED_FORMS:
            from groundup.models.native_decode import enable_native_decode

            _load_quantized(model, reader, weights)
            enable_native_decode(model)  # the step in C where it qualifies (GROUNDUP_NATIVE_STEP=0: off)
            return model.eval()
        model.load_state_dict(_state_dict_from_gguf(reader, cfg), strict=True, assign=True)
        if cfg.tie_embeddings:
            model.lm_head.weight = model.embed.weight
        dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}.get(weights, dtype)
        return model.to(dtype).eval()


@contextlib.contextmanager
def _init_skipped():
    """Linear and Embedding layers built inside skip their random init. The weights are left
    uninitialized (torch.empty: untouched pages cost no memory) until the loaded ones replace them.
    Cheaper than building on the meta device, whose first arithmetic imports torch._dynamo (2-9 s)."""
    saved = nn.Linear.reset_parameters, nn.Embedding.reset_parameters
    nn.Linear.reset_parameters = nn.Embedding.reset_parameters = lambda self: None
    try:
        yield
    finally:
        nn.Linear.reset_parameters, nn.Embedding.reset_parameters = saved


def check_tensor_shapes(cfg: LlamaConfig, tensors: dict) -> None:
    """The metadata must describe the tensors the file holds. A file whose keys were edited or
    converted badly would otherwise fail deep inside the model with an index or size error; here the
    error names the key, its value and what the tensors imply."""
    blocks = {int(name.split(".")[1]) for name in tensors if name.startswith("blk.")}
    if blocks != set(range(cfg.n_layers)):
        raise GroundupError(
            f"GGUF metadata llama.block_count = {cfg.n_layers}, but the file holds tensors for "
            f"{len(blocks)} blocks; the metadata does not describe this file's tensors"
        )
    dim, q_rows, kv_rows = cfg.dim, cfg.n_heads * cfg.head_dim, cfg.n_kv_heads * cfg.head_dim
    heads = (
        f"llama.attention.head_count = {cfg.n_heads} x head size {cfg.head_dim} "
        f"(llama.attention.head_count_kv = {cfg.n_kv_heads})"
    )
    hidden = f"llama.feed_forward_length = {cfg.hidden_dim}"
    width = f"llama.embedding_length = {dim}"
    expected = {"token_embd.weight": ((cfg.vocab_size, dim), f"vocabulary {cfg.vocab_size}, {width}")}
    expected["output_norm.weight"] = ((dim,), width)
    for i in range(cfg.n_layers):
        b = f"blk.{i}."
        expected |= {
            b + "attn_q.weight": ((q_rows, dim), f"{heads}, {width}"),
            b + "attn_k.weight": ((kv_rows, dim), f"{heads}, {width}"),
            b + "attn_v.weight": ((kv_rows, dim), f"{heads}, {width}"),
            b + "attn_output.weight": ((dim, q_rows), f"{width}, {heads}"),
            b + "ffn_gate.weight": ((cfg.hidden_dim, dim), f"{hidden}, {width}"),
            b + "ffn_up.weight": ((cfg.hidden_dim, dim), f"{hidden}, {width}"),
            b + "ffn_down.weight": ((dim, cfg.hidden_dim), f"{width}, {hidden}"),
            b + "attn_norm.weight": ((dim,), width),
            b + "ffn_norm.weight": ((dim,), width),
        }
    for name, (shape, implied_by) in expected.items():
        if name not in tensors:
            raise GroundupError(f"GGUF file lacks tensor {name!r}; not a complete Llama model")
        found = tuple(tensors[name].shape)
        if found != shape:
            raise GroundupError(
                f"tensor {name} is {found}, but the metadata ({implied_by}) implies {shape}; "
                "the metadata does not describe this file's tensors"
            )


def unpermute(w: np.ndarray, n_heads: int) -> np.ndarray:
    """Undo llama.cpp's q/k row order (pairs interleaved per head) back to the half-split order our
    RoPE uses: rows of each head go from (D/2, 2) to (2, D/2)."""
    rows, cols = w.shape
    return w.reshape(n_heads, rows // n_heads // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols)


def _gguf_sources(cfg: LlamaConfig) -> dict[str, list[tuple[str, int | None]]]:
    """Each of our weights -> the GGUF tensors whose rows it stacks, with the head count of those
    whose rows must be unpermuted (q and k) or None."""
    sources = {"embed.weight": [("token_embd.weight", None)], "norm.weight": [("output_norm.weight", None)]}
    if not cfg.tie_embeddings:
        sources["lm_head.weight"] = [("output.weight", None)]
    for i in range(cfg.n_layers):
        b, p = f"blk.{i}.", f"blocks.{i}."
        sources[p + "attn.qkv.weight"] = [
            (b + "attn_q.weight", cfg.n_heads),
            (b + "attn_k.weight", cfg.n_kv_heads),
            (b + "attn_v.weight", None),
        ]
        sources[p + "attn.out.weight"] = [(b + "attn_output.weight", None)]
        sources[p + "mlp.gate_up.weight"] = [(b + "ffn_gate.weight", None), (b + "ffn_up.weight", None)]
        sources[p + "mlp.down.weight"] = [(b + "ffn_down.weight", None)]
        sources[p + "attn_norm.weight"] = [(b + "attn_norm.weight", None)]
        sources[p + "mlp_norm.weight"] = [(b + "ffn_norm.weight", None)]
    return sources


def _state_dict_from_gguf(reader, cfg: LlamaConfig) -> dict[str, torch.Tensor]:
    def get(name: str, heads: int | None) -> np.ndarray:
        if name not in reader.tensors:
            raise GroundupError(f"GGUF file lacks tensor {name!r}; not a complete Llama model")
        w = reader.dequantize(name)
        return unpermute(w, heads) if heads else w

    sd = {
        key: np.concatenate([get(name, heads) for name, heads in parts])
        for key, parts in _gguf_sources(cfg).items()
    }
    state = {name: torch.from_numpy(np.ascontiguousarray(w)) for name, w in sd.items()}
    if cfg.tie_embeddings:
        state["lm_head.weight"] = state["embed.weight"]
    return state


def _load_quantized(model: Llama, reader, form: str) -> None:
    """Fill a freshly built Llama from the GGUF file with quantized layers where `form` asks for them
    (`quantized.stacked_weight`); everything else (norms, float tensors) is assigned in float32."""
    from collections import Counter

    from groundup.models.quantized import (
        GroupWeight,
        QuantizedEmbedding,
        QuantizedLinear,
        log_notes,
        stacked_weight,
    )

    notes: Counter = Counter()
    floats = {}
    for key, parts in _gguf_sources(model.cfg).items():
        stored = []
        for name, heads in parts:
            raw = _read_stored(reader, name)  # rows of blocks: unpermuting moves whole rows
            stored.append((reader.tensors[name].ggml_type, unpermute(raw, heads) if heads else raw))
        weight = stacked_weight(stored, form, notes)
        if not isinstance(weight, GroupWeight):
            floats[key] = torch.from_numpy(np.ascontiguousarray(weight))
        elif key == "embed.weight":
            model.embed = QuantizedEmbedding(weight)
            if model.cfg.tie_embeddings:
                model.lm_head = QuantizedLinear(weight)
        else:
            parent, _, child = key.removesuffix(".weight").rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, child, QuantizedLinear(weight))
    model.load_state_dict(floats, strict=False, assign=True)
    if model.cfg.tie_embeddings and "embed.weight" in floats:
        model.lm_head.weight = model.embed.weight
    log_notes(notes, reader.path.name)


def _read_stored(reader, name: str) -> np.ndarray:
    """A tensor's stored bytes read from the file (as `GGUFReader.tensor` views them). A plain read,
    not the memory map: pages of a mapped file count in the process's resident memory for as long as
    the map lives, so mapping the whole file while building the model would hold it twice."""
    from groundup.formats.ggml_quants import raw_view

    info = reader.tensors[name]
    flat = np.fromfile(reader.path, dtype=np.uint8, count=info.n_bytes, offset=info.offset)
    return raw_view(flat, info.ggml_type, info.shape)
