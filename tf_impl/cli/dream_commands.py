"""``deepdream dream`` and ``deepdream zoom``: the notebook's dreams from the command line."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from tqdm import tqdm

from conversion.errors import DeepDreamError
from tf_impl.cli.options import add_model_options
from tf_impl.cli.parsing import HelpFormatter, finite_float, positive_float, seed, size_hxw
from tf_impl.dream.settings import (
    NOTEBOOK,
    PRECISIONS,
    ZOOM_STEP,
    DreamSettings,
    ZoomSettings,
    flag,
    help_text,
)

DREAM_EXAMPLES = """examples:
  deepdream dream sky.jpg -o dream.png                      # the notebook's default dream
  deepdream dream sky.jpg -o d.png --layer inception_3b/5x5_reduce
  deepdream dream sky.jpg -o d.png --guide flowers.jpg --layer inception_3b/output
  deepdream dream sky.jpg -o d.png --guide-channels flowers.jpg --top 8 --layer inception_3b/output
  deepdream dream sky.jpg -o d.png --lapnorm 4              # Laplacian-pyramid normalisation
  deepdream dream sky.jpg -o d.png --layer inception_4c/output --channels 12 97
  deepdream dream sky.jpg -o d.png --layer inception_4b/output inception_4d/output --weights 1 0.5
  deepdream dream sky.jpg -o d.png --class 1                # amplify a class (goldfish)
  deepdream dream sky.jpg -o d.png --model synthetic.keras  # offline: see 'synthetic-model'
  deepdream dream sky.jpg -o d.png --model keras:InceptionV3 --layer mixed3 mixed5
  deepdream dream big.jpg -o d.png --max-memory 2G         # tile steps to fit in 2 GB
"""
ZOOM_EXAMPLES = """examples:
  deepdream zoom sky.jpg -o frames/ --frames 30 --gif zoom.gif --mp4 zoom.mp4
  (run it again after an interruption: it resumes from the last finished frame)
"""


def _add_dream_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="input image (any format Pillow reads)")
    add_model_options(parser)
    parser.add_argument(
        "--layer",
        nargs="+",
        metavar="BLOB",
        help=f"blob(s) to amplify (default: the model's, for GoogLeNet {NOTEBOOK.end}). A "
        "convolution's name is its pre-ReLU output, its ReLU's name the post-ReLU one; see "
        "'deepdream layers'",
    )
    parser.add_argument(
        "--weights", nargs="+", type=finite_float, metavar="W", help="one weight per --layer"
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--channels", nargs="+", type=int, metavar="C", help="amplify only these channels"
    )
    target.add_argument("--neuron", type=int, metavar="C", help="one channel at the centre")
    target.add_argument(
        "--class",
        dest="class_index",
        type=int,
        metavar="N",
        help="a class of the classifier (any image size)",
    )
    target.add_argument("--guide", metavar="IMAGE", help="steer toward this image's features")
    target.add_argument(
        "--guide-channels",
        metavar="IMAGE",
        help="amplify the --top channels most active (mean activation) on this image",
    )
    parser.add_argument(
        "--top", type=int, default=8, help="channels picked by --guide-channels (default 8)"
    )
    for name, kind in (
        ("octave_n", int),
        ("octave_scale", float),  # NaN and infinity: refused by DreamSettings, as in the API
        ("iter_n", int),
        ("step_size", float),
        ("jitter", int),
        ("lapnorm", int),
    ):
        parser.add_argument(
            flag(name),
            dest=name,
            metavar=flag(name).lstrip("-").replace("-", "_").upper(),
            type=kind,
            default=getattr(NOTEBOOK, name),
            help=help_text(name),
        )
    parser.add_argument(
        "--seed", type=seed, help="jitter seed, 0 to 2**32-1 (same stream as np.random.seed)"
    )
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
        type=size_hxw,
        metavar="HxW",
        help="run every step in tiles of about HxW pixels (rounded up to the layer's stride), "
        "whatever the memory",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=PRECISIONS[0],
        help="what the network computes in: bfloat16 is about 2x faster on CPUs with "
        "AMX-BF16 (the image and the step's normalisation stay float32), not the same "
        "dream (default: %(default)s)",
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


def register(subparsers) -> None:
    """Add the dream and zoom subcommands."""
    dream = subparsers.add_parser(
        "dream",
        help="dream on an image (the notebook's deepdream)",
        description="Dream on an image with the original notebook's algorithm and defaults. "
        "The output has the input's size.",
        epilog=DREAM_EXAMPLES,
        formatter_class=HelpFormatter,
    )
    _add_dream_options(dream)
    dream.add_argument("-o", "--output", required=True, help="output image (.png, .jpg...)")
    dream.set_defaults(func=run_dream, check=check_dream)

    zoom = subparsers.add_parser(
        "zoom",
        help="feedback zoom sequence (dream, zoom in, repeat)",
        description="The notebook's zoom sequence: each frame is a dream of the previous one, "
        "zoomed into the centre. Frames are written as they finish; rerun to resume.",
        epilog=ZOOM_EXAMPLES,
        formatter_class=HelpFormatter,
    )
    _add_dream_options(zoom)
    zoom.add_argument("-o", "--output", required=True, help="directory for frame_NNNN.png")
    zoom.add_argument("--frames", type=int, required=True, help="number of frames")
    zoom.add_argument(
        "--scale",
        type=float,  # NaN and infinity: refused by ZoomSettings, as in the API
        default=ZOOM_STEP,
        help=f"zoom per frame (default: {ZOOM_STEP})",
    )
    zoom.add_argument("--gif", help="also write an animated GIF")
    zoom.add_argument("--mp4", help="also write an MP4 video")
    zoom.add_argument(
        "--fps", type=positive_float, default=10.0, help="animation frame rate (default: 10)"
    )
    zoom.set_defaults(func=run_zoom, check=check_zoom_args)


def _settings(args) -> DreamSettings:
    """The dream settings the options give, checked (the API's own check)."""
    return DreamSettings.pick(vars(args))


def _check_octave_count(settings: DreamSettings, height: int, width: int) -> None:
    """Refuse, by arithmetic alone, octave counts whose smallest octave is under one pixel
    (the network's own minimum is checked once it is loaded)."""
    room = math.log(min(height, width)) / math.log(settings.octave_scale)
    if settings.octave_n - 1 > room:
        raise DeepDreamError(
            f"{flag('octave_n')} {settings.octave_n} shrinks a {height}x{width} image below "
            f"one pixel (1/{settings.octave_scale} per octave); at most {int(room) + 1} "
            "octaves fit, fewer for the network's layers"
        )


def _input_files(args) -> tuple:
    """Every file the command reads: the image, guide, model file and prototxt."""
    from conversion.model_files import model_file

    return (args.input, args.guide, args.guide_channels, model_file(args.model), args.prototxt)


def _check_inputs(args) -> None:
    """Before TensorFlow: settings, model arguments, the images (kept on ``args``)."""
    from conversion.model_files import check_model_arguments
    from tf_impl.images.files import load_rgb

    args.settings = _settings(args)
    check_model_arguments(args.model, args.prototxt)
    args.rgb = load_rgb(args.input)
    args.guide_rgb = load_rgb(args.guide) if args.guide else None
    args.guide_channels_rgb = load_rgb(args.guide_channels) if args.guide_channels else None
    _check_octave_count(args.settings, *args.rgb.shape[:2])


def check_dream(args) -> None:
    """``dream``'s checks that need no TensorFlow (run before it is imported)."""
    from tf_impl.images.files import check_output_path

    check_output_path(args.output, _input_files(args))
    _check_inputs(args)


def check_zoom_args(args) -> None:
    """``zoom``'s checks that need no TensorFlow (run before it is imported)."""
    from conversion.output_checks import check_output_dir, check_output_file

    ZoomSettings(args.frames, args.scale)  # refuses values out of range
    inputs = _input_files(args)
    check_output_dir(args.output, inputs)
    for animation, suffix in ((args.gif, ".gif"), (args.mp4, ".mp4")):
        if animation:
            check_output_file(animation, (suffix,), inputs)
    _check_inputs(args)


def _progress(args, total: int, unit: str, desc: str):
    return tqdm(total=total, unit=unit, desc=desc, disable=args.quiet, file=sys.stderr)


def _prepare(args):
    """Load the model and build the objective; check the sizes and memory the dream needs."""
    # Imported here, not at the top: these load TensorFlow, which the CLI imports (quietly)
    # only after the arguments are checked. The same holds in the commands below.
    from tf_impl.dream.objectives import make_objective
    from tf_impl.dream.precision import slow_precision_note, with_precision
    from tf_impl.models.loading import load_net

    note = slow_precision_note(args.precision)
    if note:
        print(note, file=sys.stderr)
    net = with_precision(load_net(args.model, args.prototxt), args.precision)
    objective = make_objective(
        net,
        args.layer,
        weights=args.weights,
        channels=args.channels,
        neuron=args.neuron,
        class_index=args.class_index,
        guided=args.guide is not None,
        channel_guide=args.guide_channels_rgb,
        top=args.top,
    )
    if args.guide_channels_rgb is not None:
        picked = " ".join(map(str, objective.channels))
        print(f"guide channels of {objective.blob}: {picked}", file=sys.stderr)
    _check_sizes(net, objective, args)
    return net, objective


def _check_sizes(net, objective, args) -> None:
    from tf_impl.cli.limits import check_memory
    from tf_impl.dream.deepdream import check_dream_size, octave_sizes
    from tf_impl.net.input_size import check_image_fits

    height, width = args.rgb.shape[:2]
    check_image_fits(net, objective.blobs, height, width, "image")
    if args.guide_rgb is not None:
        check_image_fits(net, objective.blobs, *args.guide_rgb.shape[:2], "guide image")
    settings = args.settings
    # deepdream checks this too, but only after the progress bar has been drawn: check first
    # so a too-small image gives one clean error line.
    check_dream_size(
        net, objective.blobs, octave_sizes(height, width, settings.octave_n, settings.octave_scale)
    )
    from tf_impl.dream.tiling import TilePolicy, default_max_memory, plan_tiles

    max_memory = default_max_memory() if args.max_memory is None else args.max_memory
    args.tiling = TilePolicy(max_memory=max_memory, tile=args.tile)
    tiles = plan_tiles(net, objective, height, width, args.tiling)  # refuses impossible tiling
    check_memory(net, objective.blobs, height, width, None if tiles is None else max_memory)


def _check_changed(result, rgb, args, what: str = "the dream") -> None:
    """A dream that left its input exactly as it was had a zero gradient all along (a dead
    unit): an error, before anything of it is written. ``what`` names the output."""
    import numpy as np

    if args.settings.iter_n == 0 or not np.array_equal(result, rgb):
        return  # 0 steps give the image back by design
    if args.neuron is not None or args.channels:
        advice = "a dead unit; try other --neuron/--channels, or another --layer"
    else:
        advice = "try another --layer"
    raise DeepDreamError(
        f"the objective's gradient is zero on this image, so {what} left it unchanged "
        f"({advice}); {what} was not written"
    )


def run_dream(args) -> int:
    """Dream on one image and write it (atomically)."""
    from tf_impl.dream.deepdream import deepdream
    from tf_impl.images.files import save_rgb

    net, objective = _prepare(args)
    settings = args.settings
    bar = _progress(args, settings.steps(), "step", "dreaming")

    def on_step(octave: int, step: int) -> None:
        bar.set_postfix_str(f"octave {octave + 1}/{settings.octave_n}")
        bar.update(1)

    with bar:
        result = deepdream(
            net,
            args.rgb,
            settings,
            objective=objective,
            guide=args.guide_rgb,
            tiling=args.tiling,
            seed=args.seed,
            on_step=on_step,
        )
    _check_changed(result, args.rgb, args)
    save_rgb(args.output, result)
    print(f"wrote {args.output} ({args.rgb.shape[1]}x{args.rgb.shape[0]})", file=sys.stderr)
    return 0


def _zoom_identity(args, objective) -> dict:
    """What identifies a zoom run besides the dream settings: every input's contents."""
    from conversion.download import sha1_of
    from conversion.model_files import model_file

    def contents(path):
        return None if path is None else sha1_of(Path(path))

    model = model_file(args.model)
    return {
        "model": str(args.model) if model is None else contents(model),
        "prototxt": contents(args.prototxt),
        "input image": contents(args.input),
        "guide image": contents(args.guide),
        "guide-channels image": contents(args.guide_channels),
        "objective": repr(objective),
        "precision": args.precision,
        "height": args.rgb.shape[0],
        "width": args.rgb.shape[1],
    }


def run_zoom(args) -> int:
    """Dream a zoom sequence into a directory, resuming if it was interrupted."""
    from conversion.locks import directory_lock
    from tf_impl.dream.zoom import run_zoom_sequence, write_animation

    out_dir = Path(args.output)
    net, objective = _prepare(args)
    settings = args.settings
    identity = _zoom_identity(args, objective)
    frames_bar = _progress(args, args.frames, "frame", "zoom")
    steps_bar = _progress(args, settings.steps(), "step", "dreaming")

    def on_frame(index: int, path: Path) -> None:
        frames_bar.update(1)
        steps_bar.reset()

    def on_step(octave: int, step: int) -> None:
        steps_bar.set_postfix_str(f"octave {octave + 1}/{settings.octave_n}")
        steps_bar.update(1)

    created = not out_dir.exists()
    out_dir.mkdir(exist_ok=True)
    try:
        with directory_lock(out_dir), frames_bar, steps_bar:
            paths = run_zoom_sequence(
                net,
                args.rgb,
                out_dir,
                settings,
                ZoomSettings(args.frames, args.scale),
                seed=args.seed if args.seed is not None else 0,
                identity=identity,
                on_frame=on_frame,
                check_frame=lambda before, after: _check_changed(after, before, args, "the frame"),
                objective=objective,
                guide=args.guide_rgb,
                tiling=args.tiling,
                on_step=on_step,
            )
    finally:
        if created and not any(out_dir.iterdir()):
            out_dir.rmdir()
    for animation in (args.gif, args.mp4):
        if animation:
            write_animation(paths, animation, fps=args.fps)
            print(f"wrote {animation}", file=sys.stderr)
    print(f"wrote {len(paths)} frames to {out_dir}", file=sys.stderr)
    return 0
