"""Where in the input a blob's units look: total stride and reach, read from the layers.

Along one axis, unit ``j`` of a blob depends only on input pixels
``[j * stride - before, j * stride + after]`` (pixels outside the image being the layers'
padding). A layer with kernel ``k``, stride ``s``, padding ``p`` before and dilation ``d`` on
a blob with (stride J, before B, after A) gives (s*J, B + p*J, A + (d*(k-1) - p)*J);
element-wise layers (ReLU, LRN, BatchNorm, Scale, Bias, Power, dropout...) keep it; a merge
(Concat, Eltwise, Add: a residual block's two branches) takes the widest reach of its inputs,
which must share one stride: unit ``j`` of every branch is anchored at input ``j * stride``, so
the union of the branches' windows is ``[j*stride - max before, j*stride + max after]``.
This is what makes tiling exact (:mod:`tf_impl.dream.tiling`): a tile that holds this reach
of its units computes them exactly as the whole image does, provided its origin is a multiple
of the stride.

Layers whose output at a position is not a fixed window of their input (fully connected,
global pooling, TensorFlow's 'same' padding with a stride, whose padding depends on the
input's size) have no such reach: :func:`blob_reach` refuses them, naming the layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras

from conversion.errors import DeepDreamError
from tf_impl.net.layers import (
    CaffeBatchNorm,
    CaffeBias,
    CaffeConvolution,
    CaffeEltwise,
    CaffeIdentity,
    CaffeLeakyReLU,
    CaffeLRN,
    CaffePooling,
    CaffePower,
    CaffeScale,
    CaffeSoftmax,
)
from tf_impl.net.naming import caffe_name
from tf_impl.net.network import DreamNet, input_blobs

# Layers that act on each position alone (at inference).
_POINTWISE = (
    CaffeBatchNorm,
    CaffeBias,
    CaffePower,
    CaffeScale,
    CaffeIdentity,
    CaffeLeakyReLU,
    CaffeLRN,
    CaffeSoftmax,
    keras.layers.InputLayer,
    keras.layers.ReLU,
    keras.layers.Activation,
    keras.layers.BatchNormalization,
    keras.layers.Dropout,
    keras.layers.Rescaling,
    keras.layers.Normalization,
)
_MERGES = (CaffeEltwise, keras.layers.Concatenate, keras.layers.Add, keras.layers.Multiply)
_KERAS_WINDOWS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)
_KERAS_POOLS = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)


@dataclass(frozen=True)
class Reach:
    """Along one axis: unit ``j`` reads input pixels ``[j*stride - before, j*stride + after]``."""

    stride: int
    before: int
    after: int


Reach2D = tuple[Reach, Reach]  # (height axis, width axis)


class NotLocalError(DeepDreamError):
    """A blob with no fixed input window per unit (so it cannot be tiled exactly)."""


def _keras_padding(layer, kernel: int, stride: int, dilation: int) -> int:
    """Padding before, for a Keras layer's 'valid' or 'same' padding along one axis."""
    if layer.padding == "valid":
        return 0
    if stride != 1:
        raise NotLocalError(
            f"layer '{layer.name}' pads 'same' with stride {stride}, so its padding depends on "
            "the input size"
        )
    return (dilation * (kernel - 1)) // 2


def _window(layer) -> list[tuple[int, int, int, int]] | None:
    """[(kernel, stride, padding before, dilation)] per axis (height, width) of a windowed
    layer, or None for a point-wise or merging layer; NotLocalError for the rest."""
    name = f"layer '{layer.name}' ({type(layer).__name__})"
    if isinstance(layer, _POINTWISE + _MERGES):
        return None
    if isinstance(layer, CaffeConvolution):
        return list(
            zip(layer.kernel_size, layer.strides, layer.padding, layer.dilation, strict=True)
        )
    if isinstance(layer, CaffePooling):
        if layer.global_pooling:
            raise NotLocalError(f"{name} pools globally")
        return [
            (k, s, p, 1)
            for k, s, p in zip(layer.kernel_size, layer.strides, layer.padding, strict=True)
        ]
    if isinstance(layer, _KERAS_WINDOWS):
        axes = zip(layer.kernel_size, layer.strides, layer.dilation_rate, strict=True)
        return [(k, s, _keras_padding(layer, k, s, d), d) for k, s, d in axes]
    if isinstance(layer, _KERAS_POOLS):
        axes = zip(layer.pool_size, layer.strides, strict=True)
        return [(k, s, _keras_padding(layer, k, s, 1), 1) for k, s in axes]
    if isinstance(layer, keras.layers.ZeroPadding2D):
        return [(1, 1, before, 1) for before, _ in layer.padding]
    raise NotLocalError(f"{name} is not a fixed window of its input")


def _through(reach: Reach, kernel: int, stride: int, pad: int, dilation: int) -> Reach:
    j = reach.stride
    return Reach(
        stride * j, reach.before + pad * j, reach.after + (dilation * (kernel - 1) - pad) * j
    )


def blob_reach(net: DreamNet, blobs: Sequence[str]) -> dict[str, Reach2D]:
    """{blob: (height Reach, width Reach)} for each of ``blobs``, from the layers between the
    input and them (any model: Caffe conversions and Keras applications). Raises NotLocalError
    (a DeepDreamError) naming the first layer on the way that has no fixed input window."""
    needed = {caffe_name(layer.name) for layer in net.submodel(list(blobs)).layers}
    reach: dict[str, Reach2D] = {}
    for layer in net.keras_model.layers:
        name = caffe_name(layer.name)
        if name not in needed:
            continue
        producers = input_blobs(layer)
        if not producers:
            reach[name] = (Reach(1, 0, 0), Reach(1, 0, 0))
            continue
        window = _window(layer)
        axes = []
        for axis in range(2):
            inputs = [reach[p][axis] for p in producers]
            if len({r.stride for r in inputs}) > 1:
                raise NotLocalError(f"layer '{layer.name}' merges blobs of different strides")
            merged = Reach(
                inputs[0].stride, max(r.before for r in inputs), max(r.after for r in inputs)
            )
            axes.append(merged if window is None else _through(merged, *window[axis]))
        reach[name] = (axes[0], axes[1])
    return {b: reach[b] for b in blobs}


@dataclass(frozen=True)
class Field:
    """Receptive field of a blob's units as (height axis, width axis) pairs: ``rf`` input
    pixels wide, ``jump`` pixels between neighbouring units, unit 0 centred on input coordinate
    ``start`` (pixel centres are integers)."""

    rf: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[float, float]

    def box(self, y: int, x: int, height: int, width: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right), bottom/right exclusive, of unit (y, x)'s field in an
        input of ``height`` x ``width`` pixels, clipped to the image."""
        edges = []
        for index, rf, jump, start, size in zip(
            (y, x), self.rf, self.jump, self.start, (height, width), strict=True
        ):
            centre = start + index * jump
            low = max(0, round(centre - (rf - 1) / 2))
            high = min(size, round(centre + (rf - 1) / 2) + 1)
            edges.append((low, high))
        (top, bottom), (left, right) = edges
        return top, left, bottom, right


def receptive_field(net: DreamNet, blob: str) -> Field:
    """The :class:`Field` of ``blob``'s units, from :func:`blob_reach`. Raises DeepDreamError
    for a blob without spatial positions (after a fully connected layer or global pooling)."""
    try:
        (h, w), *_ = blob_reach(net, [blob]).values()
    except NotLocalError as exc:
        raise DeepDreamError(f"blob '{blob}' has no spatial positions ({exc})") from None
    axes = [(r.before + r.after + 1, r.stride, (r.after - r.before) / 2) for r in (h, w)]
    return Field(
        rf=(axes[0][0], axes[1][0]),
        jump=(axes[0][1], axes[1][1]),
        start=(axes[0][2], axes[1][2]),
    )
