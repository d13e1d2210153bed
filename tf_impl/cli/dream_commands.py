"""``deepdream dream`` and ``deepdream zoom``: the notebook's dreams from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tf_impl.cli.options import add_model_options
from tf_impl.errors import DeepDreamError

DREAM_EXAMPLES = """examples:
  deepdream dream sky.jpg -o dream.png                      # the notebook's default dream
  deepdream dream sky.jpg -o d.png --layer inception_3b/5x5_reduce
  deepdream dream sky.jpg -o d.png --guide flowers.jpg --layer inception_3b/output
  deepdream dream sky.jpg -o d.png --guide-channels flowers.jpg --top 8 --layer inception_3b/output
  deepdream dream sky.jpg -o d.png --lapnorm 4              # Laplacian-pyramid normalisation
  deepdream dream sky.jpg -o d.png --layer inception_4c/output --channels 12 97
  deepdream dream sky.jpg -o d.png --layer inception_4b/output inception_4d/output --weights 1 0.5
  deepdream dream sky.jpg -o d.png --class 1                # amplify a class (goldfish)
  deepdream dream sky.jpg -o d.png --model keras:InceptionV3 --layer mixed3 mixed5
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
        help="blob(s) to amplify (default: inception_4c/output). A convolution's name is its "
        "pre-ReLU output, its ReLU's name the post-ReLU one; see 'deepdream layers'",
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
    target.add_argument(
        "--guide-channels",
        metavar="IMAGE",
        help="amplify the --top channels most active (mean activation) on this image",
    )
    parser.add_argument(
        "--top", type=int, default=8, help="channels picked by --guide-channels (default 8)"
    )
    parser.add_argument("--octaves", type=int, default=4, help="default: %(default)s")
    parser.add_argument("--octave-scale", type=float, default=1.4, help="default: %(default)s")
    parser.add_argument("--steps", type=int, default=10, help="steps per octave (default: 10)")
    parser.add_argument("--step-size", type=float, default=1.5, help="default: %(default)s")
    parser.add_argument("--jitter", type=int, default=32, help="pixels (default: %(default)s)")
    parser.add_argument("--seed", type=int, help="jitter seed (same stream as np.random.seed)")
    parser.add_argument("--no-clip", action="store_true", help="do not clip to 0-255")
    parser.add_argument(
        "--lapnorm",
        type=int,
        default=0,
        metavar="N",
        help="normalise the gradient with an N-level Laplacian pyramid instead of by its mean "
        "absolute value (0: off, the notebook's; 4 is typical)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


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
    zoom.add_argument("--scale", type=float, default=0.05, help="zoom per frame (default 0.05)")
    zoom.add_argument("--gif", help="also write an animated GIF")
    zoom.add_argument("--mp4", help="also write an MP4 video")
    zoom.add_argument("--fps", type=float, default=10.0, help="animation frame rate")
    zoom.set_defaults(func=run_zoom)


def _check_numbers(args) -> None:
    if args.octaves < 1 or args.steps < 1:
        raise DeepDreamError("--octaves and --steps must be at least 1")
    if args.octave_scale <= 1.0:
        raise DeepDreamError(f"--octave-scale must be above 1 (got {args.octave_scale})")
    if args.step_size <= 0 or args.jitter < 0:
        raise DeepDreamError("--step-size must be positive and --jitter non-negative")
    if args.lapnorm < 0:
        raise DeepDreamError(
            f"--lapnorm must be 0 (off) or a number of levels (got {args.lapnorm})"
        )


def build_objective(net, args, channel_guide=None):
    """The objective the options ask for; validates blob names and channel numbers.
    ``channel_guide``: the --guide-channels image (RGB 0-255), if any."""
    from tf_impl.channel_stats import guide_channels_objective
    from tf_impl.dream import DEFAULT_END
    from tf_impl.objectives import L2, Channels, Guided, Neuron, weighted

    layers = args.layer or [net.metadata.get("default_layer", DEFAULT_END)]
    if args.weights and len(args.weights) != len(layers):
        raise DeepDreamError(
            f"{len(args.weights)} --weights for {len(layers)} --layer; give one per layer"
        )
    channels = {name: net.channels(name) for name in layers}  # raises for unknown names
    chosen = args.channels or ([args.neuron] if args.neuron is not None else [])
    for name in layers:
        bad = [c for c in chosen if not 0 <= c < channels[name]]
        if bad:
            raise DeepDreamError(
                f"channel {bad[0]} is out of range for '{name}', which has channels "
                f"0-{channels[name] - 1}"
            )
    if args.class_index is not None:
        return _class_objective(net, args.class_index)
    if (args.guide or args.guide_channels) and len(layers) > 1:
        raise DeepDreamError("--guide and --guide-channels work with one --layer")
    objectives = []
    for name in layers:
        if channel_guide is not None:
            objective = guide_channels_objective(net, channel_guide, name, args.top)
            picked = " ".join(map(str, objective.channels))
            print(f"guide channels of {name}: {picked}", file=sys.stderr)
            objectives.append(objective)
        elif args.guide:
            objectives.append(Guided(name))
        elif args.channels:
            objectives.append(Channels(name, tuple(args.channels)))
        elif args.neuron is not None:
            objectives.append(Neuron(name, args.neuron))
        else:
            objectives.append(L2(name))
    return weighted(objectives, args.weights)


def _class_objective(net, index: int):
    """ClassLogit on the network's last InnerProduct, applied at every position."""
    from tf_impl.caffe_layers import CaffeInnerProduct
    from tf_impl.naming import caffe_name
    from tf_impl.objectives import ClassLogit

    classifiers = [la for la in net.keras_model.layers if isinstance(la, CaffeInnerProduct)]
    if not classifiers:
        raise DeepDreamError("--class needs a model with a classifier (an InnerProduct layer)")
    layer = classifiers[-1]
    if not 0 <= index < layer.units:
        raise DeepDreamError(f"--class {index} is out of range: classes are 0-{layer.units - 1}")
    source = caffe_name(layer._inbound_nodes[0].input_tensors[0]._keras_history.operation.name)
    if net.channels(source) != layer.features:
        raise DeepDreamError(
            f"--class needs the classifier's input '{source}' to have {layer.features} channels"
        )
    kernel, *bias = [w.numpy() for w in layer.weights]
    return ClassLogit(source, index, kernel, bias[0] if bias else None)


def _progress(args, total: int, unit: str, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=desc, disable=args.quiet, file=sys.stderr)


def _prepare(args, outputs_to_check):
    """Load and validate everything before any dreaming: image, guide, model, objective."""
    from tf_impl.images import load_rgb
    from tf_impl.models import load_net

    _check_numbers(args)
    rgb = load_rgb(args.input)
    outputs_to_check()
    guide = load_rgb(args.guide) if args.guide else None
    channel_guide = load_rgb(args.guide_channels) if args.guide_channels else None
    net = load_net(args.model, args.prototxt)
    objective = build_objective(net, args, channel_guide)
    return rgb, guide, net, objective


def _dream_kwargs(args, objective, guide) -> dict:
    return {
        "objective": objective,
        "iter_n": args.steps,
        "octave_n": args.octaves,
        "octave_scale": args.octave_scale,
        "step_size": args.step_size,
        "jitter": args.jitter,
        "clip": not args.no_clip,
        "guide": guide,
        "lapnorm": args.lapnorm,
    }


def run_dream(args) -> int:
    """Dream on one image and write it (atomically)."""
    from tf_impl.dream import check_dream_size, deepdream, octave_sizes
    from tf_impl.images import check_output_path, save_rgb
    from tf_impl.zoom_sequence import notebook_uint8

    sources = (args.input, *(g for g in (args.guide, args.guide_channels) if g))
    rgb, guide, net, objective = _prepare(args, lambda: check_output_path(args.output, sources))
    # deepdream checks this too, but only after the progress bar has been drawn: check first
    # so a too-small image gives one clean error line.
    check_dream_size(
        net, objective.blobs, octave_sizes(*rgb.shape[:2], args.octaves, args.octave_scale)
    )
    bar = _progress(args, args.octaves * args.steps, "step", "dreaming")

    def on_step(octave: int, step: int) -> None:
        bar.set_postfix_str(f"octave {octave + 1}/{args.octaves}")
        bar.update(1)

    kwargs = _dream_kwargs(args, objective, guide)
    with bar:
        result = deepdream(net, rgb, seed=args.seed, on_step=on_step, **kwargs)
    save_rgb(args.output, notebook_uint8(result))
    print(f"wrote {args.output} ({rgb.shape[1]}x{rgb.shape[0]})", file=sys.stderr)
    return 0


def run_zoom(args) -> int:
    """Dream a zoom sequence into a directory, resuming if it was interrupted."""
    from tf_impl.atomic import check_output_file
    from tf_impl.zoom_sequence import run_zoom_sequence, write_animation

    out_dir = Path(args.output)
    if args.frames < 1:
        raise DeepDreamError("--frames must be at least 1")
    if args.scale <= 0 or args.scale >= 0.5:
        raise DeepDreamError(f"--scale must be in (0, 0.5) (got {args.scale})")

    def check_outputs():
        if not out_dir.is_dir() and not out_dir.parent.is_dir():
            raise DeepDreamError(f"{out_dir.parent} does not exist; create it first")
        for animation, suffix in ((args.gif, ".gif"), (args.mp4, ".mp4")):
            if animation:
                check_output_file(animation, (suffix,), (args.input,))

    rgb, guide, net, objective = _prepare(args, check_outputs)
    out_dir.mkdir(exist_ok=True)
    seed = args.seed if args.seed is not None else 0
    settings = {
        "model": str(args.model),
        "objective": repr(objective),
        "input": Path(args.input).name,
        "height": rgb.shape[0],
        "width": rgb.shape[1],
    }
    frames_bar = _progress(args, args.frames, "frame", "zoom")
    steps_bar = _progress(args, args.octaves * args.steps, "step", "dreaming")

    def on_frame(index: int, path: Path) -> None:
        frames_bar.update(1)
        steps_bar.reset()

    def on_step(octave: int, step: int) -> None:
        steps_bar.set_postfix_str(f"octave {octave + 1}/{args.octaves}")
        steps_bar.update(1)

    with frames_bar, steps_bar:
        paths = run_zoom_sequence(
            net,
            rgb,
            out_dir,
            args.frames,
            s=args.scale,
            seed=seed,
            settings=settings,
            on_frame=on_frame,
            on_step=on_step,
            **_dream_kwargs(args, objective, guide),
        )
    for animation in (args.gif, args.mp4):
        if animation:
            write_animation(paths, animation, fps=args.fps)
            print(f"wrote {animation}", file=sys.stderr)
    print(f"wrote {len(paths)} frames to {out_dir}", file=sys.stderr)
    return 0
