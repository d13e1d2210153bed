"""The ``deepdream`` command: argument parsing, dispatch, and one-line errors.

Each subcommand lives in a module of this package exposing ``register(subparsers)``, which
adds its parser and sets ``check`` and ``func``: ``check(args)`` runs first, before TensorFlow
is imported (so that bad arguments and files are refused in milliseconds), and returns a
frozen job holding everything checked; ``func(job)`` runs it and returns an exit code.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from importlib.metadata import PackageNotFoundError, version

from conversion.errors import DeepDreamError
from tf_impl.cli.parsing import HelpFormatter, OneLineParser
from tf_impl.host.tensorflow_logs import import_tensorflow_quietly

_COMMAND_MODULES = (
    "tf_impl.cli.model_commands",
    "tf_impl.cli.dream_commands",
    "tf_impl.cli.video_command",
    "tf_impl.cli.atlas_commands",
    "tf_impl.cli.synthetic_command",
    "tf_impl.cli.export_command",
)


def build_parser() -> OneLineParser:
    """The full ``deepdream`` argument parser with every subcommand."""
    parser = OneLineParser(
        prog="deepdream",
        description="Google's DeepDream (Caffe GoogLeNet, 2015) in TensorFlow 2.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--verbose", action="store_true", help="show TensorFlow's own log lines (C++ and Python)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def _version() -> str:
    try:
        return version("deepdream-tf2")
    except PackageNotFoundError:  # a checkout run without installing
        return "(not installed)"


def _silence_stdout() -> None:
    """After the reader of stdout went away (``deepdream layers | head -1``): point stdout
    at /dev/null so that Python's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (tests)
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``deepdream`` console script; returns the process exit code."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        job = args.check(args)
        # A command (export) or a job (a batch dreamed on Ray workers) may need no TensorFlow.
        if getattr(args, "needs_tensorflow", True) and getattr(job, "needs_tensorflow", True):
            import_tensorflow_quietly(args.verbose)
        code = int(args.func(job) or 0)
        sys.stdout.flush()
        return code
    except DeepDreamError as exc:
        print(f"deepdream: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("deepdream: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 141  # as a shell reports a process ended by SIGPIPE


def run() -> None:
    """Process entry point (the ``deepdream`` console script, ``python -m tf_impl.cli``): runs
    :func:`main` and exits with its code. A Ctrl-C that lands after the work ended, while the
    interpreter shuts down, is ignored, so that it cannot replace the exit code and the one
    line already printed by a traceback and a death by SIGINT."""
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)
