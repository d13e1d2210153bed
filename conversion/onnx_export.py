"""A Caffe :class:`~conversion.caffe_files.NetSpec` as an ONNX model, without TensorFlow.

The ONNX graph takes one float32 NCHW input named after the Caffe input blob (``data``):
BGR, mean-subtracted (104, 116, 122), 0-255 scale, with batch, height and width symbolic, so
one file runs at every octave size. Every layer's output tensor is named after the Caffe
layer, as pycaffe's ``net.forward(end=NAME)`` names blobs: a convolution's name is its pre-ReLU
value and the in-place ReLU's name the post-ReLU value. The graph outputs are the last layer
and, with ``outputs``, any other blobs by those names.

Caffe semantics kept exactly (and where ONNX's own rules differ):

- Convolution: symmetric pads, strides, dilations, groups, optional bias.
- Pooling, ceil mode (Caffe's default): Caffe's output length is
  ``ceil((H + 2p - k) / s) + 1``, less one when any pad is set and the last window would
  start at or beyond ``H + p`` (inside the bottom/right padding), on both axes. ONNX's
  ``ceil_mode`` is not implemented alike everywhere (ONNX Runtime agrees with Caffe on the
  cases tested; onnx2tf fails or differs: README, "ONNX"), so the export does not use it:
  with floor rounding and an end pad of ``e``, ONNX gives ``floor((H + p + e - k) / s) + 1``
  windows, and :func:`caffe_end_pad` picks the one ``e``
  (independent of H) for which that equals Caffe's length at every H: ``e = p + s - 1``
  without the drop rule, ``e = p + min(s, k - p) - 1`` with it. (Kept windows are those within
  the ceil count, ``floor((H + 2p - k + 2s - 1) / s)``, that start before ``H`` in Caffe's
  coordinates, ``floor((H + p + s - 1) / s)`` of them; a min of floors with the same step is
  the floor of the min, and ``p < k`` makes the two differ by at most the one dropped window.
  tests/test_onnx_export.py checks it at every length up to 60 for k, s <= 5.)
- MAX pooling ignores padding (ONNX's pads are -inf for MaxPool). AVE pooling divides by
  Caffe's count: the window clipped to the input plus its ``p`` padding cells on each side
  (padding counts, the overflow beyond does not). Written as an explicit zero Pad of ``p``
  followed by AveragePool with ``count_include_pad=0`` over the padded map.
- LRN: ONNX's LRN divides ``alpha`` by ``size`` as Caffe does, and sums over the same
  channel window (``size`` odd).
- InnerProduct: Flatten of NCHW (Caffe's C, H, W order) then Gemm with Caffe's (out, in)
  weight transposed by the op (``transB=1``).
- Softmax over channels (axis 1), Concat over channels, ReLU / LeakyRelu, Dropout as Identity.
- BatchNorm (inference): Sub of the mean, Div by sqrt(variance + eps), with mean and variance
  the stored blobs times 1 / factor (0 for 0) computed in float32 as Caffe does (ONNX's
  BatchNormalization is left out: runtimes fold it their own way).
- Scale / Bias (learned, per channel or scalar): Mul (then Add) / Add. Eltwise: SUM as Mul by
  each coefficient other than 1 and Adds in Caffe's order, PROD as Muls, MAX as Max. Power:
  Mul by scale, Add of shift, then Mul(y, y) for power 2, Sqrt for 0.5, else Pow; power *
  scale = 0 is Caffe's constant (ConstantOfShape). Forward only: ONNX keeps no backward, so
  the in-place ReLU's Caffe backward (see tf_impl.net.layers.CaffeLeakyReLU) has no place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from conversion import caffe_schema_pb2 as pb
from conversion.caffe_files import LayerSpec, NetSpec, build_net_spec
from conversion.download import fetch_caffe_files
from conversion.errors import DeepDreamError
from conversion.layer_params import (
    LAYER_TYPES,
    PoolGeometry,
    batch_norm_stats,
    bias_weights,
    check_concat_channels,
    conv_geometry,
    eltwise_op,
    fit_blob,
    inner_product_weights,
    pool_geometry,
    power_constant,
    power_op,
    scale_weights,
)
from conversion.model_files import model_entry, model_file
from conversion.outputs import atomic_output

OPSET = 17
IR_VERSION = 8  # ONNX 1.10+: read by every ONNX Runtime and onnx2tf release in use
SUPPORTED = LAYER_TYPES
BATCH, HEIGHT, WIDTH = "batch", "height", "width"


def caffe_end_pad(size_pad: int, stride: int, kernel: int, drop_rule: bool) -> int:
    """End (bottom/right) padding that makes ONNX's floor-rounded pooling produce Caffe's
    ceil-rounded output length at every input length (see the module docstring)."""
    return size_pad + (min(stride, kernel - size_pad) if drop_rule else stride) - 1


class _Graph:
    """Accumulates nodes and initializers; tensors are named after Caffe layers."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.channels: dict[str, int] = {}  # tensor name -> channels (or features)
        self.flat: set[str] = set()  # tensors of shape (batch, features), after InnerProduct

    def constant(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: Sequence[str], output: str, name: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, list(inputs), [output], name=name, **attrs))
        return output


def _convolution(graph: _Graph, layer: LayerSpec, bottom: str, out: str) -> int:
    p = layer.param.convolution_param
    geometry = conv_geometry(layer)
    in_channels = graph.channels[bottom]
    if in_channels % p.group or p.num_output % p.group:
        raise DeepDreamError(f"layer '{layer.name}': group {p.group} does not divide the channels")
    weight = fit_blob(layer, 0, (p.num_output, in_channels // p.group, *geometry.kernel), "weight")
    inputs = [bottom, graph.constant(f"{layer.name}/weight", weight)]
    if p.bias_term:
        inputs.append(
            graph.constant(f"{layer.name}/bias", fit_blob(layer, 1, (p.num_output,), "bias"))
        )
    ph, pw = geometry.pad
    graph.node(
        "Conv",
        inputs,
        out,
        layer.name,
        kernel_shape=list(geometry.kernel),
        strides=list(geometry.stride),
        pads=[ph, pw, ph, pw],
        dilations=list(geometry.dilation),
        group=p.group,
    )
    return p.num_output


def _pool_pads(layer: LayerSpec, geometry: PoolGeometry) -> tuple[list[int], list[int]]:
    """(begin, end) pads per axis (h, w) for ONNX floor-mode pooling with Caffe's length."""
    if any(p >= k for p, k in zip(geometry.pad, geometry.kernel, strict=True)):
        raise DeepDreamError(
            f"layer '{layer.name}': pooling pad {geometry.pad} is not smaller than its kernel "
            f"{geometry.kernel}, which Caffe itself rejects; fix the prototxt"
        )
    begin = list(geometry.pad)
    if not geometry.ceil_mode:
        return begin, list(geometry.pad)
    drop_rule = any(geometry.pad)
    end = [
        caffe_end_pad(p, s, k, drop_rule)
        for p, s, k in zip(geometry.pad, geometry.stride, geometry.kernel, strict=True)
    ]
    return begin, end


def _pooling(graph: _Graph, layer: LayerSpec, bottom: str, out: str) -> None:
    geometry = pool_geometry(layer)
    if geometry.global_pooling:
        op = "GlobalMaxPool" if geometry.method == "MAX" else "GlobalAveragePool"
        graph.node(op, [bottom], out, layer.name)
        return
    begin, end = _pool_pads(layer, geometry)
    kernel = list(geometry.kernel)
    attrs = {"kernel_shape": kernel, "strides": list(geometry.stride)}
    if geometry.method == "MAX":
        if all(e < k for e, k in zip(end, kernel, strict=True)):
            graph.node("MaxPool", [bottom], out, layer.name, pads=begin + end, **attrs)
            return
        # ONNX Runtime wants pads smaller than the kernel: pad with -inf explicitly.
        padded = _pad(graph, layer, bottom, begin, end, float("-inf"))
        graph.node("MaxPool", [padded], out, layer.name, **attrs)
        return
    # AVE: zero-pad by Caffe's pad (those cells count), then pool without counting the
    # remaining end overflow.
    overflow = [e - p for e, p in zip(end, geometry.pad, strict=True)]
    if any(o >= k for o, k in zip(overflow, kernel, strict=True)):
        raise DeepDreamError(
            f"layer '{layer.name}': AVE pooling with stride {geometry.stride} larger than its "
            f"kernel {geometry.kernel} and no pad cannot be expressed in ONNX's AveragePool"
        )
    padded = _pad(graph, layer, bottom, begin, begin, 0.0) if any(begin) else bottom
    graph.node(
        "AveragePool",
        [padded],
        out,
        layer.name,
        pads=[0, 0, *overflow],
        count_include_pad=0,
        **attrs,
    )


def _pad(
    graph: _Graph, layer: LayerSpec, bottom: str, begin: list[int], end: list[int], value: float
) -> str:
    """A constant Pad of ``bottom``'s (h, w) axes; the value input is left out for zeros."""
    inputs = [bottom, graph.constant(f"{layer.name}/pads", np.array([0, 0, *begin, 0, 0, *end]))]
    if value:
        inputs.append(graph.constant(f"{layer.name}/pad_value", np.array(value, np.float32)))
    return graph.node("Pad", inputs, f"{layer.name}/padded", f"{layer.name}/pad", mode="constant")


def _lrn(graph: _Graph, layer: LayerSpec, bottom: str, out: str) -> None:
    p = layer.param.lrn_param
    if p.norm_region != pb.LRNParameter.ACROSS_CHANNELS:
        raise DeepDreamError(
            f"layer '{layer.name}': LRN WITHIN_CHANNEL is not supported (only ACROSS_CHANNELS)"
        )
    if p.local_size % 2 != 1:
        raise DeepDreamError(f"layer '{layer.name}': LRN local_size must be odd")
    graph.node(
        "LRN", [bottom], out, layer.name, size=p.local_size, alpha=p.alpha, beta=p.beta, bias=p.k
    )


def _inner_product(graph: _Graph, layer: LayerSpec, bottom: str, out: str) -> int:
    weight, bias = inner_product_weights(layer)
    flat = graph.node("Flatten", [bottom], f"{layer.name}/flat", f"{layer.name}/flatten", axis=1)
    inputs = [flat, graph.constant(f"{layer.name}/weight", weight)]
    if bias is not None:
        inputs.append(graph.constant(f"{layer.name}/bias", bias))
    graph.node("Gemm", inputs, out, layer.name, transB=1)
    return weight.shape[0]


def _per_channel(graph: _Graph, bottom: str, values: np.ndarray) -> np.ndarray:
    """A (C,) parameter shaped to broadcast over ``bottom``: (C, 1, 1) for NCHW, (C,) for
    (batch, features); a scalar stays a scalar."""
    values = np.asarray(values, np.float32)
    if values.ndim == 0 or bottom in graph.flat:
        return values
    return values.reshape(-1, 1, 1)


def _rank(graph: _Graph, bottom: str) -> int:
    return 2 if bottom in graph.flat else 4


def _batch_norm(graph: _Graph, layer: LayerSpec, bottom: str, out: str) -> None:
    mean, std = batch_norm_stats(layer, graph.channels[bottom]).float32_mean_std()
    centred = graph.node(
        "Sub",
        [bottom, graph.constant(f"{layer.name}/mean", _per_channel(graph, bottom, mean))],
        f"{layer.name}/centred",
        f"{layer.name}/sub",
    )
    std_name = graph.constant(f"{layer.name}/std", _per_channel(graph, bottom, std))
    graph.node("Div", [centred, std_name], out, layer.name)


def _scale(graph: _Graph, layer: LayerSpec, bottom: str, out: str) -> None:
    scale, bias = scale_weights(layer, graph.channels[bottom], _rank(graph, bottom))
    factor = graph.constant(f"{layer.name}/scale", _per_channel(graph, bottom, scale))
    if bias is None:
        graph.node("Mul", [bottom, factor], out, layer.name)
        return
    scaled = graph.node("Mul", [bottom, factor], f"{layer.name}/scaled", f"{layer.name}/mul")
    shift = graph.constant(f"{layer.name}/bias", _per_channel(graph, bottom, bias))
    graph.node("Add", [scaled, shift], out, layer.name)


def _bias(graph: _Graph, layer: LayerSpec, bottom: str, out: str) -> None:
    bias = bias_weights(layer, graph.channels[bottom], _rank(graph, bottom))
    shift = graph.constant(f"{layer.name}/bias", _per_channel(graph, bottom, bias))
    graph.node("Add", [bottom, shift], out, layer.name)


def _eltwise(graph: _Graph, layer: LayerSpec, bottoms: list[str], out: str) -> None:
    op = eltwise_op(layer)
    if len({graph.channels[b] for b in bottoms}) > 1:
        raise DeepDreamError(
            f"layer '{layer.name}' (Eltwise {op.operation}) combines blobs with "
            f"{' and '.join(str(graph.channels[b]) for b in bottoms)} channels; Caffe needs one "
            "shape: fix the prototxt"
        )
    if op.operation == "MAX":
        graph.node("Max", bottoms, out, layer.name)
        return
    terms = list(bottoms)
    if op.operation == "SUM":
        for i, coeff in enumerate(op.coeffs):
            if coeff != 1:
                c = graph.constant(f"{layer.name}/coeff{i}", np.array(coeff, np.float32))
                terms[i] = graph.node(
                    "Mul", [terms[i], c], f"{layer.name}/term{i}", f"{layer.name}/mul{i}"
                )
    kind = "Add" if op.operation == "SUM" else "Mul"
    value = terms[0]
    for i, term in enumerate(terms[1:], start=1):
        last = i == len(terms) - 1
        name = out if last else f"{layer.name}/partial{i}"
        value = graph.node(kind, [value, term], name, layer.name if last else name)


def _power(graph: _Graph, layer: LayerSpec, bottom: str, out: str) -> None:
    op = power_op(layer)
    value = power_constant(op.power, op.scale, op.shift)
    if value is not None:
        shape = graph.node("Shape", [bottom], f"{layer.name}/shape", f"{layer.name}/shape")
        fill = helper.make_tensor(f"{layer.name}/value", TensorProto.FLOAT, [1], [value])
        graph.node("ConstantOfShape", [shape], out, layer.name, value=fill)
        return

    def constant(what: str, value: float) -> str:
        return graph.constant(f"{layer.name}/{what}", np.array(value, np.float32))

    # (ONNX op, its inputs given the value so far), in Caffe's order.
    steps: list[tuple[str, Callable[[str], list[str]]]] = []
    if op.scale != 1:
        steps.append(("Mul", lambda v: [v, constant("scale", op.scale)]))
    if op.shift != 0:
        steps.append(("Add", lambda v: [v, constant("shift", op.shift)]))
    if op.power == 2:
        steps.append(("Mul", lambda v: [v, v]))
    elif op.power == 0.5:
        steps.append(("Sqrt", lambda v: [v]))
    elif op.power != 1:
        steps.append(("Pow", lambda v: [v, constant("power", op.power)]))
    if not steps:
        graph.node("Identity", [bottom], out, layer.name)
        return
    value = bottom
    for i, (kind, inputs) in enumerate(steps):
        last = i == len(steps) - 1
        name = out if last else f"{layer.name}/step{i}"
        value = graph.node(kind, inputs(value), name, layer.name if last else name)


def _add_layer(graph: _Graph, layer: LayerSpec, bottoms: list[str], out: str) -> None:
    """Append ``layer``'s nodes reading ``bottoms`` and writing tensor ``out``."""
    bottom = bottoms[0]
    channels = graph.channels[bottom]
    if layer.type == "Convolution":
        channels = _convolution(graph, layer, bottom, out)
    elif layer.type == "ReLU":
        slope = layer.param.relu_param.negative_slope
        if slope:
            graph.node("LeakyRelu", [bottom], out, layer.name, alpha=slope)
        else:
            graph.node("Relu", [bottom], out, layer.name)
    elif layer.type == "Pooling":
        _pooling(graph, layer, bottom, out)
    elif layer.type == "LRN":
        _lrn(graph, layer, bottom, out)
    elif layer.type == "Concat":
        check_concat_channels(layer)
        graph.node("Concat", bottoms, out, layer.name, axis=1)
        channels = sum(graph.channels[b] for b in bottoms)
    elif layer.type == "InnerProduct":
        channels = _inner_product(graph, layer, bottom, out)
        graph.flat.add(out)
    elif layer.type in ("Dropout", "Split"):  # a Split's tops all name this one value
        graph.node("Identity", [bottom], out, layer.name)
    elif layer.type == "Softmax":
        if layer.param.softmax_param.axis != 1:
            raise DeepDreamError(f"layer '{layer.name}': Softmax axis must be 1 (channels)")
        graph.node("Softmax", [bottom], out, layer.name, axis=1)
    elif layer.type == "BatchNorm":
        _batch_norm(graph, layer, bottom, out)
    elif layer.type == "Scale":
        _scale(graph, layer, bottom, out)
    elif layer.type == "Bias":
        _bias(graph, layer, bottom, out)
    elif layer.type == "Eltwise":
        _eltwise(graph, layer, bottoms, out)
    elif layer.type == "Power":
        _power(graph, layer, bottom, out)
    graph.channels[out] = channels
    if bottom in graph.flat:
        graph.flat.add(out)


def _needed_nodes(nodes: list[onnx.NodeProto], outputs: list[str]) -> list[onnx.NodeProto]:
    """The nodes that ``outputs`` depend on, in order (as a sub-model for those blobs)."""
    needed = set(outputs)
    kept = []
    for node in reversed(nodes):
        if needed.intersection(node.output):
            kept.append(node)
            needed.update(node.input)
    return kept[::-1]


def _value_info(graph: _Graph, name: str) -> onnx.ValueInfoProto:
    """An output's type: (batch, units) after an InnerProduct, else (batch, C, h, w) with the
    spatial sizes left unknown (they follow from the input's)."""
    if name in graph.flat:
        shape = [BATCH, graph.channels[name]]
    else:
        shape = [BATCH, graph.channels[name], None, None]
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def input_channels(spec: NetSpec) -> int:
    """Channels of the input image: what the first convolution reading it was trained on
    (its weight's in-channels times its group), else 3 (BGR)."""
    for layer in spec.layers:
        if spec.input_blob in layer.bottoms:
            if layer.type == "Convolution" and layer.blobs and layer.blobs[0].ndim == 4:
                return layer.blobs[0].shape[1] * max(layer.param.convolution_param.group, 1)
            break
    return 3


def _check_layers(spec: NetSpec) -> None:
    """Reject, before building anything, what ONNX export cannot express."""
    for layer in spec.layers:
        if layer.type not in SUPPORTED:
            raise DeepDreamError(
                f"layer '{layer.name}' has type '{layer.type}', which the ONNX exporter cannot "
                f"express (supported: {', '.join(SUPPORTED)})"
            )
        if len(layer.tops) != 1 and layer.type != "Split":
            raise DeepDreamError(
                f"layer '{layer.name}' ({layer.type}) has {len(layer.tops)} tops; "
                "only single-output layers are supported"
            )


def export_spec(spec: NetSpec, outputs: Sequence[str] = ()) -> onnx.ModelProto:
    """The ONNX model of ``spec``: input (batch, 3, height, width) float32 NCHW, BGR minus
    the mean, 0-255; outputs the blobs named in ``outputs`` (Caffe layer names; NCHW, or
    (batch, units) after an InnerProduct) with only the layers they need, or by default the
    last layer. Checked with ``onnx.checker`` (full check).
    Raises DeepDreamError for layers ONNX cannot express and unknown output names."""
    _check_layers(spec)
    names = [layer.name for layer in spec.layers]
    unknown = [n for n in outputs if n not in names and n != spec.input_blob]
    if unknown:
        raise DeepDreamError(
            f"unknown blob '{unknown[0]}' for --outputs; the layer names are "
            f"{names[0]} ... {names[-1]} ('deepdream layers --model MODEL' lists them all)"
        )
    graph = _Graph()
    graph.channels[spec.input_blob] = input_channels(spec)
    current = {spec.input_blob: spec.input_blob}  # Caffe blob (top) -> its latest tensor
    for layer in spec.layers:
        missing = [b for b in layer.bottoms if b not in current]
        if missing:
            raise DeepDreamError(
                f"layer '{layer.name}' reads blob '{missing[0]}', which no earlier layer makes"
            )
        _add_layer(graph, layer, [current[b] for b in layer.bottoms], layer.name)
        for top in layer.tops:
            current[top] = layer.name
    wanted = list(dict.fromkeys(outputs)) or [names[-1]]
    nodes = _needed_nodes(graph.nodes, wanted)
    used = {name for node in nodes for name in node.input}
    net_input = helper.make_tensor_value_info(
        spec.input_blob, TensorProto.FLOAT, [BATCH, graph.channels[spec.input_blob], HEIGHT, WIDTH]
    )
    model = helper.make_model(
        helper.make_graph(
            nodes,
            spec.name or "caffe_net",
            [net_input],
            [_value_info(graph, n) for n in wanted],
            [t for t in graph.initializers if t.name in used],
        ),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="deepdream-tf2",
        doc_string=(
            "Caffe net exported by `deepdream export`: input NCHW float32, BGR minus the mean "
            "(104, 116, 122), 0-255; outputs named after Caffe layers"
        ),
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def resolve_caffe_files(
    model: str | Path, prototxt: str | Path | None = None
) -> tuple[Path, str | Path | pb.NetParameter | None]:
    """(caffemodel, prototxt) for ``model``: a ``.caffemodel`` path (prototxt as given) or a
    registered name (its cached or downloaded weights and its deploy net). A
    converted ``.keras`` file holds Keras layers, not Caffe's, so it is refused with a hint."""
    path = model_file(model)
    if path is not None:
        if path.suffix.lower() == ".keras":
            raise DeepDreamError(
                f"{path}: a converted .keras model cannot be exported faithfully (it holds "
                "Keras layers, not the Caffe definitions); pass the .caffemodel it came from "
                "(and --prototxt if it was converted with one)"
            )
        if not path.is_file():
            raise DeepDreamError(f"{path}: no such file")
        return path, prototxt
    info = model_entry(model)
    if info.kind == "synthetic":
        raise DeepDreamError(
            "'synthetic' is made in memory, not read from a Caffe file; write one with "
            "'deepdream synthetic-model -o synthetic.caffemodel' and export that"
        )
    if info.kind != "caffe":
        raise DeepDreamError(
            f"'{model}' is a Keras application, not a Caffe model; ONNX export needs a "
            ".caffemodel (or a Caffe model name)"
        )
    caffemodel, deploy = fetch_caffe_files(info.name)
    return caffemodel, prototxt or deploy


def export_onnx(
    model: str | Path,
    output: str | Path,
    prototxt: str | Path | pb.NetParameter | None = None,
    outputs: Sequence[str] = (),
    field13: str | None = None,
) -> onnx.ModelProto:
    """Export ``model`` (a ``.caffemodel``, V1 or V2, optionally with a deploy prototxt, or a
    registered model name) to an ONNX file at ``output`` (written atomically); returns the
    ONNX model. See :func:`export_spec` for its inputs and outputs; ``field13`` as for
    :func:`conversion.caffe_files.build_net_spec`."""
    caffemodel, prototxt = resolve_caffe_files(model, prototxt)
    onnx_model = export_spec(build_net_spec(caffemodel, prototxt, field13), outputs)
    with atomic_output(output) as tmp:
        onnx.save(onnx_model, str(tmp))
    return onnx_model
