"""The float64 ground truth that float32 results (ours and Caffe's) are judged by.

The project's network is rebuilt in double precision from the same weights
(``build_keras_model(spec, "float64")``: the file's float32 weights, exactly). Against it:

- **Blobs**: a float32 result's distance is its max relative error ``max|x - f64| / max|f64|``.
- **Input gradients** of a ReLU / max-pool network are discontinuous: where a unit sits within
  float32 rounding of a ReLU kink or of a max-pool tie, a correct float32 implementation may
  take the other branch, and the gradient then differs by O(1) over that unit's receptive
  field (one such unit at 294x522 moves the whole gradient by rel L2 7e-4). Which units flip
  depends on the CPU's kernels, so the raw rel L2 is a coin toss, not a measure of quality.
  The judge therefore checks three things:
  1. every branch our float32 forward takes (ReLU sign, max-pool argmax, Eltwise MAX's
     choice of bottom) agrees with float64
     wherever float64's own margin exceeds ``NEAR_TIE`` of the blob's scale (a wrong padding,
     window or LRN rule breaks this thousands of times over);
  2. its gradient is within float32 rounding (rel L2 <= ``ROUNDING_REL_L2``) of the float64
     gradient *along our float32's branches*: float64 with every ReLU sign, max-pool argmax
     and Eltwise MAX choice taken from our float32 forward (:attr:`Branches.along`; where
     nothing flips, float64's own gradient). A near-tie flip so accounts for exactly what it
     moves, however large its receptive field (one flip at ``inception_4c/output`` at 224x224
     moves the median pixel by 1.2e-5, yet the gradient is 4e-7 from float64 along it);
  3. the median per-pixel error against the same reference is no larger than Caffe's
     against float64, within a margin.
  The bars of 2 and 3 live with the other parity bars in ``tests/reference_data.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from conversion.caffe_files import NetSpec
from tf_impl.net.builder import build_keras_model
from tf_impl.net.layers import CaffeEltwise, CaffeLeakyReLU, CaffePooling
from tf_impl.net.naming import keras_name
from tf_impl.net.network import input_blobs

# A unit is a near-tie when float64 puts it within this fraction of its blob's largest |value|
# of a ReLU kink, or its window's best two values within it: 5x the worst float32 blob error
# measured (2e-6, ours and Caffe's), so no correct float32 forward can cross a wider margin.
NEAR_TIE = 1e-5


@dataclass
class Branches:
    """How often our float32 forward took another branch than float64: ``flips`` in total,
    ``wide`` of them where float64's margin exceeded NEAR_TIE (must be 0); ``along``: where
    any flipped, the float64 input gradient (H, W, 3) along our float32's branches (None:
    float64's own gradient is that)."""

    flips: int
    wide: int
    along: np.ndarray | None = None

    def cropped(self, index) -> Branches:
        """The same with ``along`` cut to ``index`` (as the gradients compared are)."""
        return replace(self, along=None if self.along is None else self.along[index])


class Float64Net:
    """The network of ``spec`` in float64, beside a float32 Keras model of the same spec."""

    def __init__(self, spec: NetSpec, model32: keras.Model):
        self.model64 = build_keras_model(spec, "float64")
        self.model32 = model32
        # {ReLU layer: the blob its input value is}; by the project's naming rule (a layer's
        # name is its top right after it ran) an in-place ReLU's input is the last layer
        # before it that wrote its bottom.
        self.relu_input: dict[str, str] = {}
        last_writer: dict[str, str] = {}
        for layer in spec.layers:
            if layer.type == "ReLU":
                self.relu_input[layer.name] = last_writer.get(layer.bottoms[0], layer.bottoms[0])
            last_writer.update(dict.fromkeys(layer.tops, layer.name))

    @staticmethod
    def _run(model: keras.Model, layer_names: list[str], batch: tf.Tensor) -> list[tf.Tensor]:
        """The outputs of the Keras layers named ``layer_names`` for ``batch`` (a list, always)."""
        sub = keras.Model(model.input, [model.get_layer(n).output for n in layer_names])
        outputs = sub(batch)
        return list(outputs) if isinstance(outputs, list | tuple) else [outputs]

    def blobs(self, net_image: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
        """float64 blobs (h, w, c) for one network-input image (H, W, 3), BGR mean-subtracted."""
        batch = tf.constant(np.asarray(net_image, np.float64)[None])
        outputs = self._run(self.model64, [keras_name(n) for n in names], batch)
        return {n: o.numpy()[0] for n, o in zip(names, outputs, strict=True)}

    def computed_at(self, net_image: np.ndarray, names: list[str]) -> dict[str, float]:
        """{ReLU output among ``names``: its input's float64 max |value|}, the scale its values
        were rounded at (``tests/reference_data.blob_failures``' ``computed_at``)."""
        wanted = {n: self.relu_input[n] for n in names if n in self.relu_input}
        truth = self.blobs(net_image, sorted(set(wanted.values()))) if wanted else {}
        return {n: float(np.max(np.abs(truth[source]))) for n, source in wanted.items()}

    def gradient(self, net_image: np.ndarray, end: str) -> np.ndarray:
        """float64 gradient of 0.5 * sum(a^2) at blob ``end`` w.r.t. the input (H, W, 3)."""
        image = tf.constant(np.asarray(net_image, np.float64)[None])
        with tf.GradientTape() as tape:
            tape.watch(image)
            (blob,) = self._run(self.model64, [keras_name(end)], image)
            score = 0.5 * tf.reduce_sum(blob * blob)
        return tape.gradient(score, image).numpy()[0]

    def _branch_inputs(self, end: str) -> _BranchInputs:
        """What feeds each branching layer of the float64 net (the true rules) up to ``end``."""
        names = [layer.name for layer in self.model64.layers]
        upto = self.model64.layers[: names.index(keras_name(end)) + 1]
        relus = [layer for layer in upto if isinstance(layer, keras.layers.ReLU | CaffeLeakyReLU)]
        pools = [
            layer for layer in upto if isinstance(layer, CaffePooling) and _is_window_max(layer)
        ]
        maxes = [
            layer for layer in upto if isinstance(layer, CaffeEltwise) and layer.operation == "MAX"
        ]
        # The ReLUs' inputs are the convolutions they follow; the pools' inputs their bottoms.
        return _BranchInputs(
            [_input_layer(layer) for layer in relus],
            [(layer, _input_layer(layer)) for layer in pools],
            [[keras_name(b) for b in input_blobs(layer)] for layer in maxes],
        )

    def _values(self, model: keras.Model, net_image, names: list[str]) -> dict[str, np.ndarray]:
        """{Keras name: value (1, h, w, c)} of ``model`` (its dtype) for one image."""
        batch = tf.constant(np.asarray(net_image, model.inputs[0].dtype)[None])
        return {n: v.numpy() for n, v in zip(names, self._run(model, names, batch), strict=True)}

    def branches(self, net_image: np.ndarray, end: str) -> Branches:
        """Compare the ReLU signs, max-pool and Eltwise MAX choices of our float32 forward with
        float64's, for every such layer of the float64 net up to ``end``; where any differ,
        also the float64 gradient along ours (:meth:`gradient_along`)."""
        feeds = self._branch_inputs(end)
        relu_inputs, pools, max_inputs = feeds
        wanted = feeds.names()
        if not wanted:
            return Branches(0, 0)
        v32 = self._values(self.model32, net_image, wanted)
        v64 = self._values(self.model64, net_image, wanted)
        flips = wide = 0
        for name in relu_inputs:
            a, b = v32[name], v64[name]
            differ = (a > 0) != (b > 0)
            flips += int(differ.sum())
            wide += int((differ & (np.abs(b) > NEAR_TIE * np.abs(b).max())).sum())
        for layer, name in pools:
            f, w = _pool_flips(layer, v32[name], v64[name])
            flips, wide = flips + f, wide + w
        for names in max_inputs:
            f, w = _max_flips([v32[n] for n in names], [v64[n] for n in names])
            flips, wide = flips + f, wide + w
        along = self._gradient_along(net_image, end, v32) if flips else None
        return Branches(flips, wide, along)

    def gradient_along(self, net_image: np.ndarray, end: str, branch_image=None) -> np.ndarray:
        """float64 gradient (H, W, 3) of 0.5 * sum(a^2) at ``end`` w.r.t. ``net_image`` with
        every ReLU, max pool and Eltwise MAX taking the branch our float32 forward takes for
        ``branch_image`` (default: the same image); the other layers are float64's own."""
        wanted = self._branch_inputs(end).names()
        source = net_image if branch_image is None else branch_image
        return self._gradient_along(net_image, end, self._values(self.model32, source, wanted))

    def _gradient_along(self, net_image, end: str, values32: dict[str, np.ndarray]) -> np.ndarray:
        """:meth:`gradient_along` with the branches of ``values32``: float32 values of what
        feeds each branching layer, by Keras name."""
        layers = self.model64.layers
        stop = [layer.name for layer in layers].index(keras_name(end))
        image = tf.constant(np.asarray(net_image, np.float64)[None])
        with tf.GradientTape() as tape:
            tape.watch(image)
            values = {layers[0].name: image}
            for layer in layers[1 : stop + 1]:
                names = [keras_name(b) for b in input_blobs(layer)]
                inputs = [values[n] for n in names]
                if isinstance(layer, keras.layers.ReLU | CaffeLeakyReLU):
                    out = _relu_along(layer, inputs[0], values32[names[0]])
                elif isinstance(layer, CaffePooling) and _is_window_max(layer):
                    out = _pool_along(layer, inputs[0], values32[names[0]])
                elif isinstance(layer, CaffeEltwise) and layer.operation == "MAX":
                    choice = _max_choice([values32[n] for n in names])
                    out = tf.add_n([x * (choice == i) for i, x in enumerate(inputs)])
                else:
                    out = layer(inputs if len(inputs) > 1 else inputs[0])
                values[layer.name] = out
            blob = values[keras_name(end)]
            score = 0.5 * tf.reduce_sum(blob * blob)
        return tape.gradient(score, image).numpy()[0]


class _BranchInputs(NamedTuple):
    """Keras names of what feeds the branching layers: the ReLUs' inputs, (max pool, its input)
    pairs, each Eltwise MAX's inputs."""

    relus: list[str]
    pools: list[tuple[CaffePooling, str]]
    maxes: list[list[str]]

    def names(self) -> list[str]:
        """Every name above once, in order."""
        pooled = [name for _, name in self.pools]
        return list(dict.fromkeys(self.relus + pooled + [n for ns in self.maxes for n in ns]))


def _is_window_max(layer: CaffePooling) -> bool:
    """A MAX pool over windows (a global one has no near-ties worth judging)."""
    return layer.method == "MAX" and not layer.global_pooling


def _relu_along(layer, x64: tf.Tensor, x32: np.ndarray) -> tf.Tensor:
    """A Keras or Caffe ReLU of float64 ``x64`` with float32's branches: each unit's factor, 1
    or the slope, follows the sign of ``x32``, forward and backward (the backward follows the
    output's sign for an in-place CaffeLeakyReLU, which reads the overwritten bottom)."""
    slope = float(layer.negative_slope)
    positive = x32 > 0
    forward = np.where(positive, 1.0, slope)
    backward = forward
    if isinstance(layer, CaffeLeakyReLU) and layer.in_place:
        backward = np.where(x32 * forward > 0, 1.0, slope)

    @tf.custom_gradient
    def relu(x):
        def gradient(upstream):
            return upstream * backward

        return x * forward, gradient

    return relu(x64)


def _pool_window_paddings(layer: CaffePooling) -> list[list[int]]:
    """The CaffePooling padding whose VALID windows are Caffe's (before its drop rule)."""
    (sh, sw), (ph, pw) = layer.strides, layer.padding
    return [[0, 0], [ph, ph + sh - 1], [pw, pw + sw - 1], [0, 0]]


def _window_argmax(layer: CaffePooling, x: np.ndarray) -> tf.Tensor:
    """Each padded window's argmax (first of equals) of ``x`` (1, h, w, c), as flat indices into
    the padded tensor; shape (1, windows down, windows across, c)."""
    (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
    padded = tf.pad(tf.constant(x), _pool_window_paddings(layer), constant_values=-np.inf)
    _, argmax = tf.nn.max_pool_with_argmax(
        padded, (1, kh, kw, 1), (1, sh, sw, 1), "VALID", include_batch_in_index=True
    )
    return argmax


def _pool_along(layer: CaffePooling, x64: tf.Tensor, x32: np.ndarray) -> tf.Tensor:
    """Max pool of float64 ``x64`` taking in each window the element float32's ``x32`` takes."""
    argmax = _window_argmax(layer, x32)
    padded64 = tf.pad(x64, _pool_window_paddings(layer), constant_values=-np.inf)
    pooled = tf.reshape(
        tf.gather(tf.reshape(padded64, [-1]), tf.reshape(argmax, [-1])), argmax.shape
    )
    _, height, width, _ = layer.compute_output_shape(x32.shape)
    return pooled[:, :height, :width, :]


def _input_layer(layer: keras.layers.Layer) -> str:
    """The Keras name of the layer whose output feeds ``layer``."""
    return keras_name(input_blobs(layer)[0])


def _max_choice(xs: list[np.ndarray]) -> np.ndarray:
    """Which bottom Caffe's Eltwise MAX takes at each element (ties: see CaffeEltwise)."""
    choice = np.where(xs[0] > xs[1], 0, 1)
    best = np.maximum(xs[0], xs[1])
    for index, x in enumerate(xs[2:], start=2):
        choice = np.where(x > best, index, choice)
        best = np.maximum(best, x)
    return choice


def _max_flips(xs32: list[np.ndarray], xs64: list[np.ndarray]) -> tuple[int, int]:
    """(elements where an Eltwise MAX takes another bottom in float32 than in float64, those
    of them whose two float64 values differ by more than NEAR_TIE of the blobs' scale)."""
    c32, c64 = _max_choice(xs32), _max_choice(xs64)
    stacked = np.stack(xs64)
    differ = c32 != c64
    gaps = np.abs(
        np.take_along_axis(stacked, c32[None], 0)[0] - np.take_along_axis(stacked, c64[None], 0)[0]
    )
    scale = float(np.abs(stacked).max())
    return int(differ.sum()), int((differ & (gaps > NEAR_TIE * scale)).sum())


def _pool_flips(layer: CaffePooling, x32: np.ndarray, x64: np.ndarray) -> tuple[int, int]:
    """(windows whose argmax differs, those of them whose float64 values differ by more than
    NEAR_TIE of the blob's scale), over the layer's padded windows."""
    choices = [_window_argmax(layer, x).numpy().ravel() for x in (x32, x64)]
    padded64 = np.pad(x64, _pool_window_paddings(layer), constant_values=-np.inf).ravel()
    differ = choices[0] != choices[1]
    gaps = np.abs(padded64[choices[1][differ]] - padded64[choices[0][differ]])
    scale = float(np.abs(x64).max())
    return int(differ.sum()), int((gaps > NEAR_TIE * scale).sum())
