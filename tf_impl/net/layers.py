"""Keras layers with Caffe's exact inference semantics, for NHWC float32 tensors.

Each layer reproduces what Caffe's CPU implementation computes, at any input height and width:

- :class:`CaffeConvolution`: symmetric zero padding (``pad``), stride, dilation, groups and an
  optional bias. TF's 'SAME' padding is asymmetric at even sizes, so padding is explicit.
- :class:`CaffePooling`: MAX or AVE with Caffe's ceil rounding of the output size, including
  the rule that drops a last window that would start inside the padding; AVE divides by the
  window clipped to the padded input (padding cells count, overflow cells do not); global
  pooling; ``round_mode: FLOOR`` too.
- :class:`CaffeLRN`: across-channel local response normalisation with Caffe's ``alpha`` (which
  Caffe divides by ``local_size``) and Caffe's backward (:mod:`tf_impl.net.lrn`).
- :class:`CaffeInnerProduct`: flattens in Caffe's C, H, W order before the matrix product.
- :class:`CaffeSoftmax`: softmax over the channel axis.

Weights are stored in TensorFlow layout (convolution kernels as kh, kw, in/group, out).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from conversion.layer_params import caffe_conv_size, caffe_pooled_size
from tf_impl.net.lrn import caffe_lrn, caffe_lrn_formula

_PACKAGE = "deepdream_caffe"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CaffeConvolution(keras.layers.Layer):
    """Caffe ``Convolution``: NHWC in, NHWC out; kernel (kh, kw, in/group, out), bias (out,)."""

    def __init__(
        self,
        filters: int,
        kernel_size: tuple[int, int],
        strides: tuple[int, int] = (1, 1),
        padding: tuple[int, int] = (0, 0),
        dilation: tuple[int, int] = (1, 1),
        groups: int = 1,
        use_bias: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = tuple(int(k) for k in kernel_size)
        self.strides = tuple(int(s) for s in strides)
        self.padding = tuple(int(p) for p in padding)
        self.dilation = tuple(int(d) for d in dilation)
        self.groups = int(groups)
        self.use_bias = bool(use_bias)

    def build(self, input_shape):
        in_channels = int(input_shape[-1])
        self.kernel = self.add_weight(
            name="kernel",
            shape=(*self.kernel_size, in_channels // self.groups, self.filters),
            initializer="zeros",
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
            if self.use_bias
            else None
        )

    def call(self, inputs):
        kernel = dilated_kernel(self.kernel, self.dilation)
        inputs, padding = self._padded(inputs, kernel.shape[:2])
        conv_args = {"strides": self.strides, "padding": padding}
        if self.groups == 1:
            outputs = tf.nn.conv2d(inputs, kernel, **conv_args)
        else:
            input_groups = tf.split(inputs, self.groups, axis=-1)
            kernel_groups = tf.split(kernel, self.groups, axis=-1)
            outputs = tf.concat(
                [
                    tf.nn.conv2d(x, k, **conv_args)
                    for x, k in zip(input_groups, kernel_groups, strict=True)
                ],
                axis=-1,
            )
        if self.bias is not None:
            outputs = tf.nn.bias_add(outputs, self.bias)
        return outputs

    def _padded(self, inputs, kernel_size):
        """(input, conv2d padding) giving Caffe's symmetric zero padding. float32 and
        float64: TF's explicit padding list (the kernels the parity figures were measured
        with). bfloat16: never that list, whose input gradient leaves oneDNN (a 3x3 conv's
        forward + backward 130x slower); stride 1 with a kernel of 2 * pad + 1 is exactly
        TF's 'SAME', other paddings are added with tf.pad before a 'VALID' convolution."""
        ph, pw = self.padding
        if not (ph or pw):
            return inputs, "VALID"
        if inputs.dtype != tf.bfloat16:
            return inputs, [[0, 0], [ph, ph], [pw, pw], [0, 0]]
        if self.strides == (1, 1) and tuple(kernel_size) == (2 * ph + 1, 2 * pw + 1):
            return inputs, "SAME"
        return tf.pad(inputs, [[0, 0], [ph, ph], [pw, pw], [0, 0]]), "VALID"

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        sizes = []
        for size, k, s, p, d in zip(
            (h, w), self.kernel_size, self.strides, self.padding, self.dilation, strict=True
        ):
            sizes.append(None if size is None else caffe_conv_size(size, k, s, p, d))
        return (n, *sizes, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "dilation": self.dilation,
            "groups": self.groups,
            "use_bias": self.use_bias,
        }


def dilated_kernel(kernel: tf.Tensor, dilation: tuple[int, int]) -> tf.Tensor:
    """A (kh, kw, in, out) kernel spread by ``dilation`` with zeros in between:
    ((kh-1)*dh+1, (kw-1)*dw+1, in, out). A convolution with it equals the dilated one (the
    zeros add exact zeros), and unlike TF's dilated conv2d its input gradient runs on CPU."""
    dh, dw = dilation
    if dh == dw == 1:
        return kernel
    kh, kw, c_in, c_out = kernel.shape
    spread = tf.reshape(kernel, [kh, 1, kw, 1, c_in, c_out])
    spread = tf.pad(spread, [[0, 0], [0, dh - 1], [0, 0], [0, dw - 1], [0, 0], [0, 0]])
    spread = tf.reshape(spread, [kh * dh, kw * dw, c_in, c_out])
    return spread[: (kh - 1) * dh + 1, : (kw - 1) * dw + 1]


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CaffePooling(keras.layers.Layer):
    """Caffe ``Pooling`` (MAX or AVE) on NHWC tensors, with Caffe's output-size rule."""

    def __init__(
        self,
        method: str,
        kernel_size: tuple[int, int] = (1, 1),
        strides: tuple[int, int] = (1, 1),
        padding: tuple[int, int] = (0, 0),
        global_pooling: bool = False,
        ceil_mode: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if method not in ("MAX", "AVE"):
            raise ValueError(f"pooling method must be MAX or AVE, got {method}")
        self.method = method
        self.kernel_size = tuple(int(k) for k in kernel_size)
        self.strides = tuple(int(s) for s in strides)
        self.padding = tuple(int(p) for p in padding)
        self.global_pooling = bool(global_pooling)
        self.ceil_mode = bool(ceil_mode)

    def call(self, inputs):
        if self.global_pooling:
            reduce = tf.reduce_max if self.method == "MAX" else tf.reduce_mean
            return reduce(inputs, axis=[1, 2], keepdims=True)
        window, step = (1, *self.kernel_size, 1), (1, *self.strides, 1)
        axes = list(zip(self.kernel_size, self.strides, self.padding, strict=True))
        if self.method == "MAX" and all(s == 1 and k == 2 * p + 1 for k, s, p in axes):
            # Same-size pooling (GoogLeNet's inception pools): TF's SAME pads p on each side
            # and ignores the padding, exactly Caffe's clipped windows.
            return tf.nn.max_pool2d(inputs, window, step, "SAME")
        # Pad p before and p + s - 1 after (p after in FLOOR mode): then VALID pooling gives
        # ceil((H + 2p - k) / s) + 1 windows, Caffe's count before its drop rule. The paddings
        # are static, which keeps this on TensorFlow's fast (oneDNN) pooling path.
        extra = [(s - 1) if self.ceil_mode else 0 for _, s, _ in axes]
        paddings = [[0, 0], *([p, p + e] for (_, _, p), e in zip(axes, extra, strict=True)), [0, 0]]
        if self.method == "MAX":
            padded = tf.pad(inputs, paddings, constant_values=float("-inf"))
            pooled = tf.nn.max_pool2d(padded, window, step, "VALID")
        else:
            area = float(np.prod(self.kernel_size))
            sums = tf.nn.avg_pool2d(tf.pad(inputs, paddings), window, step, "VALID") * area
            # Caffe's divisor: the window clipped to the input plus its padding (H + 2p
            # cells), i.e. a pooled count over a map that is 1 there and 0 in the overflow.
            shape = tf.shape(inputs)
            (_, _, ph), (_, _, pw) = axes
            ones = tf.ones([1, shape[1] + 2 * ph, shape[2] + 2 * pw, 1], inputs.dtype)
            counts_map = tf.pad(ones, [[0, 0], [0, extra[0]], [0, extra[1]], [0, 0]])
            pooled = sums / (tf.nn.avg_pool2d(counts_map, window, step, "VALID") * area)
        if self.ceil_mode and any(p > 0 for p in self.padding) and any(s > 1 for s in self.strides):
            # Caffe drops a last window that would start inside the bottom/right padding.
            shape = tf.shape(inputs)
            out_h, out_w = (
                caffe_pooled_size(shape[axis], k, s, p, True, True)
                for axis, (k, s, p) in zip((1, 2), axes, strict=True)
            )
            pooled = pooled[:, :out_h, :out_w, :]
        return pooled

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        if self.global_pooling:
            return (n, 1, 1, c)
        sizes = []
        for size, k, s, p in zip((h, w), self.kernel_size, self.strides, self.padding, strict=True):
            sizes.append(
                None
                if size is None
                else caffe_pooled_size(size, k, s, p, self.ceil_mode, any(self.padding))
            )
        return (n, *sizes, c)

    def get_config(self):
        return {
            **super().get_config(),
            "method": self.method,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "global_pooling": self.global_pooling,
            "ceil_mode": self.ceil_mode,
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CaffeLRN(keras.layers.Layer):
    """Caffe ``LRN`` across channels: x / (k + alpha/n * sum of x^2 over n channels)^beta."""

    def __init__(self, local_size: int, alpha: float, beta: float, k: float, **kwargs):
        super().__init__(**kwargs)
        if local_size % 2 != 1:
            raise ValueError(f"LRN local_size must be odd, got {local_size}")
        self.local_size = int(local_size)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.k = float(k)

    def call(self, inputs):
        args = (self.local_size, self.alpha, self.beta, self.k)
        if inputs.dtype == tf.float64:  # the float64 ground truth: the plain formula, autodiff
            return caffe_lrn_formula(inputs, *args)
        return caffe_lrn(inputs, *args)

    def get_config(self):
        return {
            **super().get_config(),
            "local_size": self.local_size,
            "alpha": self.alpha,
            "beta": self.beta,
            "k": self.k,
        }

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CaffeInnerProduct(keras.layers.Layer):
    """Caffe ``InnerProduct``: flattens NHWC input in Caffe's C, H, W order, then x W^T + b.

    The kernel is stored as Caffe's (num_output, C*H*W) weight transposed, i.e. (C*H*W, out);
    ``features`` = C*H*W fixes the input size the layer accepts.
    """

    def __init__(self, units: int, features: int, use_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.features = int(features)
        self.use_bias = bool(use_bias)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel", shape=(self.features, self.units), initializer="zeros"
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
            if self.use_bias
            else None
        )

    def call(self, inputs):
        if inputs.shape.rank == 4:
            inputs = tf.transpose(inputs, [0, 3, 1, 2])  # NHWC -> NCHW, Caffe's flatten order
        flat = tf.reshape(inputs, [tf.shape(inputs)[0], -1])
        outputs = tf.matmul(flat, self.kernel)
        if self.bias is not None:
            outputs = outputs + self.bias
        return outputs

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "features": self.features,
            "use_bias": self.use_bias,
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CaffeSoftmax(keras.layers.Layer):
    """Caffe ``Softmax`` over the channel axis (the last axis in NHWC)."""

    def call(self, inputs):
        return tf.nn.softmax(inputs, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CaffeLeakyReLU(keras.layers.Layer):
    """Caffe ``ReLU`` with a ``negative_slope`` of any sign: x where x > 0, else slope * x.

    Gradient: 1 where x > 0, else slope (Caffe's backward). Keras' ReLU refuses negative
    slopes, which Caffe accepts.
    """

    def __init__(self, negative_slope: float, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return tf.where(inputs > 0, inputs, inputs * self.negative_slope)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CaffeIdentity(keras.layers.Layer):
    """Caffe ``Dropout`` at inference, and ``Split`` (a fan-out): the identity."""

    def call(self, inputs):
        return tf.identity(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)
