"""Calibration data and activation capture.

GPTQ, AWQ and SmoothQuant look at the activations a layer really sees. Calibration samples are
`n_samples` non-overlapping windows of `seq_len` tokens taken evenly from a text (WikiText-2 *valid* by
default: perplexity is measured on *test*, so the quantizer never sees the evaluation text).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


def calibration_windows(token_ids: torch.Tensor | list[int], n_samples: int, seq_len: int) -> torch.Tensor:
    """(n_samples, seq_len) int64 windows spread evenly over `token_ids`, none overlapping.

    Raises ValueError naming the limit when the text holds fewer than n_samples · seq_len tokens.
    """
    ids = torch.as_tensor(token_ids, dtype=torch.int64).reshape(-1)
    if n_samples < 1 or seq_len < 1:
        raise ValueError(f"n_samples and seq_len must be positive, got {n_samples} and {seq_len}")
    needed = n_samples * seq_len
    if ids.numel() < needed:
        raise ValueError(
            f"calibration text is too short: {n_samples} samples of {seq_len} tokens need {needed} tokens, "
            f"the text has {ids.numel()}; use a longer text or fewer/shorter samples"
        )
    stride = ids.numel() // n_samples  # ≥ seq_len, so windows never overlap
    starts = torch.arange(n_samples) * stride
    return torch.stack([ids[s : s + seq_len] for s in starts.tolist()])


@contextmanager
def on_inputs(modules: dict[str, nn.Module], callback: Callable[[str, torch.Tensor], None]) -> Iterator[None]:
    """While active, call `callback(name, x)` with the input x (tokens, in) of every named module's forward."""

    def hook_for(name):
        def hook(module, args):
            x = args[0].detach()
            callback(name, x.reshape(-1, x.shape[-1]))

        return hook

    handles = [module.register_forward_pre_hook(hook_for(name)) for name, module in modules.items()]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def capture_inputs(modules: dict[str, nn.Module]) -> Iterator[dict[str, list[torch.Tensor]]]:
    """While active, record every input batch (tokens, in) of the named modules: name -> list of batches."""
    captured: dict[str, list[torch.Tensor]] = {name: [] for name in modules}
    with on_inputs(modules, lambda name, x: captured[name].append(x)):
        yield captured


def concat(batches: Iterable[torch.Tensor]) -> torch.Tensor:
    """Captured batches as one (tokens, in) tensor."""
    return torch.cat(list(batches), dim=0)
