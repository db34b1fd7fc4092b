"""The curriculum: tracks and modules, and a dashboard computed from test results (never ticked by hand)."""

from groundup.curriculum.registry import MODULES, TRACKS, Module, Track, get_module

__all__ = ["MODULES", "TRACKS", "Module", "Track", "get_module"]
