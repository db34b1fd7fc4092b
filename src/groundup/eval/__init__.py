"""Evaluation: perplexity (and, as they arrive, text and classification metrics).

Names load from their submodules on first use (`groundup.lazy`)."""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(__name__, {"perplexity": ["PerplexityResult", "perplexity", "windows"]})
