"""Caffe-exact layer semantics checked against NumPy restatements of Caffe's CPU code."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tensorflow as tf

from conversion.layer_params import caffe_pooled_size
from reference.caffe_pooling import caffe_pool, pooled_length
from tf_impl.net.layers import CaffeInnerProduct, CaffeLRN, CaffePooling

POOL_CASES = [
    # kernel, stride, pad: GoogLeNet's three, then padded/strided ones that hit the drop rule
    ((3, 3), (2, 2), (0, 0)),
    ((3, 3), (1, 1), (1, 1)),
    ((7, 7), (1, 1), (0, 0)),
    ((3, 3), (2, 2), (1, 1)),
    ((2, 2), (2, 2), (1, 1)),
    ((3, 2), (3, 2), (2, 1)),
    ((5, 5), (3, 3), (2, 2)),
    # one axis padded: Caffe's drop rule then applies to the unpadded axis as well
    ((3, 1), (2, 3), (1, 0)),
    ((1, 3), (3, 2), (0, 1)),
]


@pytest.mark.parametrize("method", ["MAX", "AVE"])
@pytest.mark.parametrize("kernel,stride,pad", POOL_CASES)
@pytest.mark.parametrize("ceil_mode", [True, False])
def test_pooling_matches_caffe_loops(method, kernel, stride, pad, ceil_mode):
    rng = np.random.default_rng(0)
    for height, width in [(7, 7), (8, 9), (13, 10), (11, 16), (13, 17), (17, 13)]:
        x = rng.normal(size=(height, width, 3)) * 50
        expected = caffe_pool(x, method, kernel, stride, pad, ceil_mode)
        layer = CaffePooling(method, kernel, stride, pad, ceil_mode=ceil_mode)
        got = layer(tf.constant(x[None], tf.float32)).numpy()[0]
        assert got.shape == expected.shape, (height, width)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_pooled_size_rule_including_dropped_window():
    # 6 + 2*1 - 2 = 6, /2 -> 3, +1 = 4 windows; the 4th starts at 6 >= 6 + 1? no: kept.
    # 5 + 2*1 - 2 = 5, ceil(5/2) = 3, +1 = 4; the 4th starts at 3*2 = 6 >= 5 + 1: dropped.
    assert caffe_pooled_size(5, 2, 2, 1, True, True) == 3
    for size, kernel, stride, pad, ceil_mode, other_pad in itertools.product(
        range(3, 20), (1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (True, False), (0, 1)
    ):
        if pad >= kernel:
            continue
        padded = bool(pad or other_pad)
        expected = pooled_length(size, kernel, stride, pad, ceil_mode, padded)
        assert caffe_pooled_size(size, kernel, stride, pad, ceil_mode, padded) == expected
        tensor = caffe_pooled_size(tf.constant(size), kernel, stride, pad, ceil_mode, padded)
        assert int(tensor) == expected


def test_drop_rule_applies_to_both_axes_when_either_is_padded():
    """The audit's case: real Caffe gives 7x6 (the width axis, unpadded, loses its last window
    because pad_h is set); a per-axis rule gives 7x7."""
    x = tf.zeros([1, 13, 17, 1])
    layer = CaffePooling("MAX", kernel_size=(3, 1), strides=(2, 3), padding=(1, 0))
    assert tuple(layer(x).shape[1:3]) == (7, 6)
    assert layer.compute_output_shape((1, 13, 17, 1))[1:3] == (7, 6)


def test_global_pooling():
    x = np.random.default_rng(1).normal(size=(1, 5, 7, 4)).astype(np.float32)
    mean = CaffePooling("AVE", global_pooling=True)(x).numpy()
    peak = CaffePooling("MAX", global_pooling=True)(x).numpy()
    np.testing.assert_allclose(mean, x.mean(axis=(1, 2), keepdims=True), rtol=1e-6)
    np.testing.assert_array_equal(peak, x.max(axis=(1, 2), keepdims=True))


def test_lrn_divides_alpha_by_local_size():
    """Caffe: x / (k + alpha/n * sum over n channels of x^2)^beta, at pixel scale."""
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 300, size=(1, 3, 4, 9))
    n, alpha, beta, k = 5, 1e-4, 0.75, 1.0
    padded = np.pad(x**2, [(0, 0), (0, 0), (0, 0), (2, 2)])
    window_sums = sum(padded[..., i : i + 9] for i in range(n))
    expected = x / (k + alpha / n * window_sums) ** beta
    got = CaffeLRN(n, alpha, beta, k)(tf.constant(x, tf.float32)).numpy()
    np.testing.assert_allclose(got, expected, rtol=2e-6)


def test_inner_product_flattens_in_caffe_chw_order():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)  # NHWC
    weight = rng.normal(size=(6, 5 * 3 * 4)).astype(np.float32)  # Caffe (out, C*H*W)
    bias = rng.normal(size=6).astype(np.float32)
    layer = CaffeInnerProduct(6, features=60)
    layer.build(x.shape)
    layer.set_weights([weight.T, bias])
    expected = x.transpose(0, 3, 1, 2).reshape(2, -1) @ weight.T + bias
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-5)


def _caffe_lrn_float64(x, g, n, alpha, beta, k):
    """NumPy float64 restatement of Caffe's CrossChannelForward/Backward_cpu (lrn_layer.cpp):
    (top, bottom_diff) for NHWC ``x`` and upstream gradient ``g``."""
    channels, half = x.shape[-1], n // 2

    def window_sum(values):
        padded = np.pad(values, [(0, 0)] * 3 + [(half, half)])
        return sum(padded[..., i : i + channels] for i in range(n))

    scale = k + alpha / n * window_sum(x**2)
    top = x * scale**-beta
    bottom_diff = g * scale**-beta - 2 * alpha * beta / n * x * window_sum(g * top / scale)
    return top, bottom_diff


@pytest.mark.parametrize(
    "channels,n,alpha,beta,k,pixel",
    [
        (64, 5, 1e-4, 0.75, 1.0, 100.0),  # GoogLeNet's norm1/norm2 at dream-input scale
        (192, 5, 1e-4, 0.75, 1.0, 30.0),
        (9, 3, 1.0, 0.75, 2.0, 1.0),  # strong: the window term dominates k
        (16, 7, 0.5, 0.6, 1.5, 2.0),  # beta != 0.75: the pow path
    ],
)
@pytest.mark.parametrize("dtype,max_rel_l2", [(tf.float32, 1e-6), (tf.bfloat16, 2e-2)])
def test_lrn_forward_and_gradient_match_caffe_in_float64(
    channels, n, alpha, beta, k, pixel, dtype, max_rel_l2
):
    """CaffeLRN's forward and its hand-written backward against Caffe's formulas in float64.

    Tolerance: relative L2 over the tensor. float32 rounding (epsilon 6e-8) over a dozen
    operations measured 6e-8 to 9e-8 here (TensorFlow's own LRN kernel: the same), so 1e-6 is
    float32 rounding with margin; bfloat16's epsilon is 3.9e-3 (measured 3e-3 to 5e-3), so
    2e-2. A wrong rule (Caffe's 2 or alpha/n dropped, the window off by one channel) moves
    the gradient by 1e-2 or more at these scales."""
    rng = np.random.default_rng(channels)
    x = rng.normal(size=(2, 5, 6, channels)) * pixel
    g = rng.normal(size=x.shape)
    expected_top, expected_diff = _caffe_lrn_float64(x, g, n, alpha, beta, k)
    inputs = tf.constant(x, dtype)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        top = CaffeLRN(n, alpha, beta, k, dtype=dtype)(inputs)
        score = tf.reduce_sum(top * tf.constant(g, dtype))
    assert top.dtype == dtype
    diff = tape.gradient(score, inputs)

    def rel_l2(got, want):
        return np.linalg.norm(np.asarray(got, np.float64) - want) / np.linalg.norm(want)

    assert rel_l2(tf.cast(top, tf.float64), expected_top) <= max_rel_l2
    assert rel_l2(tf.cast(diff, tf.float64), expected_diff) <= max_rel_l2
