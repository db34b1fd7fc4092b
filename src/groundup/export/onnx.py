"""Export models to ONNX with dynamic batch and sequence axes, and run them on ONNX Runtime.

ONNX is a graph of standard operators (MatMul, Softmax, Gather, ...) with typed, shaped inputs; an
engine (ONNX Runtime, TensorRT, OpenVINO) fuses and schedules it without Python. `torch.onnx.export`
traces the model into that graph. Every axis we do not declare dynamic is frozen to the example's
size, so the batch and sequence axes are named `Dim`s here (LeNet: batch; GPT: batch, sequence;
Llama: batch, new tokens, cached tokens).

A decoder needs its KV cache *as tensors* to run step by step in an engine: `LlamaWithCache` takes
`past_keys`/`past_values` (layers, B, Hkv, P, D) and returns `present_keys`/`present_values`
(layers, B, Hkv, P + T, D) beside the logits, so a runtime loop feeds each step's presents back as
the next step's pasts (`OnnxCausalLM.generate`). Attention is written out as matmul + masked softmax
over the P + T keys (the query at position P + i sees keys 0..P + i), which every exporter and engine
supports; the Llama blocks themselves are the model's own, called through a cache object.

onnx, onnxscript and onnxruntime are optional (`pip install onnx onnxscript onnxruntime`); they are
imported only inside the functions that need them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from groundup.errors import GroundupError

INSTALL_HINT = "pip install onnx onnxscript onnxruntime (or: pip install 'groundup[onnx]')"


def require(module: str):
    """Import an optional ONNX package, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise GroundupError(f"{module} is not installed; {INSTALL_HINT}") from exc


class TensorKVCache:
    """A KV cache held in plain tensors, for export: reads layer l's past keys/values, appends this
    step's, and keeps the concatenations as the presents (a `models.layers.KVCache`)."""

    def __init__(self, past_keys: torch.Tensor, past_values: torch.Tensor):
        self.past_keys, self.past_values = past_keys, past_values  # (L, B, Hkv, P, D)
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []

    @property
    def length(self):
        return self.past_keys.shape[3]

    def attend(self, layer, q, k, v, scale=None):
        keys = torch.cat([self.past_keys[layer], k.transpose(1, 2)], dim=2)  # (B, Hkv, P + T, D)
        values = torch.cat([self.past_values[layer], v.transpose(1, 2)], dim=2)
        self.keys.append(keys)
        self.values.append(values)
        q = q.transpose(1, 2)  # (B, H, T, D)
        group = q.shape[1] // keys.shape[1]
        keys, values = keys.repeat_interleave(group, dim=1), values.repeat_interleave(group, dim=1)
        scores = (q @ keys.transpose(-1, -2)) * scale  # (B, H, T, P + T)
        t, total = q.shape[2], keys.shape[2]
        query_pos = torch.arange(t, device=q.device)[:, None] + (total - t)  # (T, 1)
        visible = torch.arange(total, device=q.device)[None, :] <= query_pos  # (T, P + T)
        scores = scores.masked_fill(~visible, float("-inf"))
        return (scores.softmax(dim=-1) @ values).transpose(1, 2)  # (B, T, H, D)


class LlamaWithCache(nn.Module):
    """(input_ids (B, T), past_keys, past_values (L, B, Hkv, P, D)) -> (logits (B, T, V), present_keys,
    present_values (L, B, Hkv, P + T, D)): the Llama forward with its cache as inputs and outputs."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, past_keys, past_values):
        m = self.model
        cache = TensorKVCache(past_keys, past_values)
        past = past_keys.shape[3]
        positions = torch.arange(input_ids.shape[1], device=input_ids.device) + past  # (T,)
        x = m.embed(input_ids)  # (B, T, C)
        rope = m.rope(positions)
        for layer, block in enumerate(m.blocks):
            x = block(x, cache, layer, rope)
        logits = m.lm_head(m.norm(x))
        return logits, torch.stack(cache.keys), torch.stack(cache.values)


class CausalLogits(nn.Module):
    """input_ids (B, T) -> logits (B, T, V): any `CausalLM`'s plain causal forward (no cache)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids)


def empty_cache(model: nn.Module, batch: int = 1, length: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero past keys and values (L, B, Hkv, length, D) for `LlamaWithCache`."""
    spec = model.cache_spec
    shape = (spec.n_layers, batch, spec.n_kv_heads, length, spec.head_dim)
    return torch.zeros(shape), torch.zeros(shape)


def _export(
    module: nn.Module, args: tuple, path: Path, names: tuple, outputs: tuple, shapes, optimize: bool = True
) -> Path:
    require("onnxscript")
    require("onnx")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.onnx")
    try:
        with torch.no_grad():
            program = torch.onnx.export(
                module.eval(), args, dynamo=True, input_names=list(names), output_names=list(outputs),
                dynamic_shapes=shapes, optimize=optimize, verbose=False,
            )  # fmt: skip
        program.save(str(tmp))  # weights inside the file (small models) and checked below
        check(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def export_classifier(
    model: nn.Module, path: str | os.PathLike, image_shape=(1, 28, 28), optimize: bool = True
) -> Path:
    """An image classifier (B, C, H, W) -> (B, classes) with a dynamic batch axis. `optimize` runs
    onnxscript's graph optimizer (constant folding, fusions) before saving."""
    batch = torch.export.Dim("batch", min=1, max=4096)
    example = torch.randn(2, *image_shape)
    return _export(model, (example,), path, ("images",), ("logits",), {"x": {0: batch}}, optimize)


def export_causal_lm(model: nn.Module, path: str | os.PathLike, optimize: bool = True) -> Path:
    """A causal LM's full forward, input_ids (B, T) -> logits (B, T, V), dynamic batch and sequence."""
    batch = torch.export.Dim("batch", min=1, max=1024)
    seq = torch.export.Dim("sequence", min=1, max=model.max_context)
    example = torch.zeros(2, 8, dtype=torch.int64)
    shapes = {"input_ids": {0: batch, 1: seq}}
    return _export(CausalLogits(model), (example,), path, ("input_ids",), ("logits",), shapes, optimize)


def export_llama_with_cache(model: nn.Module, path: str | os.PathLike, optimize: bool = True) -> Path:
    """Llama with a KV-cache input/output pair: dynamic batch, new tokens T and cached tokens P
    (P may be 0 for the prompt: ONNX tensors can have an empty axis)."""
    batch = torch.export.Dim("batch", min=1, max=1024)
    seq = torch.export.Dim("sequence", min=1, max=model.max_context)
    past = torch.export.Dim("past", min=0, max=model.max_context - 1)
    ids = torch.zeros(2, 3, dtype=torch.int64)
    keys, values = empty_cache(model, batch=2, length=5)
    shapes = {
        "input_ids": {0: batch, 1: seq},
        "past_keys": {1: batch, 3: past},
        "past_values": {1: batch, 3: past},
    }
    names, outputs = ("input_ids", "past_keys", "past_values"), ("logits", "present_keys", "present_values")
    return _export(LlamaWithCache(model), (ids, keys, values), path, names, outputs, shapes, optimize)


def check(path: str | os.PathLike) -> None:
    """onnx.checker's full check (types, shapes, operator sets) of the saved model."""
    onnx = require("onnx")
    onnx.checker.check_model(str(path), full_check=True)


def session(path: str | os.PathLike, threads: int = 1):
    """An ONNX Runtime CPU session over the file."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxCausalLM:
    """Greedy decoding on ONNX Runtime over a `LlamaWithCache` export: the prompt in one call with an
    empty cache, then one token per call with the presents fed back as pasts."""

    def __init__(self, path: str | os.PathLike, cache_spec, threads: int = 1):
        self.session = session(path, threads)
        self.spec = cache_spec

    def step(self, ids: np.ndarray, keys: np.ndarray, values: np.ndarray):
        """ids (B, T) int64, pasts (L, B, Hkv, P, D) -> (logits (B, T, V), present keys, present values)."""
        return self.session.run(None, {"input_ids": ids, "past_keys": keys, "past_values": values})

    def generate(self, prompt: list[int], max_new_tokens: int, eos_id: int | None = None) -> list[int]:
        s = self.spec
        keys = values = np.zeros((s.n_layers, 1, s.n_kv_heads, 0, s.head_dim), np.float32)
        ids = np.array([prompt], dtype=np.int64)
        out: list[int] = []
        for _ in range(max_new_tokens):
            logits, keys, values = self.step(ids, keys, values)
            token = int(logits[0, -1].argmax())
            out.append(token)
            if token == eos_id:
                break
            ids = np.array([[token]], dtype=np.int64)
        return out
