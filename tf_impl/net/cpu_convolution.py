"""``conv2d``: TensorFlow's 2-D convolution, with the kernels that were fastest for it on x86-64
CPUs with AVX2 and without AVX-512.

With oneDNN on (the project's default on x86-64, :mod:`tf_impl`), TensorFlow rewrites every
``Conv2D`` to oneDNN's convolution, which on a CPU without AVX-512 computes TensorFlow's NHWC
tensors by im2col and matrix products (oneDNN's ``gemm:jit``). Measured on such a CPU
(docs/performance.md, "Correction: the forward convolutions were the loss"):

- spatial kernels (3x3, 5x5, 7x7) ran 2-2.7x faster forward on TensorFlow's own (Eigen) spatial
  convolution, whose matrix products are fast there; oneDNN also fell back to its reference
  convolution from about 420,000 output pixels. TensorFlow's generic ``Conv`` op computes the
  convolution with that Eigen kernel and is not rewritten (with oneDNN off, ``Conv`` and
  ``Conv2D`` give bit-identical results). The input gradient stays ``Conv2D``'s own.
- 1x1 convolutions with stride 1 run as one matrix product (oneDNN's), a few per cent faster
  per step than oneDNN's convolution.

Elsewhere (AVX-512 CPUs, GPUs, other dtypes) ``conv2d`` is ``tf.nn.conv2d``.
"""

from __future__ import annotations

import functools
import platform

import tensorflow as tf

from tf_impl.host.cpu_features import cpu_flags


@functools.cache
def avx2_kernels_wanted() -> bool:
    """Whether this process uses the AVX2 kernel choices above: an x86-64 CPU with AVX2 and
    without AVX-512 (where oneDNN's convolution is ``gemm:jit``), and no GPU for TensorFlow to
    place convolutions on. Decided once per process."""
    flags = cpu_flags()
    return (
        platform.machine().lower() in {"x86_64", "amd64"}
        and "avx2" in flags
        and "avx512f" not in flags
        and not tf.config.list_physical_devices("GPU")
    )


def conv2d(
    inputs: tf.Tensor,
    kernel: tf.Tensor,
    strides: tuple[int, int],
    padding: str | list[list[int]],
) -> tf.Tensor:
    """``tf.nn.conv2d(inputs, kernel, strides, padding)`` through the fastest kernel measured
    for it here (module docstring): the same sums, float32 rounding aside.

    inputs: (N, H, W, C); kernel: (kh, kw, C, out); strides: (sh, sw); padding: 'VALID' or the
    explicit NHWC list [[0, 0], [top, bottom], [left, right], [0, 0]]. Returns (N, H', W', out).
    On the Eigen route only the input is differentiated: the kernel gets no gradient (dreams
    and atlases optimise images, never weights)."""
    if inputs.dtype != tf.float32 or not avx2_kernels_wanted():
        return tf.nn.conv2d(inputs, kernel, strides, padding)
    if tuple(kernel.shape[:2]) != (1, 1):
        return eigen_conv2d(inputs, kernel, strides, padding)
    if tuple(strides) == (1, 1) and padding == "VALID":
        return pointwise_matmul(inputs, kernel)
    return tf.nn.conv2d(inputs, kernel, strides, padding)


def pointwise_matmul(inputs: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """A 1x1, stride-1, unpadded convolution as one matrix product: inputs (N, H, W, C),
    kernel (1, 1, C, out) -> (N, H, W, out)."""
    shape = tf.shape(inputs)
    pixels = tf.reshape(inputs, [-1, inputs.shape[-1]])
    outputs = tf.matmul(pixels, kernel[0, 0])
    return tf.reshape(outputs, tf.concat([shape[:-1], tf.shape(kernel)[-1:]], axis=0))


def eigen_conv2d(
    inputs: tf.Tensor,
    kernel: tf.Tensor,
    strides: tuple[int, int],
    padding: str | list[list[int]],
) -> tf.Tensor:
    """``tf.nn.conv2d`` (arguments as :func:`conv2d`) with its forward pass on TensorFlow's
    Eigen kernel (the ``Conv`` op) and its input gradient exactly ``Conv2D``'s; the kernel gets
    no gradient."""
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
