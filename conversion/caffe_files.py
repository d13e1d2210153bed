"""Read Caffe's ``.caffemodel`` (binary) and ``.prototxt`` (text) files without Caffe.

Both layer formats are read: V2 (``layer``, field 100, string types, ``BlobShape``) and the
legacy V1 of the 2014 ``bvlc_googlenet.caffemodel`` (``layers``, field 2, enum types, blobs
shaped num x channels x height x width). V1 layers are upgraded to V2 messages, so the rest of
the converter sees one format. The result is a :class:`NetSpec`: the inference-time layers in
order, each with its weight blobs as NumPy arrays in Caffe's layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from google.protobuf import message as pb_message
from google.protobuf import text_format

from conversion import caffe_schema_pb2 as pb
from conversion.errors import DeepDreamError

# Layer types that only matter for training or data loading: dropped from an inference net.
DATA_LAYER_TYPES = frozenset(
    {"Data", "ImageData", "HDF5Data", "MemoryData", "WindowData", "DummyData", "Input"}
)
TRAINING_ONLY_TYPES = frozenset(
    {
        "SoftmaxWithLoss",
        "Accuracy",
        "EuclideanLoss",
        "HingeLoss",
        "InfogainLoss",
        "MultinomialLogisticLoss",
        "SigmoidCrossEntropyLoss",
        "ContrastiveLoss",
        "Silence",
        "HDF5Output",
    }
)

# V1 enum name -> V2 type string, for every V1 type (as in Caffe's upgrade_proto).
_V1_TYPE_NAMES = {
    "ABSVAL": "AbsVal",
    "ACCURACY": "Accuracy",
    "ARGMAX": "ArgMax",
    "BNLL": "BNLL",
    "CONCAT": "Concat",
    "CONTRASTIVE_LOSS": "ContrastiveLoss",
    "CONVOLUTION": "Convolution",
    "DATA": "Data",
    "DECONVOLUTION": "Deconvolution",
    "DROPOUT": "Dropout",
    "DUMMY_DATA": "DummyData",
    "EUCLIDEAN_LOSS": "EuclideanLoss",
    "ELTWISE": "Eltwise",
    "EXP": "Exp",
    "FLATTEN": "Flatten",
    "HDF5_DATA": "HDF5Data",
    "HDF5_OUTPUT": "HDF5Output",
    "HINGE_LOSS": "HingeLoss",
    "IM2COL": "Im2col",
    "IMAGE_DATA": "ImageData",
    "INFOGAIN_LOSS": "InfogainLoss",
    "INNER_PRODUCT": "InnerProduct",
    "LRN": "LRN",
    "MEMORY_DATA": "MemoryData",
    "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss",
    "MVN": "MVN",
    "POOLING": "Pooling",
    "POWER": "Power",
    "RELU": "ReLU",
    "SIGMOID": "Sigmoid",
    "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss",
    "SILENCE": "Silence",
    "SOFTMAX": "Softmax",
    "SOFTMAX_LOSS": "SoftmaxWithLoss",
    "SPLIT": "Split",
    "SLICE": "Slice",
    "TANH": "TanH",
    "WINDOW_DATA": "WindowData",
    "THRESHOLD": "Threshold",
}
# The parameter sub-messages shared by V1 and V2 layers in our schema.
_PARAM_FIELDS = (
    "concat_param",
    "convolution_param",
    "dropout_param",
    "eltwise_param",
    "inner_product_param",
    "lrn_param",
    "pooling_param",
    "power_param",
    "relu_param",
    "softmax_param",
)


@dataclass(frozen=True)
class LayerSpec:
    """One inference layer: its V2 definition (without blobs) and its weights.

    ``blobs`` are float32 arrays in Caffe's layout, e.g. a convolution weight is
    (out_channels, in_channels/group, kh, kw) and its bias (out_channels,); legacy V1
    blobs arrive 4-D (a bias as 1x1x1xN) and are reshaped by the Keras builder.
    """

    name: str
    type: str
    bottoms: tuple[str, ...]
    tops: tuple[str, ...]
    param: pb.LayerParameter
    blobs: tuple[np.ndarray, ...] = ()


@dataclass(frozen=True)
class NetSpec:
    """An inference network: one BGR image input blob and the layers in Caffe's order.

    ``dropped`` names the layers of the file left out of the inference net, each with why
    (training-only, a data layer, excluded from the TEST phase, or reading only the labels).
    ``input_shape``: the input's declared (N, C, H, W) (an ``Input`` layer's shape, or the
    net's ``input_shape`` / ``input_dim``), None when the file declares none.
    """

    name: str
    input_blob: str
    layers: tuple[LayerSpec, ...]
    source_format: str  # "V1" or "V2": the layer format of the file the layers came from
    dropped: tuple[tuple[str, str], ...] = ()
    input_shape: tuple[int, ...] | None = None


# PoolingParameter field 13 is BVLC Caffe's enum ``round_mode`` (CEIL = 0, FLOOR = 1) but a
# bool ``ceil_mode`` (true = ceil) in several forks, brocolli-caffe (``make caffe``) among them:
# the same bytes mean opposite things. The project's schema holds BVLC's spelling.
FIELD13_ROUND_MODE = "round_mode"
FIELD13_CEIL_MODE = "ceil_mode"
FIELD13_CHOICES = (FIELD13_ROUND_MODE, FIELD13_CEIL_MODE)
_CEIL_MODE_TEXT = re.compile(r"\bceil_mode\s*:\s*(\w+)")
_TEXT_BOOLS = {"true": True, "t": True, "1": True, "false": False, "f": False, "0": False}


def read_caffemodel(path: str | Path) -> pb.NetParameter:
    """Parse a binary ``.caffemodel``; raise DeepDreamError if it is not one."""
    path = Path(path)
    data = _read_bytes(path)
    net = pb.NetParameter()
    try:
        net.ParseFromString(data)
    except pb_message.DecodeError as exc:
        raise DeepDreamError(
            f"{path}: not a readable Caffe model (protobuf decode failed: {exc}); the file is "
            "truncated or not a .caffemodel - download it again or pass the right file"
        ) from None
    if not net.layer and not net.layers:
        raise DeepDreamError(
            f"{path}: no Caffe layers found; this is not a .caffemodel "
            "(a .prototxt is text: pass it with --prototxt)"
        )
    _check_single_format(net, path)
    return net


def read_prototxt(path: str | Path) -> pb.NetParameter:
    """Parse a text-format ``.prototxt`` network definition."""
    path = Path(path)
    text = _ceil_mode_as_round_mode(_read_bytes(path).decode("utf-8", errors="replace"), path)
    net = pb.NetParameter()
    try:
        text_format.Parse(text, net, allow_unknown_field=True)
    except text_format.ParseError as exc:
        raise DeepDreamError(f"{path}: not a valid Caffe prototxt: {exc}") from None
    if not net.layer and not net.layers:
        raise DeepDreamError(f"{path}: the prototxt defines no layers")
    _check_single_format(net, path)
    return net


def _ceil_mode_as_round_mode(text: str, path: Path) -> str:
    """A fork's ``ceil_mode: true|false`` written as BVLC's ``round_mode: CEIL|FLOOR``."""

    def replace(match: re.Match) -> str:
        value = _TEXT_BOOLS.get(match.group(1).lower())
        if value is None:
            raise DeepDreamError(
                f"{path}: 'ceil_mode: {match.group(1)}' is not a boolean; write true or false"
            )
        return f"round_mode: {'CEIL' if value else 'FLOOR'}"

    return _CEIL_MODE_TEXT.sub(replace, text)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DeepDreamError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DeepDreamError(f"{path}: is a directory, expected a file") from None
    except OSError as exc:
        raise DeepDreamError(f"{path}: cannot read ({exc.strerror})") from None


def _check_single_format(net: pb.NetParameter, path: Path) -> None:
    if net.layer and net.layers:
        raise DeepDreamError(
            f"{path}: uses both V2 'layer' and V1 'layers' fields, which Caffe rejects; "
            "keep only one of them"
        )


def upgrade_v1_layer(v1: pb.V1LayerParameter) -> pb.LayerParameter:
    """Return the V2 ``LayerParameter`` equivalent of a legacy V1 layer (blobs included)."""
    layer = pb.LayerParameter(name=v1.name, bottom=v1.bottom, top=v1.top)
    enum_name = pb.V1LayerParameter.LayerType.Name(v1.type)
    layer.type = _V1_TYPE_NAMES.get(enum_name, enum_name)
    layer.include.extend(v1.include)
    layer.exclude.extend(v1.exclude)
    layer.blobs.extend(v1.blobs)
    for name in _PARAM_FIELDS:
        if v1.HasField(name):
            getattr(layer, name).CopyFrom(getattr(v1, name))
    return layer


def v2_layers(net: pb.NetParameter) -> list[pb.LayerParameter]:
    """The net's layers as V2 messages, upgrading V1 ones."""
    if net.layers:
        return [upgrade_v1_layer(v1) for v1 in net.layers]
    return list(net.layer)


def _included_in_test_phase(layer: pb.LayerParameter) -> bool:
    """Caffe's NetStateRule check for the TEST phase, level 0 and no stages."""

    def meets(rule: pb.NetStateRule) -> bool:
        if rule.HasField("phase") and rule.phase != pb.TEST:
            return False
        if rule.HasField("min_level") and rule.min_level > 0:
            return False
        if rule.HasField("max_level") and rule.max_level < 0:
            return False
        return not rule.stage

    if layer.include:
        return any(meets(rule) for rule in layer.include)
    return not any(meets(rule) for rule in layer.exclude)


def blob_to_array(blob: pb.BlobProto) -> np.ndarray:
    """A weight blob as float32, shaped by ``shape`` (V2) or num/channels/height/width (V1)."""
    values = blob.data if len(blob.data) else blob.double_data
    array = np.asarray(values, dtype=np.float32)
    if blob.HasField("shape"):
        shape = tuple(int(d) for d in blob.shape.dim)
    else:
        shape = (blob.num, blob.channels, blob.height, blob.width)
    if int(np.prod(shape)) != array.size:
        raise DeepDreamError(
            f"weight blob declares shape {shape} but holds {array.size} values; "
            "the model file is corrupt"
        )
    return array.reshape(shape)


def _input_blob(net: pb.NetParameter, layers: list[pb.LayerParameter], path: Path) -> str:
    if net.input:
        return net.input[0]
    for layer in layers:
        if layer.type in DATA_LAYER_TYPES and layer.top:
            return layer.top[0]
    raise DeepDreamError(
        f"{path}: no input blob (no 'input:' field, Input layer or data layer); "
        "pass a deploy prototxt with --prototxt"
    )


def _declared_input_shape(
    net: pb.NetParameter, layers: list[pb.LayerParameter], input_blob: str
) -> tuple[int, ...] | None:
    """The input blob's declared shape, as Caffe reads it: the net's ``input_shape`` or
    four ``input_dim`` values, else the ``Input`` layer's shape for that top."""
    if net.input and net.input_shape:
        return tuple(int(d) for d in net.input_shape[0].dim)
    if net.input and len(net.input_dim) >= 4:
        return tuple(int(d) for d in net.input_dim[:4])
    for layer in layers:
        if layer.type == "Input" and input_blob in layer.top:
            shapes = layer.input_param.shape
            index = list(layer.top).index(input_blob)
            if shapes:
                return tuple(int(d) for d in shapes[min(index, len(shapes) - 1)].dim)
    return None


def _resolve_field13(layers: list[pb.LayerParameter], field13: str | None, path: Path) -> None:
    """Make every pooling layer's field 13 mean BVLC's ``round_mode`` (in place).

    Only binary files are ambiguous (a prototxt spells the field's name): a binary pooling
    layer that stores field 13 needs ``field13`` to say which dialect wrote it, and without it
    this raises rather than guess. ``"ceil_mode"``: the fork's bool, so 1 = ceil, 0 = floor.
    """
    stored = [
        layer
        for layer in layers
        if layer.type == "Pooling" and layer.pooling_param.HasField("round_mode")
    ]
    if not stored:
        return
    if field13 not in FIELD13_CHOICES:
        raise DeepDreamError(
            f"{path}: pooling layer '{stored[0].name}' stores field 13, which BVLC Caffe "
            "writes as round_mode (0 = CEIL) and forks such as brocolli-caffe as ceil_mode "
            "(0 = floor): pass --pooling-field13 round_mode or --pooling-field13 ceil_mode "
            "(or give the deploy prototxt with --prototxt)"
        )
    if field13 == FIELD13_CEIL_MODE:
        for layer in stored:
            ceil = layer.pooling_param.round_mode != 0  # the fork's bool: 1 means ceil
            layer.pooling_param.round_mode = (
                pb.PoolingParameter.CEIL if ceil else pb.PoolingParameter.FLOOR
            )


def _drop_reason(layer: pb.LayerParameter, label_blobs: set[str]) -> str | None:
    """Why ``layer`` is not part of the inference net (None: it is)."""
    if not _included_in_test_phase(layer):
        return "excluded from the TEST phase"
    if layer.type in DATA_LAYER_TYPES:
        return "data layer"
    if layer.type in TRAINING_ONLY_TYPES:
        return "training only"
    if layer.bottom and all(b in label_blobs for b in layer.bottom):
        return "reads only the data layer's labels"
    return None


def build_net_spec(
    caffemodel: str | Path,
    prototxt: str | Path | pb.NetParameter | None = None,
    field13: str | None = None,
) -> NetSpec:
    """Assemble an inference :class:`NetSpec` from a caffemodel, optionally with a prototxt.

    - caffemodel alone: its own layer list (a train_val net works: data, loss, accuracy and
      other training-only layers are dropped, as are layers excluded from the TEST phase).
    - prototxt (a path or a parsed NetParameter) + caffemodel: the prototxt's layers, with
      weights matched by layer name; weights of layers the prototxt lacks are ignored; a
      prototxt layer that needs weights the caffemodel lacks is an error naming the layer
      (raised by the Keras builder).

    Split layers (Caffe writes one wherever a blob feeds several layers) are kept as
    identity fan-outs. ``field13``: which dialect wrote PoolingParameter field 13 of a
    binary file without prototxt (``"round_mode"``: BVLC, ``"ceil_mode"``: forks); needed
    only when such a file stores that field (see :func:`_resolve_field13`).
    """
    weights_net = read_caffemodel(caffemodel)
    if isinstance(prototxt, pb.NetParameter):
        structure_net, structure_path = prototxt, Path(prototxt.name or "prototxt")
    elif prototxt is not None:
        structure_net, structure_path = read_prototxt(prototxt), Path(prototxt)
    else:
        structure_net, structure_path = weights_net, Path(caffemodel)

    all_layers = v2_layers(structure_net)
    if structure_net is weights_net:
        _resolve_field13(all_layers, field13, structure_path)
    source_format = "V1" if weights_net.layers else "V2"
    input_blob = _input_blob(structure_net, all_layers, structure_path)

    weights = {
        layer.name: tuple(blob_to_array(b) for b in layer.blobs)
        for layer in v2_layers(weights_net)
        if layer.blobs
    }

    specs, dropped = [], []
    # Blobs made by data layers besides the image (labels) and by layers reading only them.
    label_blobs: set[str] = set()
    for layer in all_layers:
        reason = _drop_reason(layer, label_blobs)
        if reason is not None:
            dropped.append((layer.name, reason))
            if reason != "excluded from the TEST phase":
                label_blobs.update(t for t in layer.top if t != input_blob)
            continue
        blobs = weights.get(layer.name, ())
        if not blobs and layer.blobs:
            blobs = tuple(blob_to_array(b) for b in layer.blobs)
        param = pb.LayerParameter()
        param.CopyFrom(layer)
        del param.blobs[:]
        specs.append(
            LayerSpec(
                name=layer.name,
                type=layer.type,
                bottoms=tuple(layer.bottom),
                tops=tuple(layer.top),
                param=param,
                blobs=blobs,
            )
        )
    return NetSpec(
        name=structure_net.name or structure_path.stem,
        input_blob=input_blob,
        layers=tuple(specs),
        source_format=source_format,
        dropped=tuple(dropped),
        input_shape=_declared_input_shape(structure_net, all_layers, input_blob),
    )
