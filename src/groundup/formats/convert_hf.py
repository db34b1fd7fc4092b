"""Hugging Face Llama checkpoints <-> GGUF: `hf_to_gguf(folder, out, ftype)` and `gguf_to_hf(file, folder)`.

A Hugging Face model folder holds `config.json` (the hyper-parameters), the weights in
`model.safetensors` (or shards listed in `model.safetensors.index.json`) and the tokenizer
(`tokenizer.json`, `tokenizer_config.json`). A GGUF holds the same in one file, renamed:

    model.embed_tokens.weight                     token_embd.weight
    model.layers.{i}.self_attn.{q,k,v,o}_proj     blk.{i}.attn_{q,k,v,output}
    model.layers.{i}.mlp.{gate,up,down}_proj      blk.{i}.ffn_{gate,up,down}
    model.layers.{i}.input_layernorm              blk.{i}.attn_norm
    model.layers.{i}.post_attention_layernorm     blk.{i}.ffn_norm
    model.norm / lm_head                          output_norm / output (absent when tied)

and with one real change: llama.cpp's rotary embedding turns *adjacent* pairs of each head's
dimensions (2i, 2i+1), Hugging Face's turns the two halves (i, i + D/2). The q and k rows are
therefore reordered per head, from (2, D/2) to (D/2, 2) (`to_llama_cpp_rows`), and back on the
way out. Config keys become `llama.*` metadata; Llama 3's rope scaling becomes the `rope_freqs`
factors llama.cpp reads.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np

from groundup.errors import GroundupError
from groundup.formats.convert import TensorSource, write_model
from groundup.formats.ggml_types import GGMLType
from groundup.formats.gguf import Field, GGUFReader, ValueType
from groundup.formats.gguf_writer import atomic_output
from groundup.formats.hf_tokenizer import gguf_tokenizer_fields, hf_tokenizer_files
from groundup.formats.safetensors import SafetensorsFile, save_file

ARCHITECTURES = ("LlamaForCausalLM",)
LAYER_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
}
GLOBAL_NAMES = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}
_HF_LAYER = re.compile(r"model\.layers\.(\d+)\.(.+)\.weight")


def to_llama_cpp_rows(rows: np.ndarray, n_heads: int) -> np.ndarray:
    """q/k projection rows, per head from halves (2, D/2) to interleaved pairs (D/2, 2)."""
    n = rows.shape[0]
    return rows.reshape(n_heads, 2, n // n_heads // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def from_llama_cpp_rows(rows: np.ndarray, n_heads: int) -> np.ndarray:
    """The inverse of `to_llama_cpp_rows`."""
    n = rows.shape[0]
    return rows.reshape(n_heads, n // n_heads // 2, 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


# ---------------------------------------------------------------- Hugging Face -> GGUF


def read_config(folder: Path) -> dict:
    """config.json, checked to describe a Llama-architecture causal LM."""
    path = folder / "config.json"
    if not path.is_file():
        raise GroundupError(
            f"{path} is missing; expected a Hugging Face model folder (config.json, *.safetensors)"
        )
    config = json.loads(path.read_text(encoding="utf-8"))
    archs = config.get("architectures") or []
    if not any(a in ARCHITECTURES for a in archs) and not (not archs and config.get("model_type") == "llama"):
        raise GroundupError(
            f"{path}: architecture {archs or config.get('model_type')!r} is not supported; "
            f"supported: {', '.join(ARCHITECTURES)} (Llama, SmolLM2, ...)"
        )
    return config


def open_weights(folder: Path) -> dict[str, SafetensorsFile]:
    """Tensor name -> the safetensors file holding it: `model.safetensors`, or every shard named by
    `model.safetensors.index.json` (each must exist and hold the tensors the index puts in it)."""
    single, index = folder / "model.safetensors", folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        files: dict[str, SafetensorsFile] = {}
        located = {}
        for name, shard in weight_map.items():
            if shard not in files:
                if not (folder / shard).is_file():
                    raise GroundupError(f"{folder / shard} is missing; {index.name} lists it for {name!r}")
                files[shard] = SafetensorsFile(folder / shard)
            if name not in files[shard]:
                raise GroundupError(
                    f"{folder / shard} does not hold {name!r}, which {index.name} says it does"
                )
            located[name] = files[shard]
        return located
    if single.is_file():
        weights = SafetensorsFile(single)
        return {name: weights for name in weights.shapes}
    found = ", ".join(sorted(p.name for p in folder.glob("*.bin"))) or "none"
    raise GroundupError(
        f"{folder}: no model.safetensors or model.safetensors.index.json (PyTorch .bin files: {found}); "
        "save the model with safe_serialization=True"
    )


def _rope(config: dict) -> tuple[float, dict]:
    """(rope theta, scaling dict) from either config style (transformers 4 `rope_theta`/`rope_scaling`,
    transformers 5 `rope_parameters`)."""
    params = config.get("rope_parameters") or {}
    theta = params.get("rope_theta", config.get("rope_theta", 10000.0))
    scaling = config.get("rope_scaling") or params
    kind = scaling.get("rope_type", scaling.get("type", "default")) if scaling else "default"
    return float(theta), {**scaling, "rope_type": kind}


def llama3_rope_factors(theta: float, head_dim: int, scaling: dict) -> np.ndarray:
    """Llama 3.1's frequency-dependent rope stretch, as the per-frequency divisors llama.cpp stores in
    `rope_freqs.weight`: long wavelengths are divided by `factor`, short ones kept, a smooth ramp between."""
    factor = scaling.get("factor", 8.0)
    low, high = scaling.get("low_freq_factor", 1.0), scaling.get("high_freq_factor", 4.0)
    old = scaling.get("original_max_position_embeddings", 8192)
    factors = []
    for i in range(0, head_dim, 2):
        wavelen = 2 * math.pi * theta ** (i / head_dim)
        if wavelen < old / high:
            factors.append(1.0)
        elif wavelen > old / low:
            factors.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(factors, dtype=np.float32)


def _llama_fields(config: dict, folder: Path) -> list[Field]:
    heads = config["num_attention_heads"]
    dim = config["hidden_size"]
    head_dim = config.get("head_dim") or dim // heads
    theta, scaling = _rope(config)
    u32, f32 = ValueType.UINT32, ValueType.FLOAT32
    items = [
        ("general.architecture", "llama", ValueType.STRING),
        ("general.type", "model", ValueType.STRING),
        ("general.name", folder.resolve().name, ValueType.STRING),
        ("llama.block_count", config["num_hidden_layers"], u32),
        ("llama.context_length", config.get("max_position_embeddings", 2048), u32),
        ("llama.embedding_length", dim, u32),
        ("llama.feed_forward_length", config["intermediate_size"], u32),
        ("llama.attention.head_count", heads, u32),
        ("llama.attention.head_count_kv", config.get("num_key_value_heads") or heads, u32),
        ("llama.rope.freq_base", theta, f32),
        ("llama.attention.layer_norm_rms_epsilon", config.get("rms_norm_eps", 1e-6), f32),
        ("llama.vocab_size", config["vocab_size"], u32),
        ("llama.rope.dimension_count", head_dim, u32),
    ]
    if head_dim != dim // heads:
        items += [
            ("llama.attention.key_length", head_dim, u32),
            ("llama.attention.value_length", head_dim, u32),
        ]
    if scaling["rope_type"] == "linear":
        items += [
            ("llama.rope.scaling.type", "linear", ValueType.STRING),
            ("llama.rope.scaling.factor", scaling["factor"], f32),
        ]
    elif scaling["rope_type"] not in ("default", "llama3"):
        raise GroundupError(
            f"{folder / 'config.json'}: rope scaling {scaling['rope_type']!r} is not supported; supported: linear, llama3"
        )
    return [Field(name, vtype, value) for name, value, vtype in items]


def _gguf_name(hf_name: str) -> str | None:
    """The GGUF name of a Hugging Face tensor; None for ones llama.cpp does not store."""
    if hf_name.endswith("rotary_emb.inv_freq"):
        return None
    match = _HF_LAYER.fullmatch(hf_name)
    if match and match[2] in LAYER_NAMES:
        return f"blk.{match[1]}.{LAYER_NAMES[match[2]]}.weight"
    stem = hf_name.removesuffix(".weight")
    if stem in GLOBAL_NAMES and hf_name.endswith(".weight"):
        return f"{GLOBAL_NAMES[stem]}.weight"
    raise GroundupError(
        f"tensor {hf_name!r} is not part of a Llama checkpoint (expected {', '.join(LAYER_NAMES)} ...)"
    )


def hf_sources(folder: Path, config: dict) -> dict[str, TensorSource]:
    """GGUF name -> the Hugging Face tensor as float32 (q/k rows in llama.cpp's order), read on demand."""
    weights = open_weights(folder)
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    tied = config.get("tie_word_embeddings", False) or "lm_head.weight" not in weights
    sources = {}
    for hf_name, file in weights.items():
        name = _gguf_name(hf_name)
        if name is None or (name == "output.weight" and tied):
            continue
        n_heads = (
            heads if name.endswith("attn_q.weight") else kv_heads if name.endswith("attn_k.weight") else 0
        )

        def floats(file=file, hf_name=hf_name, n_heads=n_heads):
            w = np.asarray(file.get(hf_name), dtype=np.float32)
            return to_llama_cpp_rows(w, n_heads) if n_heads else w

        sources[name] = TensorSource(tuple(file.shapes[hf_name]), GGMLType.F32, floats, floats)
    missing = {"token_embd.weight", "output_norm.weight"} - set(sources)
    if missing:
        raise GroundupError(f"{folder}: the checkpoint lacks {sorted(missing)}; not a complete Llama model")
    return sources


def hf_to_gguf(
    folder: str | os.PathLike, dst: str | os.PathLike, ftype: str = "f16", pure: bool = False
) -> Path:
    """Convert the Llama checkpoint in `folder` to a GGUF of llama.cpp file type `ftype`
    ("f16", "q8_0", "q4_k_m", ...; norms stay float32, as llama.cpp's converter keeps them)."""
    folder = Path(folder)
    config = read_config(folder)
    fields = _llama_fields(config, folder)
    fields += [Field(k, t, v, i) for k, v, t, i in gguf_tokenizer_fields(folder, config.get("vocab_size"))]
    sources = hf_sources(folder, config)
    theta, scaling = _rope(config)
    if scaling["rope_type"] == "llama3":
        head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
        factors = llama3_rope_factors(theta, head_dim, scaling)
        sources["rope_freqs.weight"] = TensorSource(
            factors.shape, GGMLType.F32, lambda: factors, lambda: factors
        )
    return write_model(dst, fields, sources, ftype, pure, order="llama.cpp")


# ---------------------------------------------------------------- GGUF -> Hugging Face


def hf_config(meta: dict, tied: bool) -> dict:
    """config.json for transformers' LlamaForCausalLM from a GGUF's llama.* metadata."""
    if meta.get("general.architecture") != "llama":
        raise GroundupError(
            f"architecture {meta.get('general.architecture')!r} is not supported; supported: llama"
        )
    heads = meta["llama.attention.head_count"]
    dim = meta["llama.embedding_length"]
    config = {
        "architectures": list(ARCHITECTURES),
        "model_type": "llama",
        "hidden_size": dim,
        "intermediate_size": meta["llama.feed_forward_length"],
        "num_hidden_layers": meta["llama.block_count"],
        "num_attention_heads": heads,
        "num_key_value_heads": meta.get("llama.attention.head_count_kv", heads),
        "head_dim": meta.get("llama.attention.key_length", dim // heads),
        "max_position_embeddings": meta["llama.context_length"],
        "rms_norm_eps": meta.get("llama.attention.layer_norm_rms_epsilon", 1e-5),
        "rope_theta": meta.get("llama.rope.freq_base", 10000.0),
        "vocab_size": meta.get("llama.vocab_size") or len(meta.get("tokenizer.ggml.tokens", [])),
        "tie_word_embeddings": tied,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "torch_dtype": "float32",
    }
    if meta.get("llama.rope.scaling.type") == "linear":
        config["rope_scaling"] = {"rope_type": "linear", "factor": meta["llama.rope.scaling.factor"]}
    for short in ("bos", "eos", "padding"):
        if f"tokenizer.ggml.{short}_token_id" in meta:
            config[f"{'pad' if short == 'padding' else short}_token_id"] = meta[
                f"tokenizer.ggml.{short}_token_id"
            ]
    return config


def gguf_to_hf(src: str | os.PathLike, folder: str | os.PathLike, dtype: str = "float32") -> Path:
    """Write `folder`: config.json, model.safetensors (dequantized, in `dtype`), tokenizer.json and
    tokenizer_config.json, which transformers' `from_pretrained` loads."""
    if dtype not in ("float32", "float16"):
        raise ValueError(f"dtype: expected 'float32' or 'float16', got {dtype!r}")
    reader = GGUFReader(src)
    meta = reader.metadata
    if "rope_freqs.weight" in reader.tensors:
        raise GroundupError(
            f"{src}: rope_freqs (Llama 3 rope scaling) cannot be written back to a config.json yet"
        )
    tied = "output.weight" not in reader.tensors
    config = hf_config(meta, tied)
    back = {v: k for k, v in LAYER_NAMES.items()} | {v: k for k, v in GLOBAL_NAMES.items()}
    tensors = {}
    for name in reader.tensors:
        parts = name.split(".")
        w = reader.dequantize(name)
        if parts[0] == "blk":
            if parts[2] in ("attn_q", "attn_k"):
                heads = (
                    config["num_attention_heads"] if parts[2] == "attn_q" else config["num_key_value_heads"]
                )
                w = from_llama_cpp_rows(w, heads)
            hf_name = f"model.layers.{parts[1]}.{back[parts[2]]}.weight"
        elif parts[0] in back:
            hf_name = f"{back[parts[0]]}.weight"
        else:
            raise GroundupError(f"{src}: tensor {name!r} has no Hugging Face Llama counterpart")
        tensors[hf_name] = w.astype(dtype)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    files = {"config.json": config, **hf_tokenizer_files(meta)}
    files["generation_config.json"] = {k: config[k] for k in ("bos_token_id", "eos_token_id") if k in config}
    for filename, content in files.items():
        with atomic_output(folder / filename) as f:
            f.write(json.dumps(content, indent=2, ensure_ascii=False).encode("utf-8"))
    return folder
