"""``deepdream export``: a Caffe model to an ONNX file (runs without TensorFlow)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conversion.errors import DeepDreamError
from conversion.model_files import ModelSpec
from conversion.output_checks import check_output_file
from tf_impl.cli.model_commands import add_pooling_field13_option
from tf_impl.cli.options import add_model_options, model_spec


@dataclass(frozen=True)
class ExportJob:
    """A checked ``export``: the Caffe model, the .onnx output, the blobs to expose."""

    spec: ModelSpec
    output: Path
    outputs: tuple[str, ...]
    pooling_field13: str | None


def register(subparsers) -> None:
    """Add the export subcommand."""
    export = subparsers.add_parser(
        "export",
        help="export a Caffe model to ONNX",
        description="Export a Caffe model (V1 or V2 .caffemodel, optionally with a deploy "
        "prototxt, or a model name) to an ONNX file with Caffe's exact semantics: input "
        "'data', NCHW float32 BGR minus the mean (104, 116, 122), 0-255, any height and "
        "width. Outputs are named after Caffe layers (a convolution's name is its pre-ReLU "
        "value, the ReLU layer's name the post-ReLU value). A converted .keras file cannot "
        "be exported: pass the caffemodel it came from.",
        epilog="example: deepdream export --model bvlc_googlenet.caffemodel --prototxt "
        "deploy.prototxt -o googlenet.onnx --outputs inception_4c/output conv2/norm2",
    )
    add_model_options(export, legacy_positional=True)
    export.add_argument("-o", "--output", required=True, help="output .onnx file")
    export.add_argument(
        "--outputs",
        nargs="+",
        metavar="BLOB",
        default=[],
        help="blobs to expose, by Caffe layer name; only the layers they need are kept "
        "(default: the last layer)",
    )
    add_pooling_field13_option(export)
    export.set_defaults(func=run_export, check=check_export, needs_tensorflow=False)


def check_export(args) -> ExportJob:
    """``export``'s checks: the model arguments, the .onnx output (not an input)."""
    given = args.model or args.legacy_model
    output = check_output_file(args.output, (".onnx",), (given, args.prototxt))
    spec = model_spec(args)
    return ExportJob(spec, output, tuple(args.outputs), args.pooling_field13)


def run_export(job: ExportJob) -> int:
    """Export and save; prints what was written."""
    try:
        from conversion.onnx_export import export_onnx
    except ImportError as exc:
        raise DeepDreamError(
            f"ONNX export needs the 'onnx' package ({exc}); pip install 'deepdream-tf2[onnx]'"
        ) from None
    spec = job.spec
    model = export_onnx(
        spec.model, job.output, spec.prototxt, list(job.outputs), job.pooling_field13
    )
    names = ", ".join(o.name for o in model.graph.output)
    print(f"wrote {job.output}: {len(model.graph.node)} ONNX nodes, outputs {names}")
    return 0
