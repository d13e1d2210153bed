"""Command-line options shared by several subcommands."""

from __future__ import annotations

import argparse


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """``--model`` (name, file, keras:NAME or synthetic) and ``--prototxt``."""
    parser.add_argument(
        "--model",
        default="bvlc_googlenet",
        help="model name (bvlc_googlenet, downloaded on first use), a .caffemodel or .keras "
        "file, keras:InceptionV3, or synthetic (seeded stand-in weights, labelled as "
        "such) (default: %(default)s)",
    )
    parser.add_argument("--prototxt", help="deploy .prototxt to go with a .caffemodel")


def parse_channels(text: str) -> list[int]:
    """'0-15,32,40-41' -> [0, ..., 15, 32, 40, 41] (argparse type)."""
    channels: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise argparse.ArgumentTypeError(f"channels must look like 0-15,32 (got '{text}')")
        channels += range(int(first), int(last or first) + 1)
    return sorted(set(channels))
