"""One way to load a model for inference: `load_model(path) -> (model, tokenizer)`.

Every command that runs a model (`generate`, `chat`, `ppl`, `serve`, `quantize`, `sample`) comes
through here, so each accepts the same things:

    None                      the bundled SmolLM2-135M-Instruct (GGUF)
    a .gguf file              a Llama-architecture model and the tokenizer stored in its metadata
    a training run directory  (or its ckpt.safetensors) written by `groundup train gpt`: the GPT and
                              its character vocabulary
    a quantized directory     written by `groundup quantize --out DIR`: the packed Llama, with the
                              tokenizer of the GGUF file it was quantized from (recorded in its manifest)

The model speaks `groundup.models.layers.CausalLM`, the tokenizer `groundup.tokenizers`' protocol,
so callers never ask which kind they got.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from groundup.errors import GroundupError

WEIGHTS = ("float",)  # dequantized to `dtype` at load time


def load_model(
    path: str | os.PathLike | None = None, *, weights: str = "float", dtype: torch.dtype = torch.float32
):
    """(model in eval mode, tokenizer) for `path` (see the module docstring).

    `weights="float"` dequantizes every GGUF tensor to `dtype` (float32 or bfloat16).
    """
    if weights not in WEIGHTS:
        raise ValueError(f"weights={weights!r}; supported: {', '.join(WEIGHTS)}")
    if path is None:
        from groundup.data import smollm2_gguf_path

        path = smollm2_gguf_path()
    path = Path(path)
    if _is_gguf(path):
        from groundup.models.llama import Llama
        from groundup.tokenizers.gguf import from_gguf

        return Llama.from_gguf(path, dtype=dtype), from_gguf(path)
    if _is_checkpoint(path):
        return _load_gpt_checkpoint(path, dtype)
    if is_quantized_dir(path):
        return _load_quantized_dir(path, dtype)
    raise GroundupError(
        f"{path} is neither a GGUF model file nor a groundup training run (a directory with "
        "ckpt.safetensors) nor a quantized model (a directory from `groundup quantize --out DIR`); pass a "
        ".gguf file, one of those directories, or nothing for the bundled SmolLM2"
    )


def _is_gguf(path: Path) -> bool:
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        return f.read(4) == b"GGUF"


def _is_checkpoint(path: Path) -> bool:
    from groundup.train.checkpoint import checkpoint_path

    return checkpoint_path(path).is_file()


def is_quantized_dir(path: str | os.PathLike) -> bool:
    """Whether `path` is a directory written by `groundup quantize --out` (it holds manifest.json)."""
    from groundup.quant.llm.checkpoint import MANIFEST

    return (Path(path) / MANIFEST).is_file()


def _load_quantized_dir(path: Path, dtype: torch.dtype):
    """The quantized Llama of `path` and the tokenizer of its source GGUF: the directory stores packed
    weights only, so the manifest names the GGUF file whose metadata holds the vocabulary."""
    from groundup.quant.llm.checkpoint import load_quantized
    from groundup.tokenizers.gguf import from_gguf

    if dtype != torch.float32:
        raise GroundupError(
            f"{path}: a quantized model runs in float32 (its norms and embeddings are float32)"
        )
    model, info = load_quantized(path)
    source = info.get("source")
    if not source or not _is_gguf(Path(source)):
        raise GroundupError(
            f"{path}: its tokenizer comes from the GGUF file it was quantized from "
            f"({source or 'not recorded in manifest.json'}), which is not there; quantize again, or export a "
            "self-contained file with `groundup quantize ... --gguf FILE`"
        )
    return model, from_gguf(source)


def load_trained(path: str | os.PathLike):
    """(model in eval mode, CharTokenizer, TrainConfig) from a checkpoint written by `train`: any
    model of the makemore ladder, rebuilt from the stored config and character vocabulary."""
    from groundup.tokenizers.char import CharTokenizer
    from groundup.train.checkpoint import load_checkpoint
    from groundup.train.config import TrainConfig
    from groundup.train.zoo import build_model

    ckpt = load_checkpoint(path)
    cfg = TrainConfig(**ckpt.meta["config"])
    tokenizer = CharTokenizer(ckpt.meta["vocab"])
    model = build_model(cfg, tokenizer.vocab_size)
    model.load_state_dict(ckpt.model)
    return model.eval(), tokenizer, cfg


def _load_gpt_checkpoint(path: Path, dtype: torch.dtype):
    from groundup.models.layers import CausalLM

    model, tokenizer, cfg = load_trained(path)
    if not isinstance(model, CausalLM):
        raise GroundupError(
            f"{path} holds a {cfg.model!r} model; only GPT checkpoints speak the language-model interface "
            "that generate/serve use: sample it with `groundup sample --ckpt DIR` instead"
        )
    return model.to(dtype), tokenizer


def sample_text(
    ckpt_dir, num_chars: int = 500, *, prompt: str = "\n", temperature=1.0, top_k=0, seed=0
) -> str:
    """`num_chars` characters continuing `prompt` from a training checkpoint (the prompt is not
    included); works for every model of the ladder, cache or not."""
    from groundup.generate.decode import generate_tokens
    from groundup.generate.sampling import SamplingParams, make_generator

    if not prompt:
        raise ValueError("prompt: empty; give at least one character to continue (the default is a newline)")
    model, tokenizer, cfg = load_trained(ckpt_dir)
    params = SamplingParams(temperature=temperature, top_k=top_k or 0)
    idx = torch.tensor([tokenizer.encode(prompt)])  # (1, T)
    out = generate_tokens(model, idx, num_chars, cfg.block_size, params, make_generator(seed))
    return tokenizer.decode(out[0, idx.shape[1] :].tolist())
