"""Sample text from a training checkpoint: rebuild the model from the stored config and vocabulary."""

from __future__ import annotations

from groundup.models.gpt import generate_tokens
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


def sample_text(
    ckpt_dir, num_chars: int = 500, *, prompt: str = "\n", temperature=1.0, top_k=0, seed=0
) -> str:
    """`num_chars` characters continuing `prompt` (the prompt is not included)."""
    from groundup.generate import SamplingParams, make_generator

    model, vocab, cfg = load_trained(ckpt_dir)
    params = SamplingParams(temperature=temperature, top_k=top_k or 0)
    idx = vocab.encode(prompt)[None]  # (1, T)
    out = generate_tokens(model, idx, num_chars, cfg.block_size, params, make_generator(seed))
    return vocab.decode(out[0, idx.shape[1] :])
