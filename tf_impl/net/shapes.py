"""Blob shapes of a DreamNet at a given input size, computed without running the network."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

from tf_impl.net.layers import CaffeInnerProduct
from tf_impl.net.naming import caffe_name
from tf_impl.net.network import DreamNet, input_blobs


def is_empty(shape: Sequence[int]) -> bool:
    """Whether a blob shape from :func:`blob_shapes` holds no values: a dimension <= 0 (the
    input is too small for the blob, or not the size a fully connected layer was built for)."""
    return min(shape) <= 0


def blob_shapes(net: DreamNet, height: int, width: int) -> dict[str, tuple[int, ...]]:
    """{blob name: (h, w, c) or (units,)} for a (height, width) input, by Caffe's size rules.

    A blob the input is too small for has a non-positive dimension (and so do all after it);
    so has a fully connected (InnerProduct) blob whose input is not the size it was built for.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in net.keras_model.layers:
        name = caffe_name(layer.name)
        producers = input_blobs(layer)
        if not producers:
            shapes[name] = (height, width, 3)
            continue
        inputs = [(1, *shapes[p]) for p in producers]
        wrong_size = isinstance(layer, CaffeInnerProduct) and prod(inputs[0]) != layer.features
        if wrong_size or any(is_empty(shape) for shape in inputs):
            shapes[name] = tuple(0 for _ in layer.output.shape[1:])
            continue
        try:
            output = layer.compute_output_shape(inputs if len(inputs) > 1 else inputs[0])
        except ValueError:  # Keras' own layers refuse inputs that are too small
            output = (1, *(0 for _ in layer.output.shape[1:]))
        shapes[name] = tuple(int(d) for d in output[1:])
    return shapes
