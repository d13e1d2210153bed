"""The AVX2 CPU kernel choices of tf_impl/net/cpu_convolution.py: spatial convolutions forward
on TensorFlow's Eigen kernel (the same convolution as ``tf.nn.conv2d``: within float32 rounding
with oneDNN on, bit for bit with it off), their input gradient the flipped-kernel convolution
(stride 1; within float32 rounding of ``Conv2D``'s) or ``Conv2D``'s own (strided; bit for bit),
1x1 convolutions as matrix products, and the layers taking them exactly where wanted. Whether
the rounding is acceptable is the float64 judge's call (tests/test_reference_parity.py and
``make parity``)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.util import _pywrap_util_port

from tf_impl.net.cpu_convolution import (
    avx2_kernels_wanted,
    eigen_conv2d,
    pointwise_matmul,
    transposed_padding,
)
from tf_impl.net.layers import CaffeConvolution

# (kernel, in, out, stride, pad, height, width): GoogLeNet's conv1 and 3x3 / 5x5 shapes at odd
# octave sizes, and a strided unpadded one.
CASES = (
    (7, 3, 16, 2, 3, 41, 57),
    (3, 16, 24, 1, 1, 27, 47),
    (5, 8, 12, 1, 2, 14, 23),
    (3, 8, 8, 2, 0, 20, 31),
)


def _conv_and_input_gradient(conv, images, kernel, output_weights):
    """(conv output, d sum(output * output_weights) / d images): the backward pass receives
    exactly ``output_weights``, whatever the forward rounding."""
    with tf.GradientTape() as tape:
        tape.watch(images)
        outputs = conv(images, kernel)
        score = tf.reduce_sum(outputs * output_weights)
    return outputs.numpy(), tape.gradient(score, images).numpy()


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}x{c[0]}s{c[3]}p{c[4]}")
def test_same_convolution_and_the_same_input_gradient(case):
    k, c_in, c_out, stride, pad, h, w = case
    rng = np.random.default_rng(k + c_in)
    images = tf.constant(rng.uniform(-100, 100, (2, h, w, c_in)).astype(np.float32))
    kernel = tf.constant(rng.normal(0, 0.1, (k, k, c_in, c_out)).astype(np.float32))
    padding = [[0, 0], [pad, pad], [pad, pad], [0, 0]] if pad else "VALID"
    out_h, out_w = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    output_weights = tf.constant(rng.normal(0, 1, (2, out_h, out_w, c_out)).astype(np.float32))

    ours, our_gradient = _conv_and_input_gradient(
        lambda x, f: eigen_conv2d(x, f, (stride, stride), padding), images, kernel, output_weights
    )
    tfs, tf_gradient = _conv_and_input_gradient(
        lambda x, f: tf.nn.conv2d(x, f, stride, padding), images, kernel, output_weights
    )
    assert ours.shape == tfs.shape == (2, out_h, out_w, c_out)
    if _pywrap_util_port.IsMklEnabled():
        # Two float32 summation orders of k*k*c_in terms: a few units of float32 rounding.
        assert np.linalg.norm(ours - tfs) / np.linalg.norm(tfs) < 1e-6
    else:
        # Both ops run the same Eigen kernel.
        np.testing.assert_array_equal(ours, tfs)
    if stride == 1:
        # The flipped-kernel convolution: the same k*k*c_out products per input pixel, summed
        # in another order.
        error = np.linalg.norm(our_gradient - tf_gradient) / np.linalg.norm(tf_gradient)
        assert error < 1e-6
    else:  # Conv2D's own backward pass, fed the same output gradient
        np.testing.assert_array_equal(our_gradient, tf_gradient)


def test_transposed_padding_restores_the_input_size_or_declines():
    assert transposed_padding((3, 3), (1, 1), [[0, 0], [1, 1], [1, 1], [0, 0]]) == [
        *(0, 0, 1, 1, 1, 1, 0, 0)
    ]
    assert transposed_padding((5, 3), (1, 1), "VALID") == [0, 0, 4, 4, 2, 2, 0, 0]
    assert transposed_padding((3, 3), (1, 1), [[0, 0], [0, 2], [1, 1], [0, 0]]) == [
        *(0, 0, 2, 0, 1, 1, 0, 0)
    ]
    assert transposed_padding((7, 7), (2, 2), [[0, 0], [3, 3], [3, 3], [0, 0]]) is None
    assert transposed_padding((3, 3), (1, 1), [[0, 0], [3, 3], [0, 0], [0, 0]]) is None


def _forward_ops(layer: CaffeConvolution, channels: int) -> set[str]:
    inputs = keras.Input((None, None, channels))
    model = keras.Model(inputs, layer(inputs))
    traced = tf.function(lambda x: model(x)).get_concrete_function(
        tf.TensorSpec([1, None, None, channels], tf.float32)
    )
    return {op.type for op in traced.graph.get_operations()}


def test_pointwise_matmul_is_the_1x1_convolution():
    rng = np.random.default_rng(7)
    images = tf.constant(rng.uniform(-100, 100, (2, 13, 21, 24)).astype(np.float32))
    kernel = tf.constant(rng.normal(0, 0.1, (1, 1, 24, 10)).astype(np.float32))
    output_weights = tf.constant(rng.normal(0, 1, (2, 13, 21, 10)).astype(np.float32))
    ours, our_gradient = _conv_and_input_gradient(pointwise_matmul, images, kernel, output_weights)
    tfs, tf_gradient = _conv_and_input_gradient(
        lambda x, f: tf.nn.conv2d(x, f, 1, "VALID"), images, kernel, output_weights
    )
    assert ours.shape == tfs.shape == (2, 13, 21, 10)
    # Sums of 24 (forward) and 10 (gradient) float32 products in other orders.
    assert np.linalg.norm(ours - tfs) / np.linalg.norm(tfs) < 1e-6
    assert np.linalg.norm(our_gradient - tf_gradient) / np.linalg.norm(tf_gradient) < 1e-6


def test_layers_take_the_avx2_kernels_exactly_where_wanted():
    spatial = _forward_ops(CaffeConvolution(8, (3, 3), padding=(1, 1)), 4)
    pointwise = _forward_ops(CaffeConvolution(8, (1, 1)), 4)
    wanted = avx2_kernels_wanted()
    assert ("Conv" in spatial, "Conv2D" in spatial) == (wanted, not wanted)
    assert ("MatMul" in pointwise, "Conv2D" in pointwise) == (wanted, not wanted)


def test_float64_and_layer_outputs_unchanged_by_the_choice():
    """A float64 convolution (the judge's) never takes the AVX2 routes, and a float32 layer
    computes the same values as tf.nn.conv2d."""
    layer = CaffeConvolution(6, (3, 3), padding=(1, 1))
    layer.build((None, None, None, 5))
    rng = np.random.default_rng(3)
    layer.kernel.assign(rng.normal(0, 0.2, (3, 3, 5, 6)))
    layer.bias.assign(rng.normal(0, 1, 6))
    images = rng.uniform(-50, 50, (1, 19, 26, 5)).astype(np.float32)
    ours = layer(tf.constant(images)).numpy()
    expected = tf.nn.bias_add(
        tf.nn.conv2d(images, layer.kernel, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]), layer.bias
    ).numpy()
    assert np.linalg.norm(ours - expected) / np.linalg.norm(expected) < 1e-6
    for kernel_size, padding in (((3, 3), (1, 1)), ((1, 1), (0, 0))):
        layer64 = CaffeConvolution(8, kernel_size, padding=padding, dtype="float64")
        assert not {"Conv", "MatMul"} & _forward_ops(layer64, 4)
