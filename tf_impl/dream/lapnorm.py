"""Laplacian-pyramid gradient normalisation (``lap_normalize`` of Mordvintsev's TF1 DeepDream
notebook), restated in TensorFlow 2 for batches.

A gradient (N, H, W, 3) is split into ``levels`` Laplacian bands with the separable 5-tap
binomial kernel [1, 4, 6, 4, 1] / 16 (per colour channel): each split low-passes and halves the
size (stride-2 'SAME' convolution), and the band is the input minus the low-pass brought back up
(stride-2 'SAME' transposed convolution with the kernel times 4). Both are depthwise (each colour
channel filtered alone): 2-2.7x faster on CPU than the notebook's dense (c, c) diagonal filter,
whose off-diagonal products are all zero (docs/performance.md). Every band, and the final
low-pass residual, is divided by its own root-mean-square (the notebook's ``normalize_std``,
``sqrt(mean(x^2))``, over all pixels and channels of that band, per batch element, floored at
``1e-10``); the bands are then merged back. High frequencies, which dominate a raw gradient,
lose their lead, so features grow at every scale.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

EPSILON = 1e-10


def binomial_kernel(channels: int = 3) -> np.ndarray:
    """The 5x5 [1, 4, 6, 4, 1] outer-product kernel / 256 as a depthwise (5, 5, c, 1) filter:
    the same blur for each of ``channels`` channels."""
    taps = np.float32([1, 4, 6, 4, 1])
    k2d = np.outer(taps, taps) / np.float32(256.0)
    return np.repeat(k2d[:, :, None, None], channels, axis=2).astype(np.float32)


def _down(image: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """Blur and halve (N, H, W, c) -> (N, ceil(H/2), ceil(W/2), c)."""
    return tf.nn.depthwise_conv2d(image, kernel, [1, 2, 2, 1], "SAME")


def _up(low: tf.Tensor, kernel: tf.Tensor, shape: tf.Tensor) -> tf.Tensor:
    """:func:`_down`'s adjoint times 4: (N, h, w, c) -> ``shape`` (N, H, W, c)."""
    return tf.nn.depthwise_conv2d_backprop_input(shape, kernel * 4.0, low, [1, 2, 2, 1], "SAME")


def _rms_normalise(level: tf.Tensor) -> tf.Tensor:
    rms = tf.sqrt(tf.reduce_mean(tf.square(level), axis=[1, 2, 3], keepdims=True))
    return level / tf.maximum(rms, EPSILON)


def lap_normalize(grad: tf.Tensor, levels: int = 4) -> tf.Tensor:
    """Laplacian-normalised ``grad``: (N, H, W, c) float32 -> same shape (any units in, about
    unit RMS per band out). ``levels`` splits give ``levels`` bands plus one residual."""
    kernel = tf.constant(binomial_kernel(int(grad.shape[-1])), grad.dtype)
    bands = []
    low = grad
    for _ in range(levels):
        smaller = _down(low, kernel)
        bands.append(_rms_normalise(low - _up(smaller, kernel, tf.shape(low))))
        low = smaller
    merged = _rms_normalise(low)
    for band in reversed(bands):
        merged = band + _up(merged, kernel, tf.shape(band))
    return merged
