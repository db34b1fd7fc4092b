"""Checkpoints: everything a run needs to continue bit-identically, in one safetensors file.

Tensors (model weights, AdamW moments, both RNG states) are safetensors entries; the rest (config,
step, schedule, optimizer hyperparameters, vocabulary, early-stopping state) is JSON in the file's
string metadata. A save writes a temporary file beside the target, reads it back, keeps a hard link
to the previous checkpoint as `ckpt.prev.safetensors`, then renames over `ckpt.safetensors`: a run
killed at any moment leaves either the old or the new checkpoint, never a torn one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from groundup.errors import GroundupError

FORMAT = "groundup-train-checkpoint"
VERSION = "1"
CKPT_NAME = "ckpt.safetensors"
PREV_NAME = "ckpt.prev.safetensors"


class CheckpointError(GroundupError):
    """A checkpoint is missing, corrupt, or does not fit the run that wants it."""


@dataclass
class Checkpoint:
    model: dict[str, torch.Tensor]
    optimizer: dict | None
    meta: dict  # config, step, scheduler, vocab, early stopping, anything JSON
    rng: dict[str, torch.Tensor]


def checkpoint_path(directory: str | os.PathLike) -> Path:
    path = Path(directory)
    return path if path.suffix == ".safetensors" else path / CKPT_NAME


def flatten(model_state: dict, optimizer_state: dict | None, rng: dict) -> tuple[dict, dict]:
    """Tensors keyed 'model.*', 'optim.<param index>.<name>', 'rng.*'; the non-tensor optimizer parts."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous().clone() for k, v in model_state.items()}
    optim_meta = None
    if optimizer_state is not None:
        for index, state in optimizer_state["state"].items():
            for name, value in state.items():
                tensors[f"optim.{index}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous().clone()
        optim_meta = {
            "param_groups": optimizer_state["param_groups"],
            "indices": list(optimizer_state["state"]),
        }
    tensors.update({f"rng.{k}": v.clone() for k, v in rng.items()})
    return tensors, optim_meta


def save_checkpoint(directory, *, model_state, optimizer_state, rng: dict, meta: dict) -> Path:
    """Write the checkpoint atomically; the previous one survives as ckpt.prev.safetensors."""
    target = checkpoint_path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    tensors, optim_meta = flatten(model_state, optimizer_state, rng)
    header = {"format": FORMAT, "version": VERSION, "meta": json.dumps(meta), "optim": json.dumps(optim_meta)}
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.part.safetensors")
    try:
        save_file(tensors, str(tmp), metadata=header)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        load_checkpoint(tmp)  # never promote a file that does not read back
        if target.exists():
            prev_tmp = target.with_name(f".{PREV_NAME}.{os.getpid()}.part")
            prev_tmp.unlink(missing_ok=True)
            os.link(target, prev_tmp)
            os.replace(prev_tmp, target.with_name(PREV_NAME))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def not_a_run(path: Path) -> str:
    """Why the file `path` is not a training run, and what to use instead."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"GGUF":
        return (
            f"{path} is a GGUF model file, not a training run: `groundup sample` continues a run directory "
            f"of `groundup train gpt --out DIR`; for a GGUF model use `groundup generate --model {path}`"
        )
    return f"{path} is a file, not a training run: pass the run directory of `groundup train gpt --out DIR`"


def load_checkpoint(path) -> Checkpoint:
    """Read and validate a checkpoint; a corrupt or partial file raises CheckpointError."""
    given = Path(path)
    path = checkpoint_path(path)
    if given.is_file() and given != path:
        raise CheckpointError(not_a_run(given))
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; train first (groundup train ... --out DIR)")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            if header.get("format") != FORMAT:
                raise CheckpointError(
                    f"{path} is not a groundup training checkpoint (format {header.get('format')!r})"
                )
            if header.get("version") != VERSION:
                raise CheckpointError(
                    f"{path} has checkpoint version {header.get('version')!r}, expected {VERSION}"
                )
            tensors = {key: f.get_tensor(key) for key in f.keys()}
        meta, optim_meta = json.loads(header["meta"]), json.loads(header["optim"])
    except CheckpointError:
        raise
    except Exception as exc:  # safetensors raises its own error types for torn headers and short files
        prev = path.with_name(PREV_NAME)
        hint = f"; the previous good checkpoint is kept at {prev}" if prev.is_file() and prev != path else ""
        raise CheckpointError(f"checkpoint {path} is corrupt or partial ({exc}){hint}") from exc
    model = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    rng = {k[len("rng.") :]: v for k, v in tensors.items() if k.startswith("rng.")}
    optimizer = None
    if optim_meta is not None:
        state = {}
        for index in optim_meta["indices"]:
            prefix = f"optim.{index}."
            state[int(index)] = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        optimizer = {"state": state, "param_groups": optim_meta["param_groups"]}
    return Checkpoint(model=model, optimizer=optimizer, meta=meta, rng=rng)
