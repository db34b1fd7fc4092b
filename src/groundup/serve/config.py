"""The serving settings: what the scheduler needs, the rest of the engine, and the HTTP server's.

`EngineConfig` extends `SchedulerConfig`, so the engine hands its own config to the scheduler and no
field is listed twice. `ServerConfig` bounds the work one HTTP request can cause before the engine
sees it. `groundup serve` derives its flags from these fields (see `commands/serve.py`).
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


@dataclass
class ServerConfig:
    """Bounds on one HTTP request, checked before any work is spent on it."""

    max_body_bytes: int = 4 * 1024 * 1024  # larger bodies get 413, before they are read
    max_prompt_chars: int = 1024 * 1024  # longer prompts (all of a request's text) get 400, untokenized
    max_batch_prompts: int = 256  # the most prompts in one completions request (each makes n sequences)
    tokenizer_threads: int = 2  # requests tokenized at once, on worker threads off the event loop
    shutdown_grace: int = 3  # seconds in-flight requests get to finish after SIGTERM; then aborted

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_prompt_chars", "max_batch_prompts", "tokenizer_threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.shutdown_grace < 0:
            raise ValueError(f"shutdown_grace must be >= 0, got {self.shutdown_grace}")
