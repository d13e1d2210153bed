"""``deepdream dream`` and ``deepdream zoom``: the notebook's dreams from the command line."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from tf_impl.cli.parsing import HelpFormatter, finite_float, positive_float, seed
from tf_impl.errors import DeepDreamError

DREAM_EXAMPLES = """examples:
  deepdream dream sky.jpg -o dream.png                      # the notebook's default dream
  deepdream dream sky.jpg -o d.png --layer inception_3b/5x5_reduce
  deepdream dream sky.jpg -o d.png --guide flowers.jpg --layer inception_3b/output
  deepdream dream sky.jpg -o d.png --layer inception_4c/output --channels 12 97
  deepdream dream sky.jpg -o d.png --layer inception_4b/output inception_4d/output --weights 1 0.5
  deepdream dream sky.jpg -o d.png --class 1                # amplify a class (goldfish)
  deepdream dream sky.jpg -o d.png --model synthetic.keras  # offline: see 'synthetic-model'
  deepdream dream sky.jpg -o d.png --model keras:InceptionV3 --layer mixed3 mixed5
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
        help="blob(s) to amplify (default: inception_4c/output). A convolution's name is its "
        "pre-ReLU output, its ReLU's name the post-ReLU one; see 'deepdream layers'",
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
    parser.add_argument("--octaves", type=int, default=4, help="default: %(default)s")
    parser.add_argument(
        "--octave-scale", type=finite_float, default=1.4, help="default: %(default)s"
    )
    parser.add_argument("--steps", type=int, default=10, help="steps per octave (default: 10)")
    parser.add_argument("--step-size", type=finite_float, default=1.5, help="default: %(default)s")
    parser.add_argument("--jitter", type=int, default=32, help="pixels (default: %(default)s)")
    parser.add_argument(
        "--seed", type=seed, help="jitter seed, 0 to 2**32-1 (same stream as np.random.seed)"
    )
    parser.add_argument("--no-clip", action="store_true", help="do not clip to 0-255")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


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
        "--scale", type=finite_float, default=0.05, help="zoom per frame (default: %(default)s)"
    )
    zoom.add_argument("--gif", help="also write an animated GIF")
    zoom.add_argument("--mp4", help="also write an MP4 video")
    zoom.add_argument(
        "--fps", type=positive_float, default=10.0, help="animation frame rate (default: 10)"
    )
    zoom.set_defaults(func=run_zoom, check=check_zoom)


def _check_numbers(args) -> None:
    if args.octaves < 1 or args.steps < 1:
        raise DeepDreamError("--octaves and --steps must be at least 1")
    if args.octave_scale <= 1.0:
        raise DeepDreamError(f"--octave-scale must be above 1 (got {args.octave_scale})")
    if args.step_size <= 0 or args.jitter < 0:
        raise DeepDreamError("--step-size must be positive and --jitter non-negative")


def _check_octave_count(args, height: int, width: int) -> None:
    """Refuse, by arithmetic alone, octave counts whose smallest octave is under one pixel
    (the network's own minimum is checked once it is loaded)."""
    room = math.log(min(height, width)) / math.log(args.octave_scale)
    if args.octaves - 1 > room:
        raise DeepDreamError(
            f"--octaves {args.octaves} shrinks a {height}x{width} image below one pixel "
            f"(1/{args.octave_scale} per octave); at most {int(room) + 1} octaves fit, fewer "
            "for the network's layers"
        )


def _input_files(args) -> tuple:
    """Every file the command reads: the image, guide, model file and prototxt."""
    from tf_impl.model_files import model_file

    return (args.input, args.guide, model_file(args.model), args.prototxt)


def _check_inputs(args) -> None:
    """Before TensorFlow: numbers, model arguments, the images (kept on ``args``)."""
    from tf_impl.images import load_rgb
    from tf_impl.model_files import check_model_arguments

    _check_numbers(args)
    check_model_arguments(args.model, args.prototxt)
    args.rgb = load_rgb(args.input)
    args.guide_rgb = load_rgb(args.guide) if args.guide else None
    _check_octave_count(args, *args.rgb.shape[:2])


def check_dream(args) -> None:
    """``dream``'s checks that need no TensorFlow (run before it is imported)."""
    from tf_impl.images import check_output_path

    check_output_path(args.output, _input_files(args))
    _check_inputs(args)


def build_objective(net, args):
    """The objective the options ask for; validates blob names and channel numbers."""
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
    if args.guide and len(layers) > 1:
        raise DeepDreamError("--guide works with one --layer")
    objectives = []
    for name in layers:
        if args.guide:
            objectives.append(Guided(name))
        elif args.channels:
            objectives.append(Channels(name, tuple(args.channels)))
        elif args.neuron is not None:
            objectives.append(Neuron(name, args.neuron))
        else:
            objectives.append(L2(name))
    return weighted(objectives, args.weights)


def _class_objective(net, index: int):
    """ClassLogit of the network's last InnerProduct, applied at every position.

    The classifier's input is followed back through average pooling and dropout (linear, so
    the mean over positions is unchanged) to the blob they start from: for GoogLeNet
    ``inception_5b/output`` instead of ``pool5/drop_7x7_s1``, which is empty below 223x223.
    At the trained size (224x224) the value is the network's own logit.
    """
    from tf_impl.caffe_layers import CaffeIdentity, CaffeInnerProduct, CaffePooling
    from tf_impl.naming import caffe_name
    from tf_impl.objectives import ClassLogit

    classifiers = [la for la in net.keras_model.layers if isinstance(la, CaffeInnerProduct)]
    if not classifiers:
        raise DeepDreamError("--class needs a model with a classifier (an InnerProduct layer)")
    layer = classifiers[-1]
    if not 0 <= index < layer.units:
        raise DeepDreamError(f"--class {index} is out of range: classes are 0-{layer.units - 1}")

    def producer(keras_layer):
        return keras_layer._inbound_nodes[0].input_tensors[0]._keras_history.operation

    source = producer(layer)
    while isinstance(source, CaffeIdentity) or (
        isinstance(source, CaffePooling) and source.method == "AVE"
    ):
        source = producer(source)
    name = caffe_name(source.name)
    if net.channels(name) != layer.features:
        raise DeepDreamError(
            f"--class needs the classifier's input '{name}' to have {layer.features} channels"
        )
    kernel, *bias = [w.numpy() for w in layer.weights]
    return ClassLogit(name, index, kernel, bias[0] if bias else None)


def _progress(args, total: int, unit: str, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=desc, disable=args.quiet, file=sys.stderr)


def _prepare(args):
    """Load the model and build the objective; check the sizes and memory the dream needs."""
    from tf_impl.models import load_net

    net = load_net(args.model, args.prototxt)
    objective = build_objective(net, args)
    _check_sizes(net, objective, args)
    return net, objective


def _check_sizes(net, objective, args) -> None:
    from tf_impl.cli.limits import check_memory
    from tf_impl.dream import check_dream_size, octave_sizes
    from tf_impl.input_size import check_image_fits

    height, width = args.rgb.shape[:2]
    check_image_fits(net, objective.blobs, height, width, "image")
    if args.guide_rgb is not None:
        check_image_fits(net, objective.blobs, *args.guide_rgb.shape[:2], "guide image")
    check_dream_size(
        net, objective.blobs, octave_sizes(height, width, args.octaves, args.octave_scale)
    )
    check_memory(net, objective.blobs, height, width)


def _check_changed(result, rgb, args) -> None:
    """A dream that left the image exactly as it was had a zero gradient all along."""
    import numpy as np

    if not np.array_equal(result, np.asarray(rgb, np.float32)):
        return
    if args.neuron is not None or args.channels:
        advice = "a dead unit; try other --neuron/--channels, or another --layer"
    else:
        advice = "try another --layer"
    raise DeepDreamError(
        f"the objective's gradient is zero on this image, so the dream left it unchanged "
        f"({advice}); nothing was written"
    )


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
    }


def run_dream(args) -> int:
    """Dream on one image and write it (atomically)."""
    from tf_impl.dream import deepdream
    from tf_impl.images import save_rgb

    net, objective = _prepare(args)
    bar = _progress(args, args.octaves * args.steps, "step", "dreaming")

    def on_step(octave: int, step: int) -> None:
        bar.set_postfix_str(f"octave {octave + 1}/{args.octaves}")
        bar.update(1)

    kwargs = _dream_kwargs(args, objective, args.guide_rgb)
    with bar:
        result = deepdream(net, args.rgb, seed=args.seed, on_step=on_step, **kwargs)
    _check_changed(result, args.rgb, args)
    save_rgb(args.output, result)
    print(f"wrote {args.output} ({args.rgb.shape[1]}x{args.rgb.shape[0]})", file=sys.stderr)
    return 0


def check_zoom(args) -> None:
    """``zoom``'s checks that need no TensorFlow (run before it is imported)."""
    from tf_impl.atomic import check_not_an_input, check_output_file, probe_writable

    if args.frames < 1:
        raise DeepDreamError("--frames must be at least 1")
    if not 0 < args.scale < 0.5:
        raise DeepDreamError(f"--scale must be in (0, 0.5) (got {args.scale})")
    out_dir = Path(args.output)
    inputs = _input_files(args)
    check_not_an_input(out_dir, inputs)
    if out_dir.exists() and not out_dir.is_dir():
        raise DeepDreamError(f"{out_dir}: exists and is not a directory; -o takes a directory")
    if not out_dir.is_dir() and not out_dir.absolute().parent.is_dir():
        raise DeepDreamError(f"{out_dir.absolute().parent} does not exist; create it first")
    writable = out_dir if out_dir.is_dir() else out_dir.absolute().parent
    probe_writable(writable, ".frame_probe.", ".png", what=str(out_dir))
    for animation, suffix in ((args.gif, ".gif"), (args.mp4, ".mp4")):
        if animation:
            check_output_file(animation, (suffix,), inputs)
    _check_inputs(args)


def _zoom_settings(args, objective) -> dict:
    """What identifies a zoom run besides the dream parameters: every input's contents."""
    from conversion.download import sha1_of
    from tf_impl.model_files import model_file

    def contents(path):
        return None if path is None else sha1_of(Path(path))

    model = model_file(args.model)
    return {
        "model": str(args.model) if model is None else contents(model),
        "prototxt": contents(args.prototxt),
        "input image": contents(args.input),
        "guide image": contents(args.guide),
        "objective": repr(objective),
        "height": args.rgb.shape[0],
        "width": args.rgb.shape[1],
    }


def run_zoom(args) -> int:
    """Dream a zoom sequence into a directory, resuming if it was interrupted."""
    from tf_impl.atomic import directory_lock
    from tf_impl.zoom_sequence import run_zoom_sequence, write_animation

    out_dir = Path(args.output)
    net, objective = _prepare(args)
    settings = _zoom_settings(args, objective)
    frames_bar = _progress(args, args.frames, "frame", "zoom")
    steps_bar = _progress(args, args.octaves * args.steps, "step", "dreaming")

    def on_frame(index: int, path: Path) -> None:
        frames_bar.update(1)
        steps_bar.reset()

    def on_step(octave: int, step: int) -> None:
        steps_bar.set_postfix_str(f"octave {octave + 1}/{args.octaves}")
        steps_bar.update(1)

    created = not out_dir.exists()
    out_dir.mkdir(exist_ok=True)
    try:
        with directory_lock(out_dir), frames_bar, steps_bar:
            paths = run_zoom_sequence(
                net,
                args.rgb,
                out_dir,
                args.frames,
                s=args.scale,
                seed=args.seed if args.seed is not None else 0,
                settings=settings,
                on_frame=on_frame,
                on_step=on_step,
                **_dream_kwargs(args, objective, args.guide_rgb),
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
