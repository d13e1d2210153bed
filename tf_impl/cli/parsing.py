"""Argument parsing pieces shared by the subcommands: value types that refuse what cannot be
right (NaN, infinity, out-of-range seeds) with the option's name, a help formatter that wraps
descriptions but keeps example lines, and one-line argument errors.

Nothing here imports TensorFlow: every check runs before it is loaded.
"""

from __future__ import annotations

import argparse
import math
import re
import textwrap

from conversion.errors import DeepDreamError

SEED_MAX = 2**32 - 1  # numpy's RandomState accepts seeds 0 .. 2**32 - 1


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are DeepDreamErrors pointing at ``--help``, so that
    they end as every other error does: one ``deepdream: error:`` line, exit code 2."""

    def error(self, message: str):
        raise DeepDreamError(f"{message} (see '{self.prog} --help')")


class HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions to the terminal; text with explicit line breaks (the examples) is
    kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text.strip():
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return textwrap.fill(
            " ".join(text.split()), width, initial_indent=indent, subsequent_indent=indent
        )


def finite_float(text: str) -> float:
    """argparse type: a finite float (NaN and infinity refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got '{text}'")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite float above 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got '{text}'")
    return value


def seed(text: str) -> int:
    """argparse type: an integer seed in 0 .. 2**32 - 1 (what numpy's generator accepts)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got '{text}'") from None
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be between 0 and {SEED_MAX}, got {value}")
    return value


def size_hxw(text: str) -> tuple[int, int]:
    """argparse type: 'HxW' (e.g. 575x1024, spaces and an upper-case X allowed) -> (H, W) in
    pixels, both positive whole numbers."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match or min(int(match[1]), int(match[2])) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size HxW of positive whole numbers")
    return int(match[1]), int(match[2])
