"""``deepdream dream`` and ``deepdream zoom``: the notebook's dreams from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from conversion.errors import DeepDreamError
from tf_impl.settings import NOTEBOOK, ZOOM_STEP, DreamSettings, check_zoom, flag, help_text

DREAM_EXAMPLES = """examples:
  deepdream dream sky.jpg -o dream.png                      # the notebook's default dream
  deepdream dream sky.jpg -o d.png --layer inception_3b/5x5_reduce
  deepdream dream sky.jpg -o d.png --guide flowers.jpg --layer inception_3b/output
  deepdream dream sky.jpg -o d.png --layer inception_4c/output --channels 12 97
  deepdream dream sky.jpg -o d.png --layer inception_4b/output inception_4d/output --weights 1 0.5
  deepdream dream sky.jpg -o d.png --class 1                # amplify a class (goldfish)
  deepdream dream sky.jpg -o d.png --model keras:InceptionV3 --layer mixed3 mixed5
  deepdream dream big.jpg -o d.png --max-memory 2G         # tile steps to fit in 2 GB
"""
ZOOM_EXAMPLES = """examples:
  deepdream zoom sky.jpg -o frames/ --frames 30 --gif zoom.gif --mp4 zoom.mp4
  (run it again after an interruption: it resumes from the last finished frame)
"""


def _add_dream_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="input image (any format Pillow reads)")
    parser.add_argument(
        "--model",
        default="bvlc_googlenet",
        help="model name (bvlc_googlenet, downloaded on first use), a .caffemodel or .keras "
        "file, or keras:InceptionV3 (default: %(default)s)",
    )
    parser.add_argument("--prototxt", help="deploy .prototxt to go with a .caffemodel")
    parser.add_argument(
        "--layer",
        nargs="+",
        metavar="BLOB",
        help=f"blob(s) to amplify (default: the model's, for GoogLeNet {NOTEBOOK.end}). A "
        "convolution's name is its pre-ReLU output, its ReLU's name the post-ReLU one; see "
        "'deepdream layers'",
    )
    parser.add_argument(
        "--weights", nargs="+", type=float, metavar="W", help="one weight per --layer"
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--channels", nargs="+", type=int, metavar="C", help="amplify only these channels"
    )
    target.add_argument("--neuron", type=int, metavar="C", help="one channel at the centre")
    target.add_argument(
        "--class", dest="class_index", type=int, metavar="N", help="a class of the classifier"
    )
    target.add_argument("--guide", metavar="IMAGE", help="steer toward this image's features")
    for name, kind in (
        ("octave_n", int),
        ("octave_scale", float),
        ("iter_n", int),
        ("step_size", float),
        ("jitter", int),
    ):
        parser.add_argument(
            flag(name),
            dest=name,
            metavar=flag(name).lstrip("-").replace("-", "_").upper(),
            type=kind,
            default=getattr(NOTEBOOK, name),
            help=help_text(name),
        )
    parser.add_argument("--seed", type=int, help="jitter seed (same stream as np.random.seed)")
    parser.add_argument(
        flag("clip"),
        dest="clip",
        action="store_false",
        default=NOTEBOOK.clip,
        help="do not clip to 0-255 (the notebook clips)",
    )
    parser.add_argument(
        "--max-memory",
        type=_memory_size,
        metavar="SIZE",
        help="memory a dream step may use, e.g. 2G or 500M; larger steps run tile by tile, "
        "the same dream up to float32 rounding (default: a share of the memory available now)",
    )
    parser.add_argument(
        "--tile",
        type=_tile_size,
        metavar="HxW",
        help="run every step in tiles of about HxW pixels (rounded up to the layer's stride), "
        "whatever the memory",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def _memory_size(text: str) -> int:
    """Bytes from '2G', '500M', '1.5G' or a plain number of bytes (binary units)."""
    number, unit = text.strip().upper().rstrip("B"), ""
    if number and number[-1] in _UNITS:
        number, unit = number[:-1], number[-1]
    try:
        value = float(number) * _UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a memory size like 2G or 500M") from None
    if not value >= 1:
        raise argparse.ArgumentTypeError(f"'{text}': the memory size must be positive")
    return int(value)


def _tile_size(text: str) -> tuple[int, int]:
    """(height, width) from 'HxW', both positive whole numbers."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"'{text}' is not a tile size like 512x512 (HxW)")
    return int(parts[0]), int(parts[1])


def register(subparsers) -> None:
    """Add the dream and zoom subcommands."""
    dream = subparsers.add_parser(
        "dream",
        help="dream on an image (the notebook's deepdream)",
        description="Dream on an image with the original notebook's algorithm and defaults. "
        "The output has the input's size.",
        epilog=DREAM_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_dream_options(dream)
    dream.add_argument("-o", "--output", required=True, help="output image (.png, .jpg...)")
    dream.set_defaults(func=run_dream)

    zoom = subparsers.add_parser(
        "zoom",
        help="feedback zoom sequence (dream, zoom in, repeat)",
        description="The notebook's zoom sequence: each frame is a dream of the previous one, "
        "zoomed into the centre. Frames are written as they finish; rerun to resume.",
        epilog=ZOOM_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_dream_options(zoom)
    zoom.add_argument("-o", "--output", required=True, help="directory for frame_NNNN.png")
    zoom.add_argument("--frames", type=int, required=True, help="number of frames")
    zoom.add_argument(
        "--scale", type=float, default=ZOOM_STEP, help=f"zoom per frame (default {ZOOM_STEP})"
    )
    zoom.add_argument("--gif", help="also write an animated GIF")
    zoom.add_argument("--mp4", help="also write an MP4 video")
    zoom.add_argument("--fps", type=float, default=10.0, help="animation frame rate")
    zoom.set_defaults(func=run_zoom)


def _settings(args) -> DreamSettings:
    """The dream settings the options give, checked (the API's own check)."""
    return DreamSettings.pick(vars(args))


def _progress(args, total: int, unit: str, desc: str):
    return tqdm(total=total, unit=unit, desc=desc, disable=args.quiet, file=sys.stderr)


def _prepare(args, outputs_to_check):
    """Load and validate everything before any dreaming: settings, image, guide, model,
    objective."""
    # Imported here, not at the top: these load TensorFlow, which the CLI imports (quietly)
    # only after the arguments are parsed. The same holds in the commands below.
    from tf_impl.dream import check_dream_size, octave_sizes
    from tf_impl.images import load_rgb
    from tf_impl.models import load_net
    from tf_impl.objectives import make_objective
    from tf_impl.tiling import TilePolicy, default_max_memory, plan_tiles

    settings = _settings(args)
    rgb = load_rgb(args.input)
    outputs_to_check()
    guide = load_rgb(args.guide) if args.guide else None
    net = load_net(args.model, args.prototxt)
    objective = make_objective(
        net,
        args.layer,
        weights=args.weights,
        channels=args.channels,
        neuron=args.neuron,
        class_index=args.class_index,
        guided=args.guide is not None,
    )
    # deepdream checks these too, but only after the progress bar has been drawn: check
    # first so a too-small image or an impossible tiling gives one clean error line.
    sizes = octave_sizes(*rgb.shape[:2], settings.octave_n, settings.octave_scale)
    check_dream_size(net, objective.blobs, sizes)
    max_memory = default_max_memory() if args.max_memory is None else args.max_memory
    tiling = TilePolicy(max_memory=max_memory, tile=args.tile)
    plan_tiles(net, objective, *sizes[0], tiling)
    return settings, rgb, guide, net, objective, tiling


def _dream_kwargs(settings: DreamSettings, objective, guide, tiling) -> dict:
    params = settings.as_params()
    del params["end"]  # the objective names the blobs
    return {**params, "objective": objective, "guide": guide, "tiling": tiling}


def run_dream(args) -> int:
    """Dream on one image and write it (atomically)."""
    from tf_impl.dream import deepdream
    from tf_impl.images import check_output_path, save_rgb

    sources = (args.input, *([args.guide] if args.guide else []))
    settings, rgb, guide, net, objective, tiling = _prepare(
        args, lambda: check_output_path(args.output, sources)
    )
    bar = _progress(args, settings.steps(), "step", "dreaming")

    def on_step(octave: int, step: int) -> None:
        bar.set_postfix_str(f"octave {octave + 1}/{settings.octave_n}")
        bar.update(1)

    with bar:
        result = deepdream(
            net,
            rgb,
            seed=args.seed,
            on_step=on_step,
            **_dream_kwargs(settings, objective, guide, tiling),
        )
    save_rgb(args.output, result)
    print(f"wrote {args.output} ({rgb.shape[1]}x{rgb.shape[0]})", file=sys.stderr)
    return 0


def run_zoom(args) -> int:
    """Dream a zoom sequence into a directory, resuming if it was interrupted."""
    from tf_impl.atomic import check_output_file
    from tf_impl.zoom_sequence import run_zoom_sequence, write_animation

    out_dir = Path(args.output)
    check_zoom(args.frames, args.scale)

    def check_outputs():
        if not out_dir.is_dir() and not out_dir.parent.is_dir():
            raise DeepDreamError(f"{out_dir.parent} does not exist; create it first")
        for animation, suffix in ((args.gif, ".gif"), (args.mp4, ".mp4")):
            if animation:
                check_output_file(animation, (suffix,), (args.input,))

    settings, rgb, guide, net, objective, tiling = _prepare(args, check_outputs)
    out_dir.mkdir(exist_ok=True)
    seed = args.seed if args.seed is not None else 0
    identity = {
        "model": str(args.model),
        "objective": repr(objective),
        "input": Path(args.input).name,
        "height": rgb.shape[0],
        "width": rgb.shape[1],
    }
    frames_bar = _progress(args, args.frames, "frame", "zoom")
    steps_bar = _progress(args, settings.steps(), "step", "dreaming")

    def on_frame(index: int, path: Path) -> None:
        frames_bar.update(1)
        steps_bar.reset()

    def on_step(octave: int, step: int) -> None:
        steps_bar.set_postfix_str(f"octave {octave + 1}/{settings.octave_n}")
        steps_bar.update(1)

    with frames_bar, steps_bar:
        paths = run_zoom_sequence(
            net,
            rgb,
            out_dir,
            args.frames,
            s=args.scale,
            seed=seed,
            identity=identity,
            on_frame=on_frame,
            on_step=on_step,
            **_dream_kwargs(settings, objective, guide, tiling),
        )
    for animation in (args.gif, args.mp4):
        if animation:
            write_animation(paths, animation, fps=args.fps)
            print(f"wrote {animation}", file=sys.stderr)
    print(f"wrote {len(paths)} frames to {out_dir}", file=sys.stderr)
    return 0
