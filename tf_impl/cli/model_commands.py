"""``deepdream convert``, ``deepdream layers`` and ``deepdream blobs``: model inspection."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conversion.errors import DeepDreamError
from conversion.model_files import ModelSpec
from conversion.output_checks import check_output_file
from conversion.outputs import atomic_output
from tf_impl.cli.options import add_memory_option, add_model_options, model_spec
from tf_impl.cli.parsing import HelpFormatter, size_hxw

OFFLINE = "deepdream synthetic-model -o synthetic.keras"


@dataclass(frozen=True)
class ConvertJob:
    """A checked ``convert``: the caffemodel (and prototxt) and the .keras output."""

    spec: ModelSpec
    output: Path
    pooling_field13: str | None


@dataclass(frozen=True)
class LayersJob:
    """A checked ``layers``: the model and the input size (H, W) for shapes, if any."""

    spec: ModelSpec
    size: tuple[int, int] | None


@dataclass(frozen=True)
class BlobsJob:
    """A checked ``blobs``: the model, the image ((H, W, 3) uint8 RGB), the blobs, the .npz."""

    spec: ModelSpec
    rgb: np.ndarray
    blobs: tuple[str, ...]
    output: Path
    max_memory: int | None


def add_pooling_field13_option(parser: argparse.ArgumentParser) -> None:
    """--pooling-field13, for commands that read a caffemodel without a prototxt."""
    parser.add_argument(
        "--pooling-field13",
        choices=("round_mode", "ceil_mode"),
        help="which Caffe wrote the caffemodel's pooling field 13, needed only when it is set "
        "and no --prototxt is given: round_mode (BVLC Caffe: 0 = ceil) or ceil_mode (forks "
        "such as brocolli-caffe: 0 = floor)",
    )


def register(subparsers) -> None:
    """Add the convert, layers and blobs subcommands."""
    convert = subparsers.add_parser(
        "convert",
        help="convert a .caffemodel to a .keras file",
        description="Convert a Caffe model (V1 or V2 .caffemodel, optionally with a deploy "
        "prototxt) to a .keras file that loads without the caffemodel or Caffe.",
        epilog="examples:\n"
        "  deepdream convert --model bvlc_googlenet.caffemodel -o googlenet.keras\n"
        "  deepdream synthetic-model -o synthetic.caffemodel    # offline: random weights\n"
        "  deepdream convert --model synthetic.caffemodel -o synthetic.keras\n",
        formatter_class=HelpFormatter,
    )
    convert.add_argument("legacy_model", nargs="?", metavar="CAFFEMODEL", help=argparse.SUPPRESS)
    convert.add_argument("--model", help="the .caffemodel file (V1 or V2)")
    convert.add_argument("--prototxt", help="deploy .prototxt (default: the caffemodel's own net)")
    convert.add_argument("-o", "--output", required=True, help="output .keras file")
    add_pooling_field13_option(convert)
    convert.set_defaults(func=run_convert, check=check_convert)

    layers = subparsers.add_parser(
        "layers",
        help="list blob names, channels and shapes",
        description="List the blobs of a model (Caffe layer names, in order) with their "
        "channels and, with --size, their spatial shapes. A convolution's name is its "
        "pre-ReLU output; the ReLU layer's name (e.g. inception_3b/relu_5x5_reduce) is "
        "the post-ReLU value. 'too small' marks blobs that are empty at --size; 'wrong size' "
        "fully connected ones, which take only the input size they were trained at.",
        epilog="examples:\n"
        "  deepdream layers --model bvlc_googlenet --size 575x1024   # downloads it once\n"
        f"  {OFFLINE}          # offline: random weights\n"
        "  deepdream layers --model synthetic.keras --size 575x1024\n",
        formatter_class=HelpFormatter,
    )
    add_model_options(layers, legacy_positional=True)
    layers.add_argument("--size", type=size_hxw, help="input size HxW for spatial shapes")
    layers.set_defaults(func=run_layers, check=check_layers)

    blobs = subparsers.add_parser(
        "blobs",
        help="save blobs for an image as float32 NCHW arrays (.npz)",
        description="Run the model on an image (at its own size, preprocessed as the "
        "DeepDream notebook does: RGB->BGR minus the mean) and save the chosen blobs as "
        "float32 arrays in Caffe's NCHW layout, keyed by their Caffe names.",
        epilog="examples (the sample photo comes with matplotlib):\n"
        '  deepdream blobs "$(python -m tf_impl.images.sample)" --model bvlc_googlenet '
        "--blob inception_4c/output --blob inception_3b/5x5_reduce -o blobs.npz\n"
        f"  {OFFLINE}          # offline: random weights\n"
        '  deepdream blobs "$(python -m tf_impl.images.sample)" --model synthetic.keras '
        "--blob inception_4c/output -o blobs.npz\n",
        formatter_class=HelpFormatter,
    )
    add_model_options(blobs, legacy_positional=True)
    blobs.add_argument("image", help="input image")
    blobs.add_argument("--blob", action="append", required=True, help="blob name (repeatable)")
    blobs.add_argument("-o", "--output", required=True, help="output .npz file")
    add_memory_option(blobs, "the image's pass (a larger one is refused)")
    blobs.set_defaults(func=run_blobs, check=check_blobs)


# The commands import their modules inside the functions, not at the top: those load
# TensorFlow, which the CLI imports (quietly) only after the arguments are parsed.


def check_convert(args) -> ConvertJob:
    """``convert``'s checks before TensorFlow: the caffemodel exists, the output is writable
    and is neither the caffemodel nor the prototxt."""
    given = args.model or args.legacy_model
    output = check_output_file(args.output, (".keras",), (given, args.prototxt))
    spec = model_spec(args, default=None)
    if spec.file is None or not spec.file.is_file():
        raise DeepDreamError(f"{spec.model}: no such file; convert takes --model FILE.caffemodel")
    return ConvertJob(spec, output, args.pooling_field13)


def check_layers(args) -> LayersJob:
    """``layers``' checks before TensorFlow: the model arguments."""
    return LayersJob(model_spec(args), args.size)


def check_blobs(args) -> BlobsJob:
    """``blobs``'s checks before TensorFlow: model arguments, output, the image read."""
    from tf_impl.images.files import load_rgb

    spec = model_spec(args)
    output = check_output_file(args.output, (".npz",), (args.image, spec.file, spec.prototxt))
    return BlobsJob(spec, load_rgb(args.image), tuple(args.blob), output, args.max_memory)


def run_convert(job: ConvertJob) -> int:
    """Convert and save; prints what was written."""
    from tf_impl.models.convert import convert_caffemodel

    net = convert_caffemodel(job.spec.file, job.spec.prototxt, job.pooling_field13)
    net.save(job.output)
    print(
        f"wrote {job.output}: {len(net.blob_names())} blobs from a "
        f"{net.metadata['source_format']} caffemodel"
    )
    return 0


def run_layers(job: LayersJob) -> int:
    """Print one line per blob: name, Keras layer type, channels, [shape at --size]."""
    from tf_impl.models.loading import load_net
    from tf_impl.net.shapes import blob_shapes, is_empty

    net = load_net(job.spec)
    shapes = blob_shapes(net, *job.size) if job.size else None
    for layer, name in zip(net.keras_model.layers, net.blob_names(), strict=True):
        channels = layer.output.shape[-1]
        line = f"{name:40s} {type(layer).__name__:20s} {channels:>6}"
        if shapes is not None:
            shape = shapes[name]
            text = "x".join(str(d) for d in shape[:-1]) if len(shape) == 3 else "-"
            if is_empty(shape):
                text = "too small" if len(shape) == 3 else "wrong size"
            line += f"  {text}"
        print(line)
    return 0


def run_blobs(job: BlobsJob) -> int:
    """Save the requested blobs for one image as NCHW float32 arrays in an .npz file."""
    from tf_impl.cli.limits import check_memory, memory_budget, pass_bytes, refuse_over_budget
    from tf_impl.models.loading import load_net
    from tf_impl.net.input_size import check_image_fits

    rgb, blobs = job.rgb, list(job.blobs)
    net = load_net(job.spec)
    for name in blobs:
        net.channels(name)  # raises for unknown names, with suggestions
    height, width = rgb.shape[:2]
    check_image_fits(net, blobs, height, width, "image")
    refuse_over_budget(
        pass_bytes(net, blobs, height, width),
        memory_budget(job.max_memory),
        f"the {height}x{width} image's pass to '{blobs[-1]}'",
        "use a smaller image or an earlier blob (blobs are saved at the image's own size)",
    )
    check_memory(net, blobs, height, width, None)
    values = net.blobs(net.preprocess(rgb), blobs)
    arrays = {}
    for name, value in values.items():
        nchw = value.transpose(2, 0, 1) if value.ndim == 3 else value
        arrays[name] = np.ascontiguousarray(nchw[None], dtype=np.float32)
    with atomic_output(job.output) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    print(f"wrote {job.output}: " + ", ".join(f"{k} {v.shape}" for k, v in arrays.items()))
    return 0
