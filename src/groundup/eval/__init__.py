"""Evaluation: perplexity (and, as they arrive, text and classification metrics)."""

from groundup.eval.perplexity import PerplexityResult, perplexity, windows

__all__ = ["PerplexityResult", "perplexity", "windows"]
