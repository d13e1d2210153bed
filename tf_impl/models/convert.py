"""Caffe files to a :class:`~tf_impl.net.network.DreamNet`: the converter's one entry point.

``conversion`` reads the files into a neutral :class:`~conversion.caffe_files.NetSpec`;
:mod:`tf_impl.net.builder` turns that into a Keras model.
"""

from __future__ import annotations

from pathlib import Path

from conversion import caffe_schema_pb2 as pb
from conversion.caffe_files import build_net_spec
from conversion.registry import CAFFE_MEAN_BGR
from tf_impl.net.builder import build_keras_model
from tf_impl.net.network import DreamNet
from tf_impl.net.shapes import blob_shapes

# Bump when the converted model's layout or naming changes: cached conversions are redone.
CONVERTER_VERSION = 2


def convert_caffemodel(
    caffemodel: str | Path,
    prototxt: str | Path | pb.NetParameter | None = None,
    field13: str | None = None,
) -> DreamNet:
    """Convert a ``.caffemodel`` (V1 or V2; optionally with a deploy prototxt) to a DreamNet.

    The result takes BGR, mean-subtracted (104, 116, 122), 0-255 NHWC input, as Caffe's
    GoogLeNet does. ``field13``: "round_mode" (BVLC) or "ceil_mode" (forks), needed only for
    a caffemodel without prototxt whose pooling layers store that ambiguous field. Raises
    DeepDreamError for unreadable files, unsupported layers or weights that do not fit.
    """
    spec = build_net_spec(caffemodel, prototxt, field13)
    model = build_keras_model(spec)
    if spec.input_shape is not None and len(spec.input_shape) == 4:
        # Blob shapes at the declared input size: refuses Eltwise bottoms that do not line up
        # there (and AVE windows Caffe would divide by 0), naming the layer.
        blob_shapes(DreamNet(model), *spec.input_shape[2:])
    if isinstance(prototxt, pb.NetParameter):
        structure = f"generated ({prototxt.name})"
    else:
        structure = str(prototxt) if prototxt is not None else "caffemodel"
    metadata = {
        "source": Path(caffemodel).name,
        "source_format": spec.source_format,
        "structure": structure,
        "converter_version": CONVERTER_VERSION,
    }
    return DreamNet(model, mean=CAFFE_MEAN_BGR, channel_order="BGR", metadata=metadata)
