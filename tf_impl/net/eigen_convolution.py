"""Where a float32 convolution's forward pass runs on the CPU: TensorFlow's own (Eigen) kernel
for spatial kernels on x86-64 CPUs without AVX-512, oneDNN's elsewhere.

With oneDNN on (the project's default on x86-64, :mod:`tf_impl`), TensorFlow rewrites every
``Conv2D`` to oneDNN's convolution, which on a CPU without AVX-512 computes TensorFlow's NHWC
tensors by im2col and matrix products (oneDNN's ``gemm:jit``): for GoogLeNet's 3x3 and 5x5
layers at octave sizes that ran 2-2.7x slower than TensorFlow's own spatial convolution (whose
matrix products are fast there), and from about 420,000 output pixels oneDNN fell back to its
reference convolution (docs/performance.md, "Convolution forwards on Eigen"). TensorFlow's
generic ``Conv`` op computes the same convolution with the Eigen kernel and is not rewritten;
with oneDNN off the two ops give bit-identical results. 1x1 convolutions stay on oneDNN, which
is faster for them. The input gradient is TensorFlow's own ``Conv2D`` gradient, unchanged.
"""

from __future__ import annotations

import functools
import platform

import tensorflow as tf

from tf_impl.host.cpu_features import cpu_flags


@functools.cache
def eigen_forward_wanted() -> bool:
    """Whether this process runs spatial float32 convolution forwards on TensorFlow's Eigen
    kernel: an x86-64 CPU with AVX2 and without AVX-512 (where oneDNN's convolution is
    ``gemm:jit``), and no GPU for TensorFlow to place them on. Decided once per process."""
    flags = cpu_flags()
    return (
        platform.machine().lower() in {"x86_64", "amd64"}
        and "avx2" in flags
        and "avx512f" not in flags
        and not tf.config.list_physical_devices("GPU")
    )


def use_eigen_forward(inputs: tf.Tensor, kernel: tf.Tensor) -> bool:
    """Whether the convolution of ``inputs`` (NHWC) with ``kernel`` (kh, kw, in, out) should
    run forward on Eigen: float32, a kernel larger than 1x1, and :func:`eigen_forward_wanted`."""
    return (
        inputs.dtype == tf.float32 and tuple(kernel.shape[:2]) != (1, 1) and eigen_forward_wanted()
    )


def eigen_conv2d(
    inputs: tf.Tensor,
    kernel: tf.Tensor,
    strides: tuple[int, int],
    padding: str | list[list[int]],
) -> tf.Tensor:
    """``tf.nn.conv2d(inputs, kernel, strides, padding)`` with its forward pass on TensorFlow's
    Eigen kernel (the ``Conv`` op) and its input gradient exactly ``Conv2D``'s.

    inputs: (N, H, W, C) float32; kernel: (kh, kw, C, out); strides: (sh, sw); padding:
    'VALID' or the explicit NHWC list [[0, 0], [top, bottom], [left, right], [0, 0]].
    Returns (N, H', W', out). Only the input is differentiated: the kernel gets no gradient
    (dreams and atlases optimise images, never weights)."""
    sh, sw = strides
    conv_strides = [1, sh, sw, 1]
    if isinstance(padding, str):
        padding_name, explicit = padding, []
    else:
        padding_name, explicit = "EXPLICIT", [int(p) for pair in padding for p in pair]

    @tf.custom_gradient
    def convolve(images, weights):
        outputs = tf.raw_ops.Conv(
            input=images,
            filter=weights,
            strides=conv_strides,
            padding=padding_name,
            explicit_paddings=explicit,
        )

        def backward(output_gradient):
            input_gradient = tf.raw_ops.Conv2DBackpropInput(
                input_sizes=tf.shape(images),
                filter=weights,
                out_backprop=output_gradient,
                strides=conv_strides,
                padding=padding_name,
                explicit_paddings=explicit,
            )
            return input_gradient, None

        return outputs, backward

    return convolve(inputs, tf.convert_to_tensor(kernel))
