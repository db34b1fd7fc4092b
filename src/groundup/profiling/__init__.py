"""Measuring time and memory the same way for our code and its peer (curriculum 1.6).

Names load from their submodules on first use (`groundup.lazy`)."""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(__name__, {"measure": ["PeakRSS", "Timing", "measure"]})
