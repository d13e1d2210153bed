"""Caffe layer parameters resolved to plain numbers, shared by every back end (no TensorFlow).

Caffe lets a convolution or pooling give its kernel, stride and padding as one value, as a
repeated field or as ``*_h``/``*_w`` overrides; these helpers return the (height, width) pairs
Caffe itself would use, check weight blobs against the shapes a layer needs, and give the
output lengths Caffe computes for them (:func:`caffe_conv_size`, :func:`caffe_pooled_size`,
the one home of those rules: the Keras layers and the synthetic model both read them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conversion import caffe_schema_pb2 as pb
from conversion.caffe_files import LayerSpec
from conversion.errors import DeepDreamError


def caffe_conv_size(size, kernel: int, stride: int, pad: int, dilation: int = 1):
    """Caffe's convolution output length for an input length ``size`` (an int or an int32
    tensor): ``(size + 2*pad - (dilation*(kernel-1) + 1)) // stride + 1``."""
    return (size + 2 * pad - (dilation * (kernel - 1) + 1)) // stride + 1


def caffe_pooled_size(size, kernel: int, stride: int, pad: int, ceil_mode: bool, padded: bool):
    """Caffe's pooled output length for an input length ``size`` (an int or an int32 tensor).

    ceil((size + 2*pad - kernel) / stride) + 1 (floor in FLOOR mode), minus one when the last
    window would start inside the bottom/right padding. Caffe applies that drop rule on both
    axes when either has padding (``if (pad_h_ || pad_w_)`` in pooling_layer.cpp): ``padded``
    says whether pad_h or pad_w is non-zero, so an unpadded axis can lose a window too.
    """
    span = size + 2 * pad - kernel
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if not padded:
        return out
    # The last window starts inside the padding when start >= 0 for the start below. As
    # -kernel - stride < start < pad + stride, (start + bound) // bound is 1 exactly then
    # and 0 otherwise: integer arithmetic, the same for Python ints and int32 tensors.
    start = (out - 1) * stride - size - pad
    bound = kernel + stride + pad
    return out - (start + bound) // bound


def caffe_pair(values, h_value: int, w_value: int, has_hw: bool, default: int) -> tuple[int, int]:
    """Caffe's (h, w) resolution of a repeated field with *_h / *_w overrides."""
    if has_hw:
        return (int(h_value), int(w_value))
    values = list(values)
    if not values:
        return (default, default)
    if len(values) == 1:
        return (int(values[0]), int(values[0]))
    return (int(values[0]), int(values[1]))


def fit_blob(layer: LayerSpec, index: int, expected: tuple[int, ...], what: str) -> np.ndarray:
    """Blob ``index`` of ``layer`` reshaped to ``expected`` (Caffe layout).

    Legacy V1 blobs are 4-D with leading ones (a bias as 1x1x1xN); like Caffe, accept a blob
    whose shape equals ``expected`` once leading ones are dropped from both.
    """
    if index >= len(layer.blobs):
        raise DeepDreamError(
            f"layer '{layer.name}' ({layer.type}) has no {what} in the weights; "
            "the caffemodel does not match the prototxt"
        )
    blob = layer.blobs[index]

    def strip(shape):
        shape = list(shape)
        while len(shape) > 1 and shape[0] == 1:
            shape.pop(0)
        return tuple(shape)

    if strip(blob.shape) != strip(expected):
        raise DeepDreamError(
            f"layer '{layer.name}' ({layer.type}): {what} has shape {tuple(blob.shape)}, "
            f"expected {expected}; the caffemodel does not match the prototxt"
        )
    return blob.reshape(expected)


@dataclass(frozen=True)
class ConvGeometry:
    """A Caffe convolution's (h, w) kernel, stride, symmetric pad and dilation."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int]
    dilation: tuple[int, int]


def conv_geometry(layer: LayerSpec) -> ConvGeometry:
    """The geometry of a Convolution layer; raises DeepDreamError if the kernel is unset."""
    p = layer.param.convolution_param
    kernel = caffe_pair(p.kernel_size, p.kernel_h, p.kernel_w, p.HasField("kernel_h"), 0)
    if min(kernel) < 1:
        raise DeepDreamError(f"layer '{layer.name}': convolution kernel size is not set")
    return ConvGeometry(
        kernel=kernel,
        stride=caffe_pair(p.stride, p.stride_h, p.stride_w, p.HasField("stride_h"), 1),
        pad=caffe_pair(p.pad, p.pad_h, p.pad_w, p.HasField("pad_h") or p.HasField("pad_w"), 0),
        dilation=caffe_pair(p.dilation, 0, 0, False, 1),
    )


@dataclass(frozen=True)
class PoolGeometry:
    """A Caffe pooling: method ('MAX' or 'AVE'), (h, w) kernel, stride and pad, global
    pooling, and ceil rounding of the output size (Caffe's default) or floor."""

    method: str
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int]
    global_pooling: bool
    ceil_mode: bool


def pool_geometry(layer: LayerSpec) -> PoolGeometry:
    """The geometry of a Pooling layer; raises DeepDreamError for STOCHASTIC pooling or an
    unset kernel."""
    p = layer.param.pooling_param
    method = pb.PoolingParameter.PoolMethod.Name(p.pool)
    if method not in ("MAX", "AVE"):
        raise DeepDreamError(
            f"layer '{layer.name}': {method} pooling is not supported (only MAX and AVE)"
        )
    kernel = caffe_pair(
        [p.kernel_size] if p.HasField("kernel_size") else [],
        p.kernel_h,
        p.kernel_w,
        p.HasField("kernel_h"),
        0,
    )
    if not p.global_pooling and min(kernel) < 1:
        raise DeepDreamError(f"layer '{layer.name}': pooling kernel size is not set")
    return PoolGeometry(
        method=method,
        kernel=kernel,
        stride=caffe_pair([p.stride], p.stride_h, p.stride_w, p.HasField("stride_h"), 1),
        pad=caffe_pair([p.pad], p.pad_h, p.pad_w, p.HasField("pad_h") or p.HasField("pad_w"), 0),
        global_pooling=p.global_pooling,
        ceil_mode=p.round_mode == pb.PoolingParameter.CEIL,
    )


def inner_product_weights(layer: LayerSpec) -> tuple[np.ndarray, np.ndarray | None]:
    """An InnerProduct's Caffe weight (num_output, features) and bias (num_output,) or None;
    features = C*H*W of its input in Caffe's C, H, W order. Raises DeepDreamError for axis
    != 1, transpose, or missing / misshapen weights."""
    p = layer.param.inner_product_param
    if p.axis != 1 or p.transpose:
        raise DeepDreamError(
            f"layer '{layer.name}': InnerProduct with axis != 1 or transpose is not supported"
        )
    if not layer.blobs:
        fit_blob(layer, 0, (p.num_output, 0), "weight")  # raises: the weight is missing
    shape = layer.blobs[0].shape  # (outputs, inputs), or V1's (1, 1, outputs, inputs)
    if len(shape) >= 2 and shape[-2] != p.num_output:
        raise DeepDreamError(
            f"layer '{layer.name}' (InnerProduct): the caffemodel has {shape[-2]} outputs, the "
            f"prototxt asks for {p.num_output} (num_output); use the prototxt that goes with "
            f"this caffemodel (num_output: {shape[-2]})"
        )
    features = layer.blobs[0].size // max(p.num_output, 1)
    weight = fit_blob(layer, 0, (p.num_output, features), "weight")
    bias = fit_blob(layer, 1, (p.num_output,), "bias") if p.bias_term else None
    return weight, bias


def check_concat_channels(layer: LayerSpec) -> None:
    """Raise DeepDreamError unless a Concat joins along Caffe's channel axis (1)."""
    p = layer.param.concat_param
    axis = p.axis if p.HasField("axis") else p.concat_dim
    if axis != 1:
        raise DeepDreamError(
            f"layer '{layer.name}': Concat along axis {axis} is not supported (only channels)"
        )
