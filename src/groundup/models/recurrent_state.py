"""The cache of a recurrent language model: one fixed-size state per layer instead of keys and values.

A Transformer's KV cache grows by one key and one value per layer with every token, so decoding token
t reads t keys. Linear attention, RetNet, RWKV and Mamba fold the past into a state of constant size
(a d x d matrix per head, a few vectors per channel, a conv window plus an N-dimensional SSM state per
channel), so token t costs the same as token 1. `RecurrentState` is what their `new_cache` returns: it
plays the KV cache's part for `groundup.generate` (`length`, `reorder` for beam search), and each
layer reads and replaces its own state:

    state = cache.get(layer)             # None before the first token
    out, state = mixer(x, state)         # any number of new tokens
    cache.set(layer, state, n_tokens)

A state is a tensor or a tuple of tensors whose first axis is the batch.
"""

from __future__ import annotations

import torch

from groundup.errors import GroundupError

State = torch.Tensor | tuple


class RecurrentState:
    """Per-layer recurrent states for `batch_size` sequences of up to `max_len` tokens."""

    def __init__(self, n_layers: int, batch_size: int = 1, max_len: int | None = None):
        self.states: list[State | None] = [None] * n_layers
        self.lengths = [0] * n_layers
        self.batch_size, self.max_len = batch_size, max_len

    @property
    def length(self) -> int:
        """Tokens folded in so far (by the first layer)."""
        return self.lengths[0]

    def get(self, layer: int) -> State | None:
        return self.states[layer]

    def set(self, layer: int, state: State, n_tokens: int) -> None:
        end = self.lengths[layer] + n_tokens
        if self.max_len is not None and end > self.max_len:
            raise ValueError(f"kv_cache: {end} tokens exceed the cache length {self.max_len}")
        self.states[layer], self.lengths[layer] = state, end

    def reorder(self, rows: torch.Tensor) -> None:
        """Keep batch rows `rows` (B_new,) in this order (beam search)."""
        self.states = [_map(state, lambda t: t[rows]) for state in self.states]

    def nbytes(self) -> int:
        """Bytes held by every layer's state: the same after 10 tokens as after 10 000."""
        return sum(t.numel() * t.element_size() for state in self.states for t in _leaves(state))

    def mask_padding(self, valid: torch.Tensor) -> None:
        raise GroundupError(
            "a recurrent state cannot skip padding tokens: run left-padded prompts one at a time"
        )

    def attend(self, layer, q, k, v, scale=None):
        raise GroundupError(
            "an attention layer got a RecurrentState: use the model's own new_cache() (a KV cache) instead"
        )


def _leaves(state: State | None) -> list[torch.Tensor]:
    if state is None:
        return []
    if isinstance(state, torch.Tensor):
        return [state]
    return [leaf for part in state for leaf in _leaves(part)]


def _map(state: State | None, fn) -> State | None:
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return fn(state)
    return tuple(_map(part, fn) for part in state)
