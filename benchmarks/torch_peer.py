"""The optional PyTorch peer of ``make bench PEER=torch``: the project's dream step, in PyTorch.

Issue 10 measures the project against a PyTorch GoogLeNet with the same weights and Caffe's
semantics. This module is that peer, built from the project's own parsed Caffe net
(:class:`~conversion.caffe_files.NetSpec`, geometry from :mod:`conversion.layer_params`), so
both frameworks run the very same layers:

- Convolution: symmetric zero padding, stride, dilation, groups; weights in Caffe's OIHW
  layout, which is PyTorch's.
- Pooling: MAX or AVE with Caffe's ceil rounding and its rule that drops a last window
  starting inside the padding (:func:`conversion.layer_params.caffe_pooled_size`). PyTorch's
  ceil mode applies that rule on every layer, Caffe only on padded ones; the two differ only
  where a window could start past an unpadded input (kernel < stride), which is refused. In
  FLOOR mode neither drops a window (Caffe needs pad < kernel). The AVE divisor counts
  padding cells and not the overflow (``count_include_pad``), as Caffe's does.
- LRN across channels: :class:`CaffeLRN`, a custom autograd function with Caffe's analytic
  backward; the channel window sum is a product with a (C, C) band matrix and s^-0.75 is
  ``rsqrt(s * sqrt(s))``.
- ReLU with any negative slope (Caffe's gradient: 1 where x > 0, else the slope; in place, 1
  where the output is > 0, as Caffe's backward reads the overwritten bottom).
- BatchNorm (inference; mean and variance the stored blobs times 1 / factor, 0 for 0, in
  float32 as Caffe), Scale / Bias (learned, per channel or scalar), Eltwise SUM (coefficients,
  Caffe's order), PROD (both backward forms), MAX (Caffe's tie rule), Power.

Tensors are NCHW in ``torch.channels_last`` memory (NHWC bytes, as TensorFlow's). The input
is the project's network input: BGR, mean-subtracted, 0-255 scale. :class:`TorchDreamStep` is
the step the project's benchmarks time (``benchmarks.tf_workloads.dream_step``): jitter
roll, forward to the blob, gradient of 0.5 * sum(a^2), step of ``step_size / mean|g|``,
unroll, clip to the pixel range; eager, or with the network compiled by ``torch.compile``.

``python -m benchmarks.torch_peer CAFFEMODEL PROTOTXT SETTINGS`` is the peer's timing worker
(:func:`serve`), which ``make bench PEER=torch`` starts through
:func:`benchmarks.workers.torch_worker`: PyTorch in a process of its own, with its default
OpenMP settings. This module never imports TensorFlow; it imports PyTorch (an optional
install: the ``peer`` extra).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (PyTorch's own spelling)

from benchmarks.process_stats import peak_rss_mb, reset_peak_rss, rss_mb
from benchmarks.workers import MARK, step_image
from conversion import caffe_schema_pb2 as pb
from conversion.caffe_files import LayerSpec, NetSpec, build_net_spec
from conversion.errors import DeepDreamError
from conversion.layer_params import (
    LAYER_TYPES,
    batch_norm_stats,
    bias_weights,
    check_concat_channels,
    conv_geometry,
    eltwise_op,
    fit_blob,
    pool_geometry,
    power_constant,
    power_op,
    scale_weights,
)

# The dream needs no classifier: InnerProduct and Softmax are left out.
SUPPORTED = tuple(t for t in LAYER_TYPES if t not in ("InnerProduct", "Softmax"))
Op = Callable[..., torch.Tensor]


def _window_sum(x: torch.Tensor, band: torch.Tensor) -> torch.Tensor:
    """Sum over each channel's LRN window: (N, C, H, W) channels_last times the (C, C) band
    matrix along C (a plain matrix product on the NHWC bytes), channels_last out."""
    return (x.permute(0, 2, 3, 1) @ band).permute(0, 3, 1, 2)


def _negative_power(scale: torch.Tensor, beta: float) -> torch.Tensor:
    """scale^-beta; for Caffe's (and GoogLeNet's) beta = 0.75 as rsqrt(s * sqrt(s))."""
    if beta == 0.75:
        return torch.rsqrt(scale * torch.sqrt(scale))
    return scale.pow(-beta)


class CaffeLRN(torch.autograd.Function):
    """Caffe's across-channel LRN: y = x * s^-beta, s = k + alpha/n * window sum of x^2.

    Backward is Caffe's own (lrn_layer.cpp, CrossChannelBackward):
    dx = dy * s^-beta - (2 alpha beta / n) * x * window sum of (dy * y / s).
    ``band``: (C, C) float32, 1 where |i - j| <= n // 2.
    """

    @staticmethod
    def forward(ctx, x, band, k: float, alpha_n: float, beta: float):
        scale = k + alpha_n * _window_sum(x * x, band)
        power = _negative_power(scale, beta)
        ctx.save_for_backward(x, band, scale, power)
        ctx.coefficient = 2.0 * alpha_n * beta
        return x * power

    @staticmethod
    def backward(ctx, grad):
        x, band, scale, power = ctx.saved_tensors
        ratio = grad * (x * power) / scale
        grad_x = grad * power - ctx.coefficient * x * _window_sum(ratio, band)
        return grad_x, None, None, None, None


def _convolution(layer: LayerSpec, in_channels: int) -> tuple[Op, int]:
    p = layer.param.convolution_param
    g = conv_geometry(layer)
    if in_channels % p.group or p.num_output % p.group:
        raise DeepDreamError(f"layer '{layer.name}': group {p.group} does not divide the channels")
    weight = fit_blob(layer, 0, (p.num_output, in_channels // p.group, *g.kernel), "weight")
    weight = torch.from_numpy(weight.copy()).contiguous(memory_format=torch.channels_last)
    bias = None
    if p.bias_term:
        bias = torch.from_numpy(fit_blob(layer, 1, (p.num_output,), "bias").copy())

    def convolution(x):
        return F.conv2d(x, weight, bias, g.stride, g.pad, g.dilation, p.group)

    return convolution, p.num_output


def _pooling(layer: LayerSpec) -> Op:
    g = pool_geometry(layer)
    if g.global_pooling:
        if g.method == "MAX":
            return lambda x: x.amax(dim=(2, 3), keepdim=True)
        return lambda x: x.mean(dim=(2, 3), keepdim=True)
    if any(p > k // 2 for p, k in zip(g.pad, g.kernel, strict=True)):
        raise DeepDreamError(
            f"layer '{layer.name}': pad {g.pad} is more than half the kernel {g.kernel}, which "
            "PyTorch's pooling refuses"
        )
    if (
        g.ceil_mode
        and not any(g.pad)
        and any(k < s for k, s in zip(g.kernel, g.stride, strict=True))
    ):
        # PyTorch's ceil mode then drops a last window that starts past the input; Caffe
        # keeps it (it drops windows only on padded layers).
        raise DeepDreamError(
            f"layer '{layer.name}': kernel {g.kernel} smaller than stride {g.stride} without "
            "padding; the PyTorch peer does not cover that geometry"
        )

    def pooling(x):
        if g.method == "MAX":
            return F.max_pool2d(x, g.kernel, g.stride, g.pad, ceil_mode=g.ceil_mode)
        return F.avg_pool2d(x, g.kernel, g.stride, g.pad, g.ceil_mode, count_include_pad=True)

    return pooling


def _lrn(layer: LayerSpec, channels: int) -> Op:
    p = layer.param.lrn_param
    if p.norm_region != pb.LRNParameter.ACROSS_CHANNELS or p.local_size % 2 != 1:
        raise DeepDreamError(
            f"layer '{layer.name}': only ACROSS_CHANNELS LRN with an odd local_size is supported"
        )
    index = np.arange(channels)
    band = torch.from_numpy(
        (np.abs(index[:, None] - index[None, :]) <= p.local_size // 2).astype(np.float32)
    )
    k, alpha_n, beta = float(p.k), float(p.alpha) / p.local_size, float(p.beta)
    return lambda x: CaffeLRN.apply(x, band, k, alpha_n, beta)


class InPlaceLeakyReLU(torch.autograd.Function):
    """Caffe's in-place ReLU with a negative slope: its backward tests the overwritten bottom
    (the output y): dx = dy where y > 0, else slope * dy."""

    @staticmethod
    def forward(ctx, x, slope: float):
        y = torch.where(x > 0, x, x * slope)
        ctx.save_for_backward(y)
        ctx.slope = slope
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * torch.where(y > 0, 1.0, ctx.slope), None


class UnstableProduct(torch.autograd.Function):
    """Eltwise PROD with ``stable_prod_grad: false``: Caffe's backward top / x_i."""

    @staticmethod
    def forward(ctx, *xs):
        top = xs[0]
        for x in xs[1:]:
            top = top * x
        ctx.save_for_backward(top, *xs)
        return top

    @staticmethod
    def backward(ctx, grad):
        top, *xs = ctx.saved_tensors
        return tuple(top / x * grad for x in xs)


def _relu(layer: LayerSpec) -> Op:
    slope = float(layer.param.relu_param.negative_slope)
    if slope == 0:
        return F.relu
    if slope > 0:
        return lambda x: F.leaky_relu(x, slope)
    if layer.tops[0] in layer.bottoms:
        return lambda x: InPlaceLeakyReLU.apply(x, slope)
    return lambda x: torch.where(x > 0, x, x * slope)


def _channel_tensor(values: np.ndarray) -> torch.Tensor:
    """A () or (C,) parameter as a tensor broadcasting over NCHW: () or (C, 1, 1)."""
    values = np.asarray(values, np.float32)
    return torch.from_numpy(values.reshape(-1, 1, 1) if values.ndim else values.copy())


def _batch_norm(layer: LayerSpec, channels: int) -> Op:
    mean, std = batch_norm_stats(layer, channels).float32_mean_std()
    mean, std = _channel_tensor(mean), _channel_tensor(std)
    return lambda x: (x - mean) / std


def _scale(layer: LayerSpec, channels: int) -> Op:
    scale, bias = scale_weights(layer, channels, 4)
    factor = _channel_tensor(scale)
    if bias is None:
        return lambda x: x * factor
    shift = _channel_tensor(bias)
    return lambda x: x * factor + shift


def _bias(layer: LayerSpec, channels: int) -> Op:
    shift = _channel_tensor(bias_weights(layer, channels, 4))
    return lambda x: x + shift


def _eltwise(layer: LayerSpec) -> Op:
    op = eltwise_op(layer)

    def eltwise(*xs):
        if op.operation == "SUM":
            terms = [x if c == 1 else x * c for x, c in zip(xs, op.coeffs, strict=True)]
            out = terms[0]
            for term in terms[1:]:
                out = out + term
            return out
        if op.operation == "MAX":  # Caffe's ties: x1 unless x0 > x1; later ones if greater
            out = torch.where(xs[0] > xs[1], xs[0], xs[1])
            for x in xs[2:]:
                out = torch.where(x > out, x, out)
            return out
        if not op.stable_prod_grad:
            return UnstableProduct.apply(*xs)
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out

    return eltwise


def _power(layer: LayerSpec) -> Op:
    op = power_op(layer)
    value = power_constant(op.power, op.scale, op.shift)
    if value is not None:
        return lambda x: torch.where(torch.ones_like(x, dtype=torch.bool), value, x)

    def power(x):
        if op.scale != 1:
            x = x * op.scale
        if op.shift != 0:
            x = x + op.shift
        if op.power == 2:
            return x * x
        if op.power == 0.5:
            return torch.sqrt(x)
        return x if op.power == 1 else torch.pow(x, op.power)

    return power


def _needed(spec: NetSpec, ends: Sequence[str]) -> list[LayerSpec]:
    """The layers of ``spec`` (in order) that the layers named ``ends`` depend on, those
    included. Caffe's in-place layers (top = bottom) are followed through their blob."""
    names = [layer.name for layer in spec.layers]
    unknown = [e for e in ends if e not in names]
    if unknown:
        raise DeepDreamError(f"unknown layer '{unknown[0]}' for the PyTorch peer")
    last = max(names.index(e) for e in ends)
    wanted, blobs = set(ends), set()
    keep = []
    for layer in reversed(spec.layers[: last + 1]):
        if layer.name in wanted or blobs & set(layer.tops):
            keep.append(layer)
            blobs -= set(layer.tops)
            blobs |= set(layer.bottoms)
    return keep[::-1]


class TorchCaffeNet:
    """The layers of a :class:`NetSpec` up to the layers ``ends``, as PyTorch functions.

    Call with an (N, 3, H, W) float32 network input (channels_last is fastest); returns
    {layer name: its top blob (N, C, h, w) just after that layer ran}, for each of ``ends``
    (so a convolution's name gives the pre-ReLU value, as pycaffe's ``forward(end=...)``).
    """

    def __init__(self, spec: NetSpec, ends: Sequence[str]):
        self.ends = tuple(ends)
        self.ops: list[tuple[str, Op, tuple[str, ...], tuple[str, ...]]] = []
        channels = {spec.input_blob: 3}
        for layer in _needed(spec, self.ends):
            c_in = channels[layer.bottoms[0]] if layer.bottoms else 0
            c_out = c_in
            if layer.type == "Convolution":
                op, c_out = _convolution(layer, c_in)
            elif layer.type == "ReLU":
                op = _relu(layer)
            elif layer.type == "Pooling":
                op = _pooling(layer)
            elif layer.type == "LRN":
                op = _lrn(layer, c_in)
            elif layer.type == "Concat":
                check_concat_channels(layer)
                c_out = sum(channels[b] for b in layer.bottoms)

                def op(*xs):
                    return torch.cat(xs, dim=1)
            elif layer.type in ("Dropout", "Split"):

                def op(x):
                    return x
            elif layer.type == "BatchNorm":
                op = _batch_norm(layer, c_in)
            elif layer.type == "Scale":
                op = _scale(layer, c_in)
            elif layer.type == "Bias":
                op = _bias(layer, c_in)
            elif layer.type == "Eltwise":
                op = _eltwise(layer)
            elif layer.type == "Power":
                op = _power(layer)
            else:
                raise DeepDreamError(
                    f"layer '{layer.name}' has type '{layer.type}', which the PyTorch peer "
                    f"does not support (supported: {', '.join(SUPPORTED)})"
                )
            for top in layer.tops:
                channels[top] = c_out
            self.ops.append((layer.name, op, layer.bottoms, layer.tops))
        self.input_blob = spec.input_blob

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        blobs, out = {self.input_blob: x}, {}
        for name, op, bottoms, tops in self.ops:
            value = op(*(blobs[b] for b in bottoms))
            for top in tops:
                blobs[top] = value
            if name in self.ends:
                out[name] = value
        return out


class TorchDreamStep:
    """One notebook step on a network-input image (H, W, 3) float32 tensor, in PyTorch.

    ``lower``/``upper``: per-channel (3,) clip bounds (network-input values of pixels 0 and
    255); ``pixel_scale``: the model's input scale (1 for Caffe's GoogLeNet). ``compiled``
    runs the network through ``torch.compile`` (forward and backward; per image size).
    """

    def __init__(
        self,
        spec: NetSpec,
        end: str,
        lower: np.ndarray,
        upper: np.ndarray,
        pixel_scale: float = 1.0,
        compiled: bool = False,
    ):
        net = TorchCaffeNet(spec, [end])
        self.end = end

        def forward(x):
            return net(x)[end]

        self.forward = torch.compile(forward, dynamic=False) if compiled else forward
        self.lower = torch.as_tensor(np.asarray(lower, np.float32))
        self.upper = torch.as_tensor(np.asarray(upper, np.float32))
        self.pixel_scale = float(pixel_scale)

    def gradient(self, image: torch.Tensor) -> torch.Tensor:
        """d(0.5 * sum(a^2)) / d image at the blob, for an (H, W, 3) image; (H, W, 3) out."""
        x = image.permute(2, 0, 1)[None].detach().requires_grad_(True)  # channels_last view
        acts = self.forward(x)
        (grad,) = torch.autograd.grad(0.5 * acts.square().sum(), x)
        return grad[0].permute(1, 2, 0)

    def __call__(
        self, image: torch.Tensor, offset: tuple[int, int], step_size: float, clip: bool
    ) -> torch.Tensor:
        """The stepped image (H, W, 3); ``offset`` = (ox along width, oy along height)."""
        shift = (int(offset[1]), int(offset[0]))
        shifted = torch.roll(image, shifts=shift, dims=(0, 1))
        grad = self.gradient(shifted)
        mean_abs = grad.abs().mean()
        # A zero gradient leaves the image unchanged (the project's divide_no_nan).
        factor = torch.where(mean_abs > 0, step_size * self.pixel_scale / mean_abs, 0.0)
        stepped = torch.roll(shifted + factor * grad, shifts=(-shift[0], -shift[1]), dims=(0, 1))
        return torch.clamp(stepped, self.lower, self.upper) if clip else stepped


def torch_threads() -> dict:
    """PyTorch's thread pools, version, the CPU kernels it chose (ATEN_CPU_CAPABILITY) and
    how its OpenMP threads wait (OMP_WAIT_POLICY; unset: spin a while, then sleep)."""
    return {
        "intra_op": torch.get_num_threads(),
        "inter_op": torch.get_num_interop_threads(),
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
    }


class PeerWorker:
    """The state of :func:`serve`: the parsed net, the step's constants and one
    :class:`TorchDreamStep` per blob asked for."""

    def __init__(self, spec: NetSpec, settings: dict):
        self.spec, self.settings = spec, settings
        self.steps: dict[str, TorchDreamStep] = {}

    def info(self, request: dict) -> dict:
        return {
            **torch_threads(),
            "process_threads": len(os.listdir("/proc/self/task")),
            "tensorflow_loaded": "tensorflow" in sys.modules,
        }

    def step(self, request: dict) -> dict:
        """``reps`` timed steps to blob ``end`` at ``h`` x ``w``: times_s, cpu_s (seconds),
        rss_before_mb, peak_rss_mb (MiB), process_threads."""
        s, end = self.settings, request["end"]
        if end not in self.steps:
            self.steps[end] = TorchDreamStep(
                self.spec, end, s["lower"], s["upper"], s["pixel_scale"], s["compiled"]
            )
        step = self.steps[end]
        image = torch.from_numpy(step_image(request["h"], request["w"]))
        reset_peak_rss()
        rss_before = rss_mb()
        walls, cpus = [], []
        for _ in range(request.get("reps", 1)):
            wall, cpu = time.perf_counter(), time.process_time()
            step(image, s["offset"], s["step_size"], s["clip"])
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        return {
            "times_s": walls,
            "cpu_s": cpus,
            "rss_before_mb": rss_before,
            "peak_rss_mb": peak_rss_mb(),
            "process_threads": len(os.listdir("/proc/self/task")),
        }


def serve(argv: Sequence[str]) -> None:
    """The timing worker: ``argv`` = (caffemodel, deploy prototxt or '', settings JSON with
    lower / upper (3,) clip bounds, pixel_scale, offset (ox, oy), step_size, clip, threads
    (intra-op; give TensorFlow's count) and compiled (torch.compile)). Answers the requests
    of :mod:`benchmarks.workers` (info, step, quit) until stdin ends."""
    caffemodel, prototxt, settings = argv[0], argv[1] or None, json.loads(argv[2])
    torch.set_num_threads(int(settings["threads"]))
    worker = PeerWorker(build_net_spec(caffemodel, prototxt), settings)
    ops = {"info": worker.info, "step": worker.step}
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "quit":
            break
        try:
            answer = ops[request["op"]](request)
        except Exception as error:  # reported to the client, which raises it
            answer = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(MARK + json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve(sys.argv[1:])
