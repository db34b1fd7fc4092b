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

`weights` says how the weights are kept (curriculum 1.5, `groundup.models.quantized`):

    float      dequantized to `dtype` (float32 or bfloat16) at load time
    float32    the same, float32;   bfloat16: the same, bfloat16
    auto       each GGUF tensor in the closest fast form of its type: Q4_0/Q4_1 as int4 and Q8_0 as
               int8 groups (bit-exact, multiplied by our compiled kernels), everything else in float32;
               a training run stays float32
    int8/int4  every projection (and a GGUF model's embedding/head) in that width: bit-exact where the
               file's blocks fit, round-to-nearest in groups of 32 otherwise (logged)
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from groundup.errors import GroundupError

WEIGHTS = ("float", "auto", "float32", "bfloat16", "int8", "int4")  # see the module docstring


def load_model(
    path: str | os.PathLike | None = None, *, weights: str = "float", dtype: torch.dtype = torch.float32
):
    """(model in eval mode, tokenizer) for `path` (see the module docstring).

    `weights="float"` dequantizes every GGUF tensor to `dtype` (float32 or bfloat16); the other
    forms are listed in the module docstring.
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

        return Llama.from_gguf(path, dtype=dtype, weights=weights), from_gguf(path)
    if _is_checkpoint(path):
        return _load_gpt_checkpoint(path, dtype, weights)
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


def _load_gpt_checkpoint(path: Path, dtype: torch.dtype, weights: str = "float"):
    import logging

    from groundup.models.layers import CausalLM

    model, tokenizer, cfg = load_trained(path)
    if not isinstance(model, CausalLM):
        raise GroundupError(
            f"{path} holds a {cfg.model!r} model; only GPT checkpoints speak the language-model interface "
            "that generate/serve use: sample it with `groundup sample --ckpt DIR` instead"
        )
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}.get(weights, dtype)
    if weights in ("int8", "int4"):
        from groundup.models.quantized import quantize_linears

        names = quantize_linears(model, 8 if weights == "int8" else 4)
        logging.getLogger(__name__).warning(
            "%s: %d linear layer(s) quantized to %s at load (round-to-nearest, groups of 32)",
            path,
            len(names),
            weights,
        )
        return model, tokenizer  # quantized layers compute in float32
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
