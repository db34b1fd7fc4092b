"""llama.cpp itself, through llama-cpp-python: the quantizer, model loading, perplexity and greedy decoding.

The reference side of the GGUF checks (tests/formats/test_llama_cpp.py) and of the capstone benchmarks;
only tests/ and benchmarks/ import llama_cpp. `available()` says whether it imports (it is an optional
dependency built from source: `pip install --no-deps llama-cpp-python diskcache`).
"""

from __future__ import annotations

import ctypes
import os
import time

import numpy as np

FTYPES = {  # llama.cpp's llama_ftype values
    "f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q8_0": 7, "q5_0": 8, "q5_1": 9, "q2_k": 10, "q3_k_s": 11,
    "q3_k_m": 12, "q3_k_l": 13, "q4_k_s": 14, "q4_k_m": 15, "q5_k_s": 16, "q5_k_m": 17, "q6_k": 18, "bf16": 32,
}  # fmt: skip


def available() -> str | None:
    """None if llama_cpp imports, else the reason it does not."""
    try:
        import llama_cpp  # noqa: F401
    except Exception as exc:  # ImportError, or a missing shared library (OSError)
        return f"llama-cpp-python is not usable here ({type(exc).__name__}: {exc})"
    return None


def quantize(src: str | os.PathLike, dst: str | os.PathLike, ftype: str, threads: int = 1) -> float:
    """llama.cpp's `llama-quantize src dst ftype`; returns the wall time in seconds."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[ftype]
    params.nthread = threads
    params.allow_requantize = True
    start = time.perf_counter()
    status = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if status != 0:
        raise RuntimeError(f"llama_model_quantize({src} -> {dst}, {ftype}) failed with status {status}")
    return time.perf_counter() - start


def load(path: str | os.PathLike, n_ctx: int = 512, threads: int = 1):
    """(llama_cpp.Llama with every position's logits kept, load seconds)."""
    import llama_cpp

    start = time.perf_counter()
    llm = llama_cpp.Llama(
        model_path=str(path), n_ctx=n_ctx, n_batch=n_ctx, logits_all=True, n_threads=threads,
        n_threads_batch=threads, verbose=False,
    )  # fmt: skip
    return llm, time.perf_counter() - start


def logits(llm, tokens: list[int]) -> np.ndarray:
    """(T, V) float64 logits of every position of `tokens`, evaluated from an empty cache."""
    llm.reset()
    llm.eval(tokens)
    return np.array(llm.scores[: len(tokens)], dtype=np.float64)  # (T, V)


def perplexity(llm, windows: np.ndarray) -> float:
    """exp(mean next-token NLL) over windows (B, T), each evaluated from an empty cache."""
    total, count = 0.0, 0
    for window in np.asarray(windows):
        rows = logits(llm, window.tolist())[:-1]  # rows predicting tokens 1..T-1
        shifted = rows - rows.max(axis=-1, keepdims=True)
        logprobs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        total -= float(logprobs[np.arange(len(window) - 1), window[1:]].sum())
        count += len(window) - 1
    return float(np.exp(total / count))


def greedy(llm, prompt: list[int], n_tokens: int) -> tuple[list[int], float]:
    """(greedy continuation, decode tokens/s after the prompt) by llama.cpp."""
    llm.reset()
    llm.eval(prompt)
    out = []
    start = time.perf_counter()
    for _ in range(n_tokens):
        token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        out.append(token)
        llm.eval([token])
    return out, n_tokens / (time.perf_counter() - start)


# ---------------------------------------------------------------- llama.cpp's activation rounding

# Our Llama's projections and the GGUF tensors each one holds.
_PROJECTIONS = {
    "attn.qkv": ("attn_q", "attn_k", "attn_v"),
    "attn.out": ("attn_output",),
    "mlp.gate_up": ("ffn_gate", "ffn_up"),
    "mlp.down": ("ffn_down",),
}


def round_to_q8_k(x):
    """x (..., n) with n a multiple of 256, rounded as ggml's Q8_K stores it: per 256-value block,
    q = round(127 x / max|x|) in int8 and the float32 scale max|x| / 127. llama.cpp rounds the
    activations to this form before every dot product with a K-quant weight (Q2_K..Q6_K)."""
    import torch

    blocks = x.reshape(-1, 256).double()  # (N, 256)
    amax = blocks.abs().amax(-1, keepdim=True)
    iscale = torch.where(amax > 0, 127 / amax, torch.zeros_like(amax)).float().double()
    scale = torch.where(iscale > 0, 1 / iscale, torch.zeros_like(iscale)).float().double()
    return (torch.round(blocks * iscale).clamp(-127, 127) * scale).to(x.dtype).reshape(x.shape)


def k_quant_activations(model, path: str | os.PathLike) -> list:
    """Make our `model` (loaded from the GGUF `path`) round the input of every projection whose
    weights are K-quant blocks in that file to Q8_K, as llama.cpp does; returns the hook handles
    (`handle.remove()` undoes it). Everything else stays float32."""
    from groundup.formats.gguf import GGUFReader

    k_quants = {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"}
    types = {name: info.ggml_type.name for name, info in GGUFReader(path).tensors.items()}
    handles = []
    for i, block in enumerate(model.blocks):
        for module_name, tensors in _PROJECTIONS.items():
            if any(types.get(f"blk.{i}.{t}.weight") in k_quants for t in tensors):
                module = block.get_submodule(module_name)
                handles.append(module.register_forward_pre_hook(lambda _, args: (round_to_q8_k(args[0]),)))
    head = "output.weight" if "output.weight" in types else "token_embd.weight"
    if types[head] in k_quants:
        handles.append(model.lm_head.register_forward_pre_hook(lambda _, args: (round_to_q8_k(args[0]),)))
    return handles
