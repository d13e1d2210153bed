"""Caffe's across-channel LRN as matrix products, with Caffe's analytic backward.

For NHWC ``x`` with C channels, Caffe's LRN (``lrn_layer.cpp``, ACROSS_CHANNELS) is

    d = k + alpha/n * sum over the n channels centred on c of x^2     (the "scale" blob)
    y = x * d^-beta

and its backward, for an upstream gradient g,

    dx = g * d^-beta - (2 * alpha * beta / n) * x * window_sum(g * y / d)

(the window is symmetric, so the sum over the outputs a channel feeds is the same window).
Both window sums are one (N*H*W, C) x (C, C) product with a band matrix of ones
(|i - j| <= n // 2), Caffe's ``alpha / n`` (forward) and ``2 * alpha * beta / n`` (backward)
folded into it; Caffe also scales before summing. For beta = 0.75, d^-beta is
``rsqrt(d * sqrt(d))``. Everything is computed in the input's dtype (float32, bfloat16,
float64), which TensorFlow's own LRN kernel (float32 only on CPU, and about half as fast
forward + backward) does not allow.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def band_matrix(channels: int, local_size: int, factor: float, dtype: tf.DType) -> tf.Tensor:
    """(channels, channels) ``factor`` where |i - j| <= local_size // 2, else 0, in ``dtype``."""
    index = np.arange(channels)
    band = np.abs(index[:, None] - index[None, :]) <= local_size // 2
    return tf.constant(band * factor, dtype)


def _window_product(values: tf.Tensor, band: tf.Tensor) -> tf.Tensor:
    """``values`` (..., C) times ``band`` (C, C) over the channel axis, same shape out."""
    flat = tf.reshape(values, [-1, band.shape[0]])
    return tf.reshape(tf.matmul(flat, band), tf.shape(values))


def _inverse_power(d: tf.Tensor, beta: float) -> tf.Tensor:
    """d^-beta for d > 0 (rsqrt(d * sqrt(d)) when beta = 0.75)."""
    if beta == 0.75:
        return tf.math.rsqrt(d * tf.sqrt(d))
    return tf.pow(d, tf.cast(-beta, d.dtype))


def caffe_lrn(x: tf.Tensor, local_size: int, alpha: float, beta: float, k: float) -> tf.Tensor:
    """Caffe's across-channel LRN of NHWC ``x`` (any float dtype), with Caffe's gradient.

    ``alpha`` is Caffe's (divided by ``local_size`` here, as Caffe does); ``local_size`` odd.
    Returns y = x * d^-beta, same shape and dtype as ``x``.
    """
    channels = int(x.shape[-1])
    forward_band = band_matrix(channels, local_size, alpha / local_size, x.dtype)
    backward_band = band_matrix(channels, local_size, 2 * alpha * beta / local_size, x.dtype)

    @tf.custom_gradient
    def lrn(inputs):
        d = k + _window_product(tf.square(inputs), forward_band)
        inverse = _inverse_power(d, beta)
        outputs = inputs * inverse

        def gradient(upstream):
            ratio = upstream * outputs / d
            return upstream * inverse - inputs * _window_product(ratio, backward_band)

        return outputs, gradient

    return lrn(x)


def caffe_lrn_formula(
    x: tf.Tensor, local_size: int, alpha: float, beta: float, k: float
) -> tf.Tensor:
    """The same forward written plainly (tf.pow, alpha/n applied after the sum), with
    TensorFlow's automatic gradient: the float64 ground truth's LRN, independent of
    :func:`caffe_lrn`'s hand-written backward."""
    channels = int(x.shape[-1])
    window = _window_product(tf.square(x), band_matrix(channels, local_size, 1.0, x.dtype))
    return x * tf.pow(k + alpha / local_size * window, tf.cast(-beta, x.dtype))
