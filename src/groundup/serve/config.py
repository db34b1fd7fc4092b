"""The engine's settings, as two dataclasses: what the scheduler needs, and the rest of the engine.

`EngineConfig` extends `SchedulerConfig`, so the engine hands its own config to the scheduler and no
field is listed twice. `groundup serve` derives its flags from these fields (see `serve/cli.py`).
Plain dataclasses, no torch: the CLI builds its parser from them without loading the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

SPECULATIVE = ("ngram", "draft")  # prompt lookup, layer-skip self-draft


@dataclass
class SchedulerConfig:
    max_running: int = 32  # the most sequences decoded together
    max_tokens_per_step: int = 512  # the per-step token budget
    continuous: bool = True  # False: static batching (the baseline)

    def __post_init__(self) -> None:
        if self.max_running < 1:
            raise ValueError(f"max_running must be >= 1, got {self.max_running}")
        if self.max_tokens_per_step < 1:
            raise ValueError(f"max_tokens_per_step must be >= 1, got {self.max_tokens_per_step}")


@dataclass
class EngineConfig(SchedulerConfig):
    num_blocks: int = 1024  # the KV pool, in blocks
    block_size: int = 16  # tokens per KV block
    prefix_caching: bool = True
    speculative: str | None = None  # None or one of SPECULATIVE
    num_speculative_tokens: int = 4  # the most draft tokens per step (adapted per sequence)
    draft_layers: int | None = None  # layers of the self-draft; default: a quarter of the model

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_blocks < 1 or self.block_size < 1:
            raise ValueError(
                f"num_blocks and block_size must be >= 1, got {self.num_blocks}, {self.block_size}"
            )
        if self.speculative not in (None, *SPECULATIVE):
            raise ValueError(f"speculative must be None, 'ngram' or 'draft', got {self.speculative!r}")
        if self.num_speculative_tokens < 1:
            raise ValueError(f"num_speculative_tokens must be >= 1, got {self.num_speculative_tokens}")
