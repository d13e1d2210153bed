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
  ``Conv2D`` give bit-identical results). The input gradient of a stride-1 one is that same
  kernel run on the output gradient with the kernel flipped: on the atlas renderers' batches of
  8 small pictures 1.5-2.2x faster than Eigen's ``Conv2DBackpropInput`` (which TensorFlow keeps
  off oneDNN for explicit padding) for the inception modules' layers, 0.9x for conv2; the
  notebook renderer 0.94x the time per channel, a dream step unchanged. A strided convolution
  keeps ``Conv2D``'s own.
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
    Eigen kernel (the ``Conv`` op); the kernel gets no gradient. The input gradient of a
    stride-1 convolution is the same ``Conv`` of the output gradient with the kernel flipped
    (:func:`transposed_padding`); of a strided one, ``Conv2D``'s own."""
    sh, sw = strides
    conv_strides = [1, sh, sw, 1]
    if isinstance(padding, str):
        padding_name, explicit = padding, []
    else:
        padding_name, explicit = "EXPLICIT", [int(p) for pair in padding for p in pair]
    gradient_padding = transposed_padding(tuple(kernel.shape[:2]), strides, padding)

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
            if gradient_padding is not None:
                flipped = tf.transpose(tf.reverse(weights, [0, 1]), [0, 1, 3, 2])
                input_gradient = tf.raw_ops.Conv(
                    input=output_gradient,
                    filter=flipped,
                    strides=[1, 1, 1, 1],
                    padding="EXPLICIT",
                    explicit_paddings=gradient_padding,
                )
            else:
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


def transposed_padding(
    kernel_size: tuple[int, int], strides: tuple[int, int], padding: str | list[list[int]]
) -> list[int] | None:
    """The explicit NHWC padding (8 ints) under which a stride-1 convolution of the output
    gradient with the kernel flipped in space and its in/out channels swapped gives the input
    gradient of a stride-1 ``kernel_size`` convolution padded by ``padding`` ('VALID' or the
    NHWC list): k - 1 - p on each side, which restores the input's size. None where that does
    not apply: a stride above 1, or a padding beyond k - 1."""
    if tuple(strides) != (1, 1):
        return None
    pads = [(0, 0), (0, 0)] if padding == "VALID" else [tuple(padding[1]), tuple(padding[2])]
    flipped = [k - 1 - p for k, pair in zip(kernel_size, pads, strict=True) for p in pair]
    if min(flipped) < 0:
        return None
    return [0, 0, *flipped, 0, 0]
