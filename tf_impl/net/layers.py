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

from conversion.errors import DeepDreamError
from conversion.layer_params import caffe_conv_size, caffe_pooled_size, power_constant
from tf_impl.net.cpu_convolution import conv2d
from tf_impl.net.lrn import caffe_lrn, caffe_lrn_formula
from tf_impl.net.naming import caffe_name

_PACKAGE = "deepdream_caffe"


class BlobShapeError(DeepDreamError):
    """An input size at which a layer has no well-defined output: Eltwise bottoms of
    different shapes, or an AVE pooling window of size 0 (Caffe's NaN)."""


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CaffeConvolution(keras.layers.Layer):
    """Caffe ``Convolution``: NHWC in, NHWC out; kernel (kh, kw, in/group, out), bias (out,).
    Computed by :func:`tf_impl.net.cpu_convolution.conv2d` (TF's conv2d, with the kernels
    measured fastest on AVX2-only CPUs)."""

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
        return self._convolve(inputs, dilated_kernel(self.kernel, self.dilation), self.bias)

    def selected_outputs(self, inputs: tf.Tensor, channels: tf.Tensor) -> tf.Tensor:
        """Output channels ``channels`` ((K,) int32, repeats allowed) of this convolution of
        ``inputs`` (N, H, W, C_in): (N, H', W', K), column k = :meth:`call`'s channel
        ``channels[k]`` (each output channel is its own sum), computing only those. Groups 1
        only (ValueError otherwise)."""
        if self.groups != 1:
            raise ValueError(f"{self.name}: selected outputs need groups 1, not {self.groups}")
        kernel = tf.gather(dilated_kernel(self.kernel, self.dilation), channels, axis=3)
        bias = None if self.bias is None else tf.gather(self.bias, channels)
        return self._convolve(inputs, kernel, bias)

    def _convolve(self, inputs, kernel, bias):
        strides = self.strides
        if tuple(kernel.shape[:2]) == (1, 1) and strides != (1, 1):
            # A strided 1x1 convolution (ResNet's projection shortcuts) reads every s-th
            # position: take those, then convolve with stride 1. The same sums, and it keeps
            # off TF 2.21's oneDNN input gradient of a strided 1x1 convolution, which
            # corrupts the heap (abort or segfault) when the stride divides the input size
            # (e.g. 48x86x8 -> 6 channels, stride 2; docs/caffe-semantics.md).
            ph, pw = self.padding
            if ph or pw:
                inputs = tf.pad(inputs, [[0, 0], [ph, ph], [pw, pw], [0, 0]])
            inputs, padding, strides = inputs[:, :: strides[0], :: strides[1], :], "VALID", (1, 1)
        else:
            inputs, padding = self._padded(inputs, kernel.shape[:2])
        conv_args = {"strides": strides, "padding": padding}
        if self.groups == 1:
            outputs = conv2d(inputs, kernel, **conv_args)
        else:
            input_groups = tf.split(inputs, self.groups, axis=-1)
            kernel_groups = tf.split(kernel, self.groups, axis=-1)
            outputs = tf.concat(
                [
                    conv2d(x, k, **conv_args)
                    for x, k in zip(input_groups, kernel_groups, strict=True)
                ],
                axis=-1,
            )
        if bias is not None:
            outputs = tf.nn.bias_add(outputs, bias)
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
            pooled = sums / self._ave_divisor(tf.shape(inputs), tf.shape(sums), inputs.dtype)
        if self.ceil_mode and any(p > 0 for p in self.padding) and any(s > 1 for s in self.strides):
            # Caffe drops a last window that would start inside the bottom/right padding.
            shape = tf.shape(inputs)
            out_h, out_w = (
                caffe_pooled_size(shape[axis], k, s, p, True, True)
                for axis, (k, s, p) in zip((1, 2), axes, strict=True)
            )
            pooled = pooled[:, :out_h, :out_w, :]
        return pooled

    def _ave_divisor(self, in_shape, out_shape, dtype):
        """Caffe's AVE divisor per window, (1, out_h, out_w, 1): the product over both axes
        of ``min(start + k, size + p) - start``, window start ``i * s - p``: the window
        clipped to the input plus its padding. Unclamped, as Caffe's: a last window that
        starts past an unpadded input (stride > kernel) gets -1 along that axis (its sum, 0,
        then gives -0.0) or 0 (0 / 0: NaN, which :meth:`compute_output_shape` refuses)."""
        sizes = []
        geometry = zip(self.kernel_size, self.strides, self.padding, strict=True)
        for axis, (k, s, p) in enumerate(geometry, start=1):
            start = tf.range(out_shape[axis]) * s - p
            sizes.append(tf.minimum(start + k, in_shape[axis] + p) - start)
        divisor = tf.cast(sizes[0][:, None] * sizes[1][None, :], dtype)
        return divisor[None, :, :, None]

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
        if self.method == "AVE":
            for axis, size, out, s, p in zip(
                ("height", "width"), (h, w), sizes, self.strides, self.padding, strict=True
            ):
                if size is not None and out > 0 and (out - 1) * s - p == size + p:
                    raise BlobShapeError(
                        f"layer '{caffe_name(self.name)}' (AVE pooling) on a {h}x{w} blob: its "
                        f"last window along the {axis} starts at {(out - 1) * s - p}, just past "
                        "the input, where Caffe divides by a window size of 0 (NaN); use "
                        "another image size"
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

    Gradient: Caffe's backward, ``1 where bottom > 0, else slope``, read from the bottom
    blob as it is after the forward pass. Not in place, that is x: the true derivative. In
    place (top = bottom) the bottom has been overwritten by the output, so the test is
    ``y > 0``: with a negative slope every non-zero x passes the gradient unchanged (slope *
    x > 0 where x < 0), only x = 0 gets the slope. Keras' ReLU refuses negative slopes,
    which Caffe accepts.
    """

    def __init__(self, negative_slope: float, in_place: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = float(negative_slope)
        self.in_place = bool(in_place)

    def call(self, inputs):
        slope = self.negative_slope
        if not self.in_place:
            return tf.where(inputs > 0, inputs, inputs * slope)

        @tf.custom_gradient
        def relu_over_output(x):
            y = tf.where(x > 0, x, x * slope)

            def backward(dy):
                return dy * tf.where(y > 0, tf.ones_like(y), tf.ones_like(y) * slope)

            return y, backward

        return relu_over_output(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "negative_slope": self.negative_slope,
            "in_place": self.in_place,
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CaffeBatchNorm(keras.layers.Layer):
    """Caffe ``BatchNorm`` at inference (``use_global_stats``), per channel (the last axis):
    (x - mean) / sqrt(variance + eps), mean = stored mean * f, variance = stored variance * f,
    f = 1 / factor (0 where the stored moving-average factor is 0). Weights: Caffe's three
    blobs as stored, mean (C,), variance (C,), factor (1,); the arithmetic runs in the layer's
    dtype in Caffe's order, so float32 rounds as Caffe does and float64 is the exact value."""

    def __init__(self, eps: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.eps = float(eps)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.mean = self.add_weight(name="mean", shape=(channels,), initializer="zeros")
        self.variance = self.add_weight(name="variance", shape=(channels,), initializer="ones")
        self.factor = self.add_weight(name="factor", shape=(1,), initializer="ones")

    def call(self, inputs):
        factor = tf.convert_to_tensor(self.factor)
        scale = tf.math.divide_no_nan(tf.ones_like(factor), factor)  # Caffe: 0 stays 0
        mean = self.mean * scale
        std = tf.sqrt(self.variance * scale + self.eps)
        return (inputs - mean) / std

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "eps": self.eps}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CaffeScale(keras.layers.Layer):
    """Caffe ``Scale`` with a learned scale (one bottom): x * scale (+ bias), the scale and
    bias one value per channel (the last axis; shape (C,)) or scalars (shape ()), as
    ``channels`` (None: scalar) says."""

    def __init__(self, channels: int | None, use_bias: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.channels = None if channels is None else int(channels)
        self.use_bias = bool(use_bias)

    def build(self, input_shape):
        shape = () if self.channels is None else (self.channels,)
        self.scale = self.add_weight(name="scale", shape=shape, initializer="ones")
        self.bias = (
            self.add_weight(name="bias", shape=shape, initializer="zeros")
            if self.use_bias
            else None
        )

    def call(self, inputs):
        outputs = inputs * self.scale
        return outputs if self.bias is None else outputs + self.bias

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "use_bias": self.use_bias}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CaffeBias(keras.layers.Layer):
    """Caffe ``Bias`` with a learned bias (one bottom): x + bias, per channel (the last
    axis; shape (C,)) or a scalar (shape ()), as ``channels`` (None: scalar) says."""

    def __init__(self, channels: int | None, **kwargs):
        super().__init__(**kwargs)
        self.channels = None if channels is None else int(channels)

    def build(self, input_shape):
        shape = () if self.channels is None else (self.channels,)
        self.bias = self.add_weight(name="bias", shape=shape, initializer="zeros")

    def call(self, inputs):
        return inputs + self.bias

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CaffeEltwise(keras.layers.Layer):
    """Caffe ``Eltwise`` over two or more blobs of one shape.

    - SUM: ((c0 * x0) + c1 * x1) + ..., Caffe's order (a coefficient of 1 multiplies not).
    - PROD: (x0 * x1) * x2 ...; backward, with ``stable_prod_grad`` (Caffe's default), the
      product of the other bottoms, else Caffe's top / x_i.
    - MAX: Caffe's choice on ties: x1 over x0 unless x0 > x1, later bottoms only when
      strictly greater; the gradient goes to the chosen bottom alone.
    """

    def __init__(
        self,
        operation: str,
        coeffs: tuple[float, ...],
        stable_prod_grad: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if operation not in ("SUM", "PROD", "MAX"):
            raise ValueError(f"Eltwise operation must be SUM, PROD or MAX, got {operation}")
        self.operation = operation
        self.coeffs = tuple(float(c) for c in coeffs)
        self.stable_prod_grad = bool(stable_prod_grad)

    def call(self, inputs):
        inputs = list(inputs)
        if self.operation == "SUM":
            terms = [x if c == 1 else x * c for x, c in zip(inputs, self.coeffs, strict=True)]
            out = terms[0]
            for term in terms[1:]:
                out = out + term
            return out
        if self.operation == "MAX":
            out = tf.where(inputs[0] > inputs[1], inputs[0], inputs[1])
            for x in inputs[2:]:
                out = tf.where(x > out, x, out)
            return out
        if self.stable_prod_grad:
            return _product(inputs)
        return _product_over_top_grad(*inputs)

    def compute_output_shape(self, input_shape):
        shapes = [tuple(shape) for shape in input_shape]
        first = shapes[0]
        for shape in shapes[1:]:
            pairs = list(zip(first[1:], shape[1:], strict=False))
            if len(shape) != len(first) or any(None not in d and d[0] != d[1] for d in pairs):
                raise BlobShapeError(
                    f"layer '{caffe_name(self.name)}' (Eltwise {self.operation}) combines blobs "
                    f"of shapes {_hwc(first)} and {_hwc(shape)}; Caffe needs one shape: use "
                    "an input size at which its bottoms line up, or fix the prototxt"
                )
        return first

    def get_config(self):
        return {
            **super().get_config(),
            "operation": self.operation,
            "coeffs": self.coeffs,
            "stable_prod_grad": self.stable_prod_grad,
        }


def _hwc(shape: tuple) -> str:
    """'HxWxC' (or 'C') of an (N, ...) shape, for messages."""
    return "x".join("?" if d is None else str(d) for d in shape[1:])


def _product(inputs: list) -> tf.Tensor:
    out = inputs[0]
    for x in inputs[1:]:
        out = out * x
    return out


@tf.custom_gradient
def _product_over_top_grad(*inputs):
    """Eltwise PROD with ``stable_prod_grad: false``: Caffe's backward top / x_i."""
    top = _product(list(inputs))

    def backward(dy):
        return [top / x * dy for x in inputs]

    return top, backward


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CaffePower(keras.layers.Layer):
    """Caffe ``Power``: (shift + scale * x) ^ power, each step only where Caffe takes it
    (no multiply for scale 1, no add for shift 0, no power for power 1). power * scale = 0
    gives Caffe's constant (1 for power 0, else shift ^ power) and a zero gradient."""

    def __init__(self, power: float = 1.0, scale: float = 1.0, shift: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.power = float(power)
        self.scale = float(scale)
        self.shift = float(shift)

    def call(self, inputs):
        value = power_constant(self.power, self.scale, self.shift)
        if value is not None:
            ones = tf.ones_like(inputs, dtype=tf.bool)
            return tf.where(ones, tf.constant(value, inputs.dtype), inputs)
        out = inputs
        if self.scale != 1:
            out = out * self.scale
        if self.shift != 0:
            out = out + self.shift
        if self.power == 2:
            return tf.square(out)
        if self.power == 0.5:
            return tf.sqrt(out)
        return out if self.power == 1 else tf.pow(out, self.power)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = {"power": self.power, "scale": self.scale, "shift": self.shift}
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CaffeIdentity(keras.layers.Layer):
    """Caffe ``Dropout`` at inference, and ``Split`` (a fan-out): the identity."""

    def call(self, inputs):
        return tf.identity(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)
