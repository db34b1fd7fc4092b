"""Save and load a quantized Llama: packed tensors in one safetensors file plus a JSON manifest.

    DIR/manifest.json        {"format": "groundup-quantized-llm", "version": 1, "config": {...Llama config},
                              "quantization": {method, bits, ...}, "modules": {path: {kind, shape, bits, ...}},
                              "tensors": {name: [dtype, shape]}}
    DIR/model.safetensors    weight-only: <path>.codes (bit-packed uint8), .scale (f16), .zero (u8),
                             .g_idx (i32, act-order only); w8a8: .codes (i8), .scale (f32);
                             nf4: .codes (packed 4-bit), .absmax (f32) or .dq_codes/.dq_scale/.dq_mean;
                             every other parameter in float32 (a tied head is stored once)

Loading checks the manifest against the tensors (names, dtypes, shapes) before it builds anything, so
a mismatched checkpoint raises CheckpointError and no model is half-loaded.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from groundup.errors import GroundupError
from groundup.quant.llm.arch import set_module
from groundup.quant.llm.nf4 import NF4Linear
from groundup.quant.llm.qweight import QuantizedWeight, WeightOnlyLinear, default_g_idx
from groundup.quant.llm.smoothquant import W8A8Linear
from groundup.quant.nf4 import DoubleQuant, NF4Tensor
from groundup.quant.packing import pack_bits, unpack_bits
from groundup.reports import write_json

FORMAT, VERSION = "groundup-quantized-llm", 1
MANIFEST, TENSORS = "manifest.json", "model.safetensors"


class CheckpointError(GroundupError):
    """A quantized checkpoint that is missing, of another format, or inconsistent with its manifest."""


def _weight_only(path: str, m: WeightOnlyLinear) -> tuple[dict, dict]:
    qw = m.qweight
    tensors = {
        f"{path}.codes": pack_bits(qw.codes, qw.bits),
        f"{path}.scale": qw.scale.half(),
        f"{path}.zero": qw.zero.to(torch.uint8),
    }
    if not qw.has_trivial_g_idx():
        tensors[f"{path}.g_idx"] = qw.g_idx.to(torch.int32)
    return tensors, {
        "kind": "weight_only",
        "shape": list(qw.shape),
        "bits": qw.bits,
        "group_size": qw.group_size,
    }


def _w8a8(path: str, m: W8A8Linear) -> tuple[dict, dict]:
    tensors = {f"{path}.codes": m.weight_codes, f"{path}.scale": m.weight_scale}
    return tensors, {"kind": "w8a8", "shape": [m.out_features, m.in_features]}


def _nf4(path: str, m: NF4Linear) -> tuple[dict, dict]:
    t = m.nf4
    tensors = {f"{path}.codes": pack_bits(t.codes, 4)}
    info = {"kind": "nf4", "shape": list(t.shape), "block_size": t.block_size}
    if t.double is None:
        tensors[f"{path}.absmax"] = t.absmax
    else:
        d = t.double
        tensors |= {
            f"{path}.dq_codes": d.codes,
            f"{path}.dq_scale": d.scale,
            f"{path}.dq_mean": d.mean.reshape(1),
        }
        info |= {"dq_block_size": d.block_size, "dq_count": d.count}
    return tensors, info


SAVERS = {WeightOnlyLinear: _weight_only, W8A8Linear: _w8a8, NF4Linear: _nf4}


def save_quantized(model: nn.Module, directory: str | Path, quantization: dict) -> Path:
    """Write `model` (a quantized groundup Llama) to `directory`; returns the manifest path."""
    directory = Path(directory)
    tensors, modules = {}, {}
    for path, module in model.named_modules():
        saver = SAVERS.get(type(module))
        if saver is not None:
            t, info = saver(path, module)
            if module.bias is not None:
                t[f"{path}.bias"] = module.bias.detach().float()
            info["bias"] = module.bias is not None
            tensors |= t
            modules[path] = info
    quantized_prefixes = tuple(f"{p}." for p in modules)
    seen = set()
    for name, p in model.named_parameters():  # named_parameters yields a tied weight once
        if not name.startswith(quantized_prefixes) and id(p) not in seen:
            seen.add(id(p))
            tensors[name] = p.detach().float().contiguous()
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "architecture": "llama",
        "config": asdict(model.cfg),
        "quantization": quantization,
        "modules": modules,
        "tensors": {k: [str(v.dtype).removeprefix("torch."), list(v.shape)] for k, v in tensors.items()},
    }
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".{TENSORS}.part"  # renamed into place: a crash leaves no torn file
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(partial))
    os.replace(partial, directory / TENSORS)
    return write_json(directory / MANIFEST, manifest)  # last: the folder is loadable once it exists


def _read(directory: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    if not (directory / MANIFEST).is_file() or not (directory / TENSORS).is_file():
        raise CheckpointError(f"{directory} is not a quantized checkpoint: it needs {MANIFEST} and {TENSORS}")
    manifest = json.loads((directory / MANIFEST).read_text())
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise CheckpointError(
            f"{directory / MANIFEST}: expected format {FORMAT!r} version {VERSION}, found "
            f"{manifest.get('format')!r} version {manifest.get('version')}"
        )
    with safe_open(str(directory / TENSORS), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    expected = manifest.get("tensors", {})
    problems = [f"missing tensor {k}" for k in expected if k not in tensors]
    problems += [f"unexpected tensor {k}" for k in tensors if k not in expected]
    for k, (dtype, shape) in expected.items():
        if k in tensors and (
            str(tensors[k].dtype).removeprefix("torch.") != dtype or list(tensors[k].shape) != shape
        ):
            problems.append(
                f"{k}: manifest says {dtype}{shape}, file has {str(tensors[k].dtype).removeprefix('torch.')}"
                f"{list(tensors[k].shape)}"
            )
    if problems:
        raise CheckpointError(
            f"{directory}: manifest and tensors disagree ({'; '.join(problems[:5])}); nothing was loaded"
        )
    return manifest, tensors


def _build(path: str, info: dict, t: dict[str, torch.Tensor]) -> nn.Module:
    out_f, in_f = info["shape"]
    bias = t.get(f"{path}.bias")
    if info["kind"] == "weight_only":
        bits, gs = info["bits"], info["group_size"]
        codes = unpack_bits(t[f"{path}.codes"], bits, out_f * in_f).reshape(out_f, in_f)
        g_idx = t[f"{path}.g_idx"].long() if f"{path}.g_idx" in t else default_g_idx(in_f, gs)
        qw = QuantizedWeight(
            codes, t[f"{path}.scale"].float(), t[f"{path}.zero"].to(torch.int32), g_idx, bits, gs
        )
        return WeightOnlyLinear(qw, bias)
    if info["kind"] == "w8a8":
        return W8A8Linear(t[f"{path}.codes"], t[f"{path}.scale"], bias)
    if info["kind"] == "nf4":
        codes = unpack_bits(t[f"{path}.codes"], 4, out_f * in_f)
        double = None
        if f"{path}.dq_codes" in t:
            double = DoubleQuant(
                t[f"{path}.dq_codes"],
                t[f"{path}.dq_scale"],
                t[f"{path}.dq_mean"][0],
                info["dq_block_size"],
                info["dq_count"],
            )
        absmax = t.get(f"{path}.absmax")
        return NF4Linear(
            NF4Tensor(codes, absmax, torch.Size(info["shape"]), info["block_size"], double), bias
        )
    raise CheckpointError(
        f"module {path}: unknown kind {info['kind']!r} (this groundup reads {', '.join(['weight_only', 'w8a8', 'nf4'])})"
    )


def load_quantized(directory: str | Path) -> tuple[nn.Module, dict]:
    """(model, quantization info) from `save_quantized`'s directory; CheckpointError if inconsistent."""
    from groundup.models.llama import Llama, LlamaConfig

    directory = Path(directory)
    manifest, tensors = _read(directory)
    if manifest.get("architecture") != "llama":
        raise CheckpointError(
            f"{directory}: architecture {manifest.get('architecture')!r} is not supported (llama)"
        )
    cfg = LlamaConfig(**manifest["config"])
    built = {
        path: _build(path, info, tensors) for path, info in manifest["modules"].items()
    }  # before any model
    model = Llama(cfg)
    float_state = {k: v for k, v in tensors.items() if not k.startswith(tuple(f"{p}." for p in built))}
    expected = {k for k in model.state_dict() if not k.startswith(tuple(f"{p}." for p in built))}
    if cfg.tie_embeddings:
        expected.discard("lm_head.weight")
    if set(float_state) != expected:
        raise CheckpointError(
            f"{directory}: float tensors do not fit the model (missing {sorted(expected - set(float_state))[:3]}, "
            f"unexpected {sorted(set(float_state) - expected)[:3]}); nothing was loaded"
        )
    for path, module in built.items():
        set_module(model, path, module)
    model.load_state_dict(float_state, strict=False)
    if cfg.tie_embeddings:
        model.lm_head.weight = model.embed.weight
    return model.eval(), manifest["quantization"]
