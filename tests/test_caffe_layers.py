"""Caffe-exact layer semantics checked against NumPy restatements of Caffe's CPU code."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tensorflow as tf

from reference.caffe_pooling import caffe_pool, pooled_length
from tf_impl.caffe_layers import CaffeInnerProduct, CaffeLRN, CaffePooling, caffe_pooled_size

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
