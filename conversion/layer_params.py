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

# The Caffe layer types an inference net may hold, which every back end (the Keras builder, the
# ONNX exporter) computes; one list, each back end naming what it leaves out.
LAYER_TYPES = (
    "Convolution",
    "ReLU",
    "Pooling",
    "LRN",
    "Concat",
    "InnerProduct",
    "Dropout",
    "Softmax",
    "Split",
    "BatchNorm",
    "Scale",
    "Bias",
    "Eltwise",
    "Power",
)


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


def _layer_axes(layer: LayerSpec, axis: int, num_axes: int, rank: int) -> tuple[int, ...]:
    """The axes of a rank-``rank`` Caffe blob (N, C[, H, W]) that a Scale or Bias parameter
    with ``axis`` / ``num_axes`` covers (Caffe's CanonicalAxisIndex; -1: to the end)."""
    start = axis + rank if axis < 0 else axis
    if not 0 <= start < rank:
        raise DeepDreamError(
            f"layer '{layer.name}' ({layer.type}): axis {axis} is outside its {rank}-axis "
            "bottom blob; fix the prototxt"
        )
    stop = rank if num_axes == -1 else start + num_axes
    if num_axes < -1 or stop > rank:
        raise DeepDreamError(
            f"layer '{layer.name}' ({layer.type}): num_axes {num_axes} from axis {axis} does "
            f"not fit its {rank}-axis bottom blob; fix the prototxt"
        )
    return tuple(range(start, stop))


def channel_parameter(
    layer: LayerSpec, index: int, channels: int, rank: int, axis: int, num_axes: int, what: str
) -> np.ndarray:
    """Blob ``index`` of a Scale or Bias layer with one bottom: a scalar (shape ()) when it
    covers no axes, else one value per channel (C,), the forms the converter supports.

    ``rank``: the bottom's Caffe axes (4 for N, C, H, W; 2 after an InnerProduct). Raises
    DeepDreamError naming the layer for a parameter over the batch or spatial axes, and for
    a missing or misshapen blob."""
    if len(layer.bottoms) != 1:
        raise DeepDreamError(
            f"layer '{layer.name}' ({layer.type}) has {len(layer.bottoms)} bottoms: a "
            f"{layer.type} by a second blob is not supported (only a learned {what} from the "
            "caffemodel, with one bottom)"
        )
    axes = _layer_axes(layer, axis, num_axes, rank)
    if axes not in ((), (1,)):
        names = "NCHW" if rank == 4 else "NC"[:rank]
        covered = "".join(names[a] for a in axes)
        raise DeepDreamError(
            f"layer '{layer.name}' ({layer.type}): a {what} over axes {covered} (axis {axis}, "
            f"num_axes {num_axes}) is not supported; only one value per channel (axis: 1, "
            "num_axes: 1, the default) or a scalar (num_axes: 0)"
        )
    if index >= len(layer.blobs):
        raise DeepDreamError(
            f"layer '{layer.name}' ({layer.type}) has no {what} in the weights; the caffemodel "
            "does not match the prototxt"
        )
    if not axes:
        if layer.blobs[index].size != 1:
            raise DeepDreamError(
                f"layer '{layer.name}' ({layer.type}): {what} has shape "
                f"{tuple(layer.blobs[index].shape)}, expected a scalar (num_axes: 0); the "
                "caffemodel does not match the prototxt"
            )
        return layer.blobs[index].reshape(())
    return fit_blob(layer, index, (channels,), what)


def scale_weights(
    layer: LayerSpec, channels: int, rank: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """A Scale layer's learned (scale, bias or None), each () or (C,); see
    :func:`channel_parameter` (the bias blob, with ``bias_term``, follows the scale)."""
    p = layer.param.scale_param
    scale = channel_parameter(layer, 0, channels, rank, p.axis, p.num_axes, "scale")
    bias = (
        channel_parameter(layer, 1, channels, rank, p.axis, p.num_axes, "bias")
        if p.bias_term
        else None
    )
    return scale, bias


def bias_weights(layer: LayerSpec, channels: int, rank: int) -> np.ndarray:
    """A Bias layer's learned bias, () or (C,); see :func:`channel_parameter`."""
    p = layer.param.bias_param
    return channel_parameter(layer, 0, channels, rank, p.axis, p.num_axes, "bias")


@dataclass(frozen=True)
class BatchNormStats:
    """A BatchNorm layer's stored blobs (Caffe's inference, ``use_global_stats``): ``mean``
    and ``variance`` (C,) are the running sums, to be multiplied by 1 / ``factor`` (the
    moving-average factor, shape (1,); 0 means 0), and ``eps`` is added to the variance."""

    mean: np.ndarray
    variance: np.ndarray
    factor: np.ndarray
    eps: float

    def float32_mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, sqrt(variance + eps)), each (C,) float32, rounded step by step as Caffe's
        float32 forward computes them (for back ends that take them as constants)."""
        factor = self.factor.reshape(())
        scale = np.float32(0) if factor == 0 else np.float32(1) / factor
        return scale * self.mean, np.sqrt(scale * self.variance + np.float32(self.eps))


def batch_norm_stats(layer: LayerSpec, channels: int) -> BatchNormStats:
    """The stored statistics of a BatchNorm layer over ``channels`` channels. Raises
    DeepDreamError naming the layer when it would normalise by the batch's own statistics
    (``use_global_stats: false``), or its three blobs are missing or misshapen."""
    p = layer.param.batch_norm_param
    if p.HasField("use_global_stats") and not p.use_global_stats:
        raise DeepDreamError(
            f"layer '{layer.name}' (BatchNorm) sets use_global_stats: false, so Caffe would "
            "normalise each image by its own statistics; the converter supports inference "
            "with the stored ones: remove that line (or set it to true)"
        )
    if len(layer.blobs) != 3:
        raise DeepDreamError(
            f"layer '{layer.name}' (BatchNorm) has {len(layer.blobs)} weight blobs, Caffe's "
            "BatchNorm needs 3 (mean, variance, moving-average factor); the caffemodel does "
            "not match the prototxt"
        )
    return BatchNormStats(
        mean=fit_blob(layer, 0, (channels,), "mean"),
        variance=fit_blob(layer, 1, (channels,), "variance"),
        factor=fit_blob(layer, 2, (1,), "moving-average factor"),
        eps=float(p.eps),
    )


@dataclass(frozen=True)
class EltwiseOp:
    """An Eltwise layer: ``operation`` 'SUM', 'PROD' or 'MAX'; ``coeffs`` one per bottom
    (SUM; all 1 unless given); ``stable_prod_grad`` (PROD's backward: the product of the
    other bottoms when true, Caffe's default, else top / bottom)."""

    operation: str
    coeffs: tuple[float, ...]
    stable_prod_grad: bool


def eltwise_op(layer: LayerSpec) -> EltwiseOp:
    """An Eltwise layer's operation, with Caffe's checks (one coefficient per bottom, and
    coefficients only for SUM); raises DeepDreamError naming the layer."""
    p = layer.param.eltwise_param
    operation = pb.EltwiseParameter.EltwiseOp.Name(p.operation)
    if len(layer.bottoms) < 2:
        raise DeepDreamError(
            f"layer '{layer.name}' (Eltwise) has {len(layer.bottoms)} bottom(s); it needs two or "
            "more"
        )
    if layer.tops[0] in layer.bottoms:
        raise DeepDreamError(
            f"layer '{layer.name}' (Eltwise) writes over its own bottom '{layer.tops[0]}', "
            "which Caffe computes wrongly (it clears the top first); give it its own top"
        )
    if p.coeff and len(p.coeff) != len(layer.bottoms):
        raise DeepDreamError(
            f"layer '{layer.name}' (Eltwise) has {len(p.coeff)} coeff values for "
            f"{len(layer.bottoms)} bottoms; Caffe takes one per bottom"
        )
    if p.coeff and operation != "SUM":
        raise DeepDreamError(
            f"layer '{layer.name}' (Eltwise): coeff is only for SUM, not {operation}; Caffe "
            "rejects it"
        )
    coeffs = tuple(float(c) for c in p.coeff) or (1.0,) * len(layer.bottoms)
    return EltwiseOp(operation, coeffs, bool(p.stable_prod_grad))


@dataclass(frozen=True)
class PowerOp:
    """A Power layer: y = (shift + scale * x) ^ power."""

    power: float
    scale: float
    shift: float


def power_constant(power: float, scale: float, shift: float) -> float | None:
    """The value of a Power layer that ignores its input (power * scale = 0, where Caffe
    fills the top with 1 for power 0, else shift ^ power in float32), or None."""
    if power * scale != 0:
        return None
    return 1.0 if power == 0 else float(np.power(np.float32(shift), np.float32(power)))


def power_op(layer: LayerSpec) -> PowerOp:
    """A Power layer's parameters. Raises DeepDreamError naming the layer for an in-place
    Power (top = bottom) whose output depends on its input: Caffe's backward then overwrites
    the incoming gradient with the layer's own derivative before multiplying by it (the
    input gradient no longer depends on what comes after), so it cannot be dreamed."""
    p = layer.param.power_param
    op = PowerOp(float(p.power), float(p.scale), float(p.shift))
    if layer.tops[0] in layer.bottoms and op.power * op.scale != 0:
        raise DeepDreamError(
            f"layer '{layer.name}' (Power) runs in place (top = bottom '{layer.tops[0]}'), "
            "where Caffe's backward overwrites the incoming gradient and so gives a wrong "
            "input gradient; give the layer its own top"
        )
    return op
