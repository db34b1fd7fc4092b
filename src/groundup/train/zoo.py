"""Build any model of the ladder from a `TrainConfig`: each reads the fields it needs."""

from __future__ import annotations

from torch import nn

from groundup.models.gpt import GPT
from groundup.models.makemore import MLP, Bigram, CountsBigram, SequenceConfig, WaveNet
from groundup.models.rnn import LSTMAttention, Recurrent
from groundup.train.config import TrainConfig
from groundup.train.zoo_modern import MODERN, build_modern, gpt_config


def build_model(cfg: TrainConfig, vocab_size: int) -> nn.Module:
    if cfg.model == "gpt":
        return GPT(gpt_config(cfg, vocab_size))
    if cfg.model in MODERN:
        return build_modern(cfg, vocab_size)
    seq = SequenceConfig(
        vocab_size=vocab_size,
        block_size=cfg.block_size,
        n_embd=cfg.n_embd,
        n_hidden=cfg.n_hidden,
        n_layer=cfg.n_layer,
        context=cfg.context,
        dropout=cfg.dropout,
    )
    builders = {
        "bigram_counts": lambda: CountsBigram(seq),
        "bigram": lambda: Bigram(seq),
        "mlp": lambda: MLP(seq),
        "wavenet": lambda: WaveNet(seq),
        "rnn": lambda: Recurrent(seq, "rnn"),
        "lstm": lambda: Recurrent(seq, "lstm"),
        "gru": lambda: Recurrent(seq, "gru"),
        "lstm_attention": lambda: LSTMAttention(seq),
    }
    return builders[cfg.model]()


def count_params(model: nn.Module) -> int:
    """Trainable parameters, a tied weight counted once (count-table models have none)."""
    return sum(p.numel() for p in model.parameters())
