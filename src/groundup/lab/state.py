"""What the lab's pages compute with: the model and the tokenizers, each loaded once on first use.

The server starts at once and a page that needs nothing heavy (the dashboard) never waits for the
model; tests pass a small model and tokenizer in instead of loading SmolLM2.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class LabState:
    """`model_path` None is the bundled SmolLM2; `model` / `tokenizer` / `tokenizers` given here win."""

    model_path: str | None = None
    model: object = None
    tokenizer: object = None
    tokenizers: dict = field(default_factory=dict)
    tokenizer_names: tuple[str, ...] = ("cl100k", "smollm2", "minilm")
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def model_and_tokenizer(self):
        """(model, tokenizer), loading them on the first call (thread-safe)."""
        with self._lock:
            if self.model is None:
                from groundup.generate.loading import load_model

                self.model, self.tokenizer = load_model(self.model_path)
            return self.model, self.tokenizer

    def named_tokenizers(self) -> dict:
        """name -> tokenizer for the explorer, in `tokenizer_names` order."""
        with self._lock:
            for name in self.tokenizer_names:
                if name not in self.tokenizers:
                    from groundup.tokenizers.loaders import load_named

                    self.tokenizers[name] = load_named(name)
            return {name: self.tokenizers[name] for name in self.tokenizer_names}
