"""The curriculum: tracks and modules, and a dashboard computed from test results (never ticked by hand).

Names load from their submodules on first use (`groundup.lazy`)."""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(__name__, {"registry": ["MODULES", "TRACKS", "Module", "Track", "get_module"]})
