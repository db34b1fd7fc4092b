"""Errors meant for the user: the CLI prints them as one line (no traceback unless --debug)."""


class GroundupError(Exception):
    """A problem the user can fix; the message says what was expected, what was found and what to do."""


class AssetNotFoundError(GroundupError):
    """A bundled model or data file is not installed."""


class DatasetNotFoundError(GroundupError):
    """A dataset is neither on disk nor downloadable from here."""
