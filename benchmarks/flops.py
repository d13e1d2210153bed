"""Floating-point work of a forward (and forward + backward-to-input) pass, counted from the
converted network's convolution / inner-product layers and its blob shapes.

Only multiply-adds are counted (pooling, LRN, ReLU and concatenation are a few percent of the
work and are left out, so achieved rates are slight underestimates). One multiply-add = 2
FLOPs. The backward pass to the input (no weight gradients) costs one transposed convolution
per convolution, i.e. the forward's multiply-adds again.
"""

from __future__ import annotations

from tf_impl.net.layers import CaffeConvolution, CaffeInnerProduct
from tf_impl.net.naming import caffe_name
from tf_impl.net.network import DreamNet, input_blobs
from tf_impl.net.shapes import blob_shapes


def forward_macs(net: DreamNet, blob: str, height: int, width: int) -> int:
    """Multiply-adds of the layers needed to compute ``blob`` for one (height, width) image."""
    layers = {caffe_name(layer.name): layer for layer in net.keras_model.layers}
    shapes = blob_shapes(net, height, width)
    needed, todo = set(), [blob]
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(input_blobs(layers[name]))
    macs = 0
    for name in needed:
        layer = layers[name]
        if isinstance(layer, CaffeConvolution):
            out_h, out_w, out_c = shapes[name]
            in_c = shapes[input_blobs(layer)[0]][-1]
            kh, kw = layer.kernel_size
            macs += out_h * out_w * out_c * (in_c // layer.groups) * kh * kw
        elif isinstance(layer, CaffeInnerProduct):
            macs += layer.features * layer.units
    return macs


def step_gflop(net: DreamNet, blob: str, height: int, width: int) -> float:
    """GFLOP (1e9 FLOPs) of one forward + backward-to-input pass: 2 FLOPs per multiply-add,
    twice the forward's multiply-adds."""
    return 2 * 2 * forward_macs(net, blob, height, width) / 1e9
