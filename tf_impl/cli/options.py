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
from tf_impl.cluster.ray_pool import RayOptions, ray_options

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


def add_ray_options(parser: argparse.ArgumentParser, what: str) -> None:
    """``--ray [ADDRESS]`` (run on Ray: a local cluster of its own, or the one at ADDRESS or
    ``$RAY_ADDRESS``) and ``--ray-workers N``."""
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help=f"{what} on Ray workers (the ray extra): a local cluster of this machine's CPUs, "
        "or join the cluster at ADDRESS (HOST:PORT of 'ray start --head', default "
        "$RAY_ADDRESS); the files are written here, the same bytes as without --ray",
    )
    parser.add_argument(
        "--ray-workers",
        type=int,
        metavar="N",
        help="with --ray: how many workers (default: as many as the cluster's CPUs hold, each "
        "with as many CPUs as this machine has, up to a node's)",
    )


def ray_settings(args: argparse.Namespace) -> RayOptions | None:
    """The checked ``--ray`` options (None without --ray; Ray is not imported either way)."""
    if args.ray is None:
        if args.ray_workers is not None:
            raise DeepDreamError("--ray-workers goes with --ray")
        return None
    return ray_options(args.ray, args.ray_workers)


def ray_runner(options: RayOptions | None, spec: ModelSpec, setup, quiet: bool):
    """With ``--ray``, ``run(items, on_result)`` computing items on Ray workers that
    ``setup(spec)`` makes (:func:`~tf_impl.cluster.ray_pool.run_on_ray`), saying once how many
    workers run where; without, None (the command computes them itself)."""
    if options is None:
        return None
    from tf_impl.cluster.ray_pool import run_on_ray

    def said(workers: list[tuple[int, str]]) -> None:
        hosts = len({host for _, host in workers})
        pids = " ".join(str(pid) for pid, _ in workers)
        count = f"{len(workers)} worker{'s' * (len(workers) != 1)}"
        print(f"ray: {count} on {hosts} host(s) (pids {pids})", file=sys.stderr)

    def run(items, on_result) -> None:
        run_on_ray(options, spec, setup, items, on_result, on_workers=None if quiet else said)

    return run
