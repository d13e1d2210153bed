"""Command-line options shared by several subcommands, with one grammar for each: the model
(``--model``), channel lists (``--channels 0-15,32``) and the memory budget (``--max-memory``).

Older spellings still work and print one deprecation line: the model as a positional argument
(``deepdream layers MODEL``) and channels as separate numbers (``--channels 12 97``).
"""

from __future__ import annotations

import argparse
import sys

from conversion.errors import DeepDreamError
from conversion.model_files import ModelSpec, check_model_arguments
from tf_impl.cli.parsing import channel_list, memory_size

DEFAULT_MODEL = "bvlc_googlenet"
MODEL_HELP = (
    "model name (bvlc_googlenet, downloaded on first use), a .caffemodel or .keras file, "
    "keras:InceptionV3, or synthetic (seeded stand-in weights, labelled as such)"
)


def deprecated(old: str, new: str) -> None:
    """The one line an old spelling prints (it still works)."""
    print(f"note: {old} is deprecated and will go; write {new}", file=sys.stderr)


def add_model_options(parser: argparse.ArgumentParser, legacy_positional: bool = False) -> None:
    """``--model`` (default bvlc_googlenet) and ``--prototxt``. ``legacy_positional``: the
    command once took the model as its first positional argument, which still works (see
    :func:`model_spec`)."""
    if legacy_positional:
        parser.add_argument("legacy_model", nargs="?", metavar="MODEL", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=f"{MODEL_HELP} (default: {DEFAULT_MODEL})")
    parser.add_argument("--prototxt", help="deploy .prototxt to go with a .caffemodel")


def model_spec(args: argparse.Namespace, default: str | None = DEFAULT_MODEL) -> ModelSpec:
    """The checked model of ``--model`` (or of the deprecated positional), before TensorFlow;
    ``default`` None: the command needs one."""
    legacy = getattr(args, "legacy_model", None)
    if legacy is not None:
        if args.model is not None:
            raise DeepDreamError(f"the model is given twice ({legacy} and --model {args.model})")
        deprecated(
            f"'deepdream {args.command} {legacy}'", f"'deepdream {args.command} --model {legacy}'"
        )
    model = args.model if legacy is None else legacy
    if model is None:
        if default is None:
            raise DeepDreamError(f"'deepdream {args.command}' needs --model FILE")
        model = default
    return check_model_arguments(model, args.prototxt)


class _ChannelList(argparse.Action):
    """``--channels 0-15,32``; the older ``--channels 12 97`` (separate numbers) still works
    with a deprecation line."""

    def __call__(self, parser, namespace, values, option_string=None):
        if len(values) > 1:
            deprecated(f"'--channels {' '.join(values)}'", f"'--channels {','.join(values)}'")
        try:
            setattr(namespace, self.dest, channel_list(",".join(values)))
        except argparse.ArgumentTypeError as exc:
            parser.error(f"argument --channels: {exc}")


def add_channels_option(parser, help_text: str) -> argparse.Action:
    """``--channels LIST`` (e.g. 0-15,32): a sorted list of channel numbers, or None."""
    return parser.add_argument(
        "--channels", nargs="+", action=_ChannelList, metavar="LIST", help=help_text
    )


def add_memory_option(parser: argparse.ArgumentParser, what: str) -> None:
    """``--max-memory SIZE`` (e.g. 2G, 500M): the memory budget of the network's work."""
    parser.add_argument(
        "--max-memory",
        type=memory_size,
        metavar="SIZE",
        help=f"memory {what} may use, e.g. 2G or 500M (default: a share of the memory "
        "available now)",
    )
