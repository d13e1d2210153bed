"""``deepdream convert``, ``deepdream layers`` and ``deepdream blobs``: model inspection."""

from __future__ import annotations

import argparse

import numpy as np

from conversion.errors import DeepDreamError
from conversion.model_files import check_model_arguments, model_file
from conversion.output_checks import check_output_file
from conversion.outputs import atomic_output
from tf_impl.cli.parsing import HelpFormatter, size_hxw

OFFLINE = "deepdream synthetic-model -o synthetic.keras"


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
        epilog="examples:\n  deepdream convert bvlc_googlenet.caffemodel -o googlenet.keras\n"
        "  deepdream synthetic-model -o synthetic.caffemodel    # offline: random weights\n"
        "  deepdream convert synthetic.caffemodel -o synthetic.keras\n",
        formatter_class=HelpFormatter,
    )
    convert.add_argument("caffemodel", help="the .caffemodel file (V1 or V2)")
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
        "  deepdream layers bvlc_googlenet --size 575x1024   # downloads the model once\n"
        f"  {OFFLINE}          # offline: random weights\n"
        "  deepdream layers synthetic.keras --size 575x1024\n",
        formatter_class=HelpFormatter,
    )
    layers.add_argument("model", help="model name (bvlc_googlenet) or .caffemodel/.keras file")
    layers.add_argument("--prototxt", help="deploy .prototxt for a .caffemodel")
    layers.add_argument("--size", type=size_hxw, help="input size HxW for spatial shapes")
    layers.set_defaults(func=run_layers, check=check_model)

    blobs = subparsers.add_parser(
        "blobs",
        help="save blobs for an image as float32 NCHW arrays (.npz)",
        description="Run the model on an image (at its own size, preprocessed as the "
        "DeepDream notebook does: RGB->BGR minus the mean) and save the chosen blobs as "
        "float32 arrays in Caffe's NCHW layout, keyed by their Caffe names.",
        epilog="examples (the sample photo comes with matplotlib):\n"
        '  deepdream blobs bvlc_googlenet "$(python -m tf_impl.images.sample)" '
        "--blob inception_4c/output --blob inception_3b/5x5_reduce -o blobs.npz\n"
        f"  {OFFLINE}          # offline: random weights\n"
        '  deepdream blobs synthetic.keras "$(python -m tf_impl.images.sample)" '
        "--blob inception_4c/output -o blobs.npz\n",
        formatter_class=HelpFormatter,
    )
    blobs.add_argument("model", help="model name or .caffemodel/.keras file")
    blobs.add_argument("image", help="input image")
    blobs.add_argument("--blob", action="append", required=True, help="blob name (repeatable)")
    blobs.add_argument("--prototxt", help="deploy .prototxt for a .caffemodel")
    blobs.add_argument("-o", "--output", required=True, help="output .npz file")
    blobs.set_defaults(func=run_blobs, check=check_blobs)


# The commands import their modules inside the functions, not at the top: those load
# TensorFlow, which the CLI imports (quietly) only after the arguments are parsed.


def _load(args):
    from tf_impl.models.loading import load_net

    return load_net(args.model, args.prototxt)


def check_model(args) -> None:
    """Model arguments, before TensorFlow is imported."""
    check_model_arguments(args.model, args.prototxt)


def check_convert(args) -> None:
    """``convert``'s checks before TensorFlow: the files exist, the output is writable and is
    neither the caffemodel nor the prototxt."""
    from pathlib import Path

    if not Path(args.caffemodel).is_file():
        raise DeepDreamError(f"{args.caffemodel}: no such file")
    check_output_file(args.output, (".keras",), (args.caffemodel, args.prototxt))
    check_model_arguments(args.caffemodel, args.prototxt)


def check_blobs(args) -> None:
    """``blobs``'s checks before TensorFlow: model arguments, output, the image (kept)."""
    from tf_impl.images.files import load_rgb

    check_model(args)
    inputs = (args.image, model_file(args.model), args.prototxt)
    check_output_file(args.output, (".npz",), inputs)
    args.rgb = load_rgb(args.image)


def run_convert(args) -> int:
    """Convert and save; prints what was written."""
    from tf_impl.models.convert import convert_caffemodel

    net = convert_caffemodel(args.caffemodel, args.prototxt, args.pooling_field13)
    net.save(args.output)
    print(
        f"wrote {args.output}: {len(net.blob_names())} blobs from a "
        f"{net.metadata['source_format']} caffemodel"
    )
    return 0


def run_layers(args) -> int:
    """Print one line per blob: name, Keras layer type, channels, [shape at --size]."""
    from tf_impl.net.shapes import blob_shapes, is_empty

    net = _load(args)
    shapes = blob_shapes(net, *args.size) if args.size else None
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


def run_blobs(args) -> int:
    """Save the requested blobs for one image as NCHW float32 arrays in an .npz file."""
    from tf_impl.cli.limits import check_memory
    from tf_impl.net.input_size import check_image_fits

    output, rgb = args.output, args.rgb
    net = _load(args)
    for name in args.blob:
        net.channels(name)  # raises for unknown names, with suggestions
    check_image_fits(net, args.blob, *rgb.shape[:2], "image")
    check_memory(net, args.blob, *rgb.shape[:2], None)
    values = net.blobs(net.preprocess(rgb), args.blob)
    arrays = {}
    for name, value in values.items():
        nchw = value.transpose(2, 0, 1) if value.ndim == 3 else value
        arrays[name] = np.ascontiguousarray(nchw[None], dtype=np.float32)
    with atomic_output(output) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    print(f"wrote {output}: " + ", ".join(f"{k} {v.shape}" for k, v in arrays.items()))
    return 0
