"""A NumPy restatement of Caffe's CPU pooling loops (pooling_layer.cpp), for one channel-last
image: an independent check of :class:`tf_impl.net.layers.CaffePooling` at edge cases
GoogLeNet never reaches (padding with stride > 1, windows dropped by the padding rule)."""

from __future__ import annotations

import math

import numpy as np


def pooled_length(
    size: int, kernel: int, stride: int, pad: int, ceil_mode: bool, padded: bool
) -> int:
    """Caffe's pooled length on one axis; ``padded``: pad_h or pad_w is non-zero (Caffe's
    ``if (pad_h_ || pad_w_)``: the drop rule then applies to both axes)."""
    rounding = math.ceil if ceil_mode else math.floor
    out = int(rounding((size + 2 * pad - kernel) / stride)) + 1
    if padded and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def caffe_pool(x: np.ndarray, method: str, kernel, stride, pad, ceil_mode=True) -> np.ndarray:
    """x: (H, W, C) float64. Returns (out_h, out_w, C) exactly as Caffe's loops compute."""
    height, width, channels = x.shape
    padded = bool(pad[0] or pad[1])
    out_h = pooled_length(height, kernel[0], stride[0], pad[0], ceil_mode, padded)
    out_w = pooled_length(width, kernel[1], stride[1], pad[1], ceil_mode, padded)
    out = np.zeros((out_h, out_w, channels))
    for ph in range(out_h):
        for pw in range(out_w):
            hstart, wstart = ph * stride[0] - pad[0], pw * stride[1] - pad[1]
            if method == "MAX":
                hend = min(hstart + kernel[0], height)
                wend = min(wstart + kernel[1], width)
                hstart, wstart = max(hstart, 0), max(wstart, 0)
                out[ph, pw] = x[hstart:hend, wstart:wend].max(axis=(0, 1))
            else:
                hend = min(hstart + kernel[0], height + pad[0])
                wend = min(wstart + kernel[1], width + pad[1])
                pool_size = (hend - hstart) * (wend - wstart)
                hstart, wstart = max(hstart, 0), max(wstart, 0)
                hend, wend = min(hend, height), min(wend, width)
                out[ph, pw] = x[hstart:hend, wstart:wend].sum(axis=(0, 1)) / pool_size
    return out
