"""Receptive fields computed from a network's layers (no table): which input pixels a unit of a
blob can see.

Per axis, each blob has a receptive-field size ``rf`` (input pixels), a ``jump`` (input pixels
between neighbouring units) and ``start`` (input coordinate of the centre of unit 0; pixel
centres are integers). A window layer with kernel k (dilation d: span e = d(k-1)+1), stride s,
padding p maps (rf, jump, start) to (rf + (e-1)*jump, jump*s, start + ((e-1)/2 - p)*jump);
other layers (ReLU, LRN, dropout) keep it; a Concat takes its widest input (GoogLeNet's
branches share centres and jumps).
"""

from __future__ import annotations

from dataclasses import dataclass

from conversion.errors import DeepDreamError
from tf_impl.naming import caffe_name
from tf_impl.network import DreamNet


@dataclass(frozen=True)
class Field:
    """Receptive field of a blob's units, (height axis, width axis) pairs."""

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


def _window(layer) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(kernel, stride, padding, dilation) per axis of a window layer, or raise ValueError."""
    kernel = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
    if kernel is None:
        raise ValueError("not a window layer")
    strides = tuple(getattr(layer, "strides", None) or kernel)
    dilation = tuple(getattr(layer, "dilation", None) or getattr(layer, "dilation_rate", (1, 1)))
    padding = getattr(layer, "padding", (0, 0))
    if padding == "same":  # Keras layers: about half the span on each side
        padding = tuple((d * (k - 1)) // 2 for k, d in zip(kernel, dilation, strict=True))
    elif padding == "valid":
        padding = (0, 0)
    return tuple(kernel), strides, tuple(padding), dilation


def receptive_fields(net: DreamNet) -> dict[str, Field]:
    """{blob: Field} for every spatial blob of ``net``, in the network's order."""
    fields: dict[str, Field] = {}
    for layer in net.keras_model.layers:
        name = caffe_name(layer.name)
        producers = [
            caffe_name(t._keras_history.operation.name)
            for t in layer._inbound_nodes[0].input_tensors
        ]
        if not producers:
            fields[name] = Field((1, 1), (1, 1), (0.0, 0.0))
            continue
        inputs = [fields[p] for p in producers if p in fields]
        if len(inputs) != len(producers) or len(layer.output.shape) != 4:
            continue  # not spatial (a classifier) or fed by something that is not
        widest = max(inputs, key=lambda f: f.rf)
        try:
            kernel, stride, pad, dilation = _window(layer)
        except ValueError:
            fields[name] = widest
            continue
        if getattr(layer, "global_pooling", False):
            continue
        rf, jump, start = [], [], []
        for axis in range(2):
            span = dilation[axis] * (kernel[axis] - 1) + 1
            rf.append(widest.rf[axis] + (span - 1) * widest.jump[axis])
            jump.append(widest.jump[axis] * stride[axis])
            start.append(widest.start[axis] + ((span - 1) / 2 - pad[axis]) * widest.jump[axis])
        fields[name] = Field(tuple(rf), tuple(jump), tuple(start))
    return fields


def receptive_field(net: DreamNet, blob: str) -> Field:
    """The receptive field of ``blob``'s units; DeepDreamError for non-spatial blobs."""
    net.channels(blob)  # raises for unknown names
    fields = receptive_fields(net)
    if blob not in fields:
        raise DeepDreamError(f"'{blob}' has no spatial positions; choose a convolutional blob")
    return fields[blob]
