"""Sample text from a training checkpoint: rebuild the model from the stored config and vocabulary."""

from __future__ import annotations

import torch

from groundup.train.checkpoint import load_checkpoint
from groundup.train.config import TrainConfig
from groundup.train.data import CharVocab
from groundup.train.zoo import build_model


def load_trained(ckpt_dir):
    """(model in eval mode, vocabulary, config) from a checkpoint written by `train`."""
    ckpt = load_checkpoint(ckpt_dir)
    cfg = TrainConfig(**ckpt.meta["config"])
    vocab = CharVocab(ckpt.meta["vocab"])
    model = build_model(cfg, vocab.size)
    model.load_state_dict(ckpt.model)
    return model.eval(), vocab, cfg


@torch.no_grad()
def generate_ids(
    model, idx, max_new_tokens: int, block_size: int, *, temperature=1.0, top_k=None, generator=None
):
    """Extend idx (B, T) by sampling one token at a time from the model's last-position distribution,
    feeding at most the last `block_size` tokens (the longest context the model was trained on)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    for _ in range(max_new_tokens):
        logits = model(idx[:, -block_size:])[:, -1] / temperature  # (B, V)
        if top_k is not None:
            kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]  # (B, 1)
            logits = logits.masked_fill(logits < kth, -float("inf"))
        next_id = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)  # (B, 1)
        idx = torch.cat([idx, next_id], dim=1)
    return idx


def sample_text(
    ckpt_dir, num_chars: int = 500, *, prompt: str = "\n", temperature=1.0, top_k=None, seed=0
) -> str:
    """`num_chars` characters continuing `prompt` (the prompt is not included)."""
    model, vocab, cfg = load_trained(ckpt_dir)
    generator = torch.Generator().manual_seed(seed)
    idx = vocab.encode(prompt)[None]  # (1, T)
    out = generate_ids(
        model, idx, num_chars, cfg.block_size, temperature=temperature, top_k=top_k, generator=generator
    )
    return vocab.decode(out[0, idx.shape[1] :])
