"""The ``deepdream`` command: argument parsing, dispatch, and one-line errors.

Each subcommand lives in a module of this package exposing ``register(subparsers)``, which
adds its parser and sets ``func`` (called with the parsed arguments, returns an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from conversion.errors import DeepDreamError

_COMMAND_MODULES = (
    "tf_impl.cli.model_commands",
    "tf_impl.cli.dream_commands",
    "tf_impl.cli.export_command",
)


def build_parser() -> argparse.ArgumentParser:
    """The full ``deepdream`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="deepdream",
        description="Google's DeepDream (Caffe GoogLeNet, 2015) in TensorFlow 2.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with its start-up chatter hidden (set DEEPDREAM_VERBOSE=1 to see it).

    Some of TF's C++ start-up lines ignore TF_CPP_MIN_LOG_LEVEL, so stderr is silenced at the
    file-descriptor level during the import; an import error is still raised and shown.
    """
    if os.environ.get("DEEPDREAM_VERBOSE"):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``deepdream`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "needs_tensorflow", True):
        _import_tensorflow_quietly()
    try:
        return int(args.func(args) or 0)
    except DeepDreamError as exc:
        print(f"deepdream: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("deepdream: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
