"""argparse types that check ranges, so a bad value is a usage error (exit 2) naming the option.

    p.add_argument("--max-tokens", type=int_range(1), ...)      # "--max-tokens: must be >= 1, got -5"
    p.add_argument("--top-p", type=float_range(0, 1, low_open=True), ...)

A value argparse rejects never reaches the library, where it would surface later as a one-line
runtime error (exit 1) about a parameter name the user never typed.
"""

from __future__ import annotations

import argparse
import math


def int_range(low: int | None = None, high: int | None = None):
    """An `int` type accepting low <= value <= high (either bound optional)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {_bounds(low, high)}, got {value}")
        return value

    parse.__name__ = "int"
    return parse


def float_range(low: float | None = None, high: float | None = None, *, low_open=False, high_open=False):
    """A finite `float` type within [low, high] (an open end with `low_open` / `high_open`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if not math.isfinite(value) or too_low or too_high:
            raise argparse.ArgumentTypeError(
                f"must be a finite number {_bounds(low, high, low_open, high_open)}, got {text}"
            )
        return value

    parse.__name__ = "float"
    return parse


def _bounds(low, high, low_open=False, high_open=False) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    return f"{'<' if high_open else '<='} {high}" if high is not None else "valid"


def non_empty(text: str) -> str:
    """A string type refusing "" (a prompt to continue needs at least one character)."""
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


port = int_range(0, 65535)  # 0 asks the OS for a free port
positive_int = int_range(1)
non_negative_int = int_range(0)


class UsageError(ValueError):
    """A combination of options that cannot work together (or a value only the command can check):
    `groundup` prints the command's usage and the message, and exits 2, like any argparse error. It is
    a ValueError, so a handler called as a plain function raises what bad parameter values raise."""


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """`--help` shows each option's default, except where there is none to show (None, off flags)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        nothing = action.default is None or action.default is False or action.default == []
        if nothing or action.default is argparse.SUPPRESS or not action.option_strings:
            return action.help
        if "default" in (action.help or ""):  # the help already says it, in its own words
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """The parser of every `groundup` command: defaults in `--help` (subcommands inherit the class)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if getattr(namespace, "parser", None) is None:  # the innermost command's parser, for UsageError
            namespace.parser = self
        return namespace, extras
