"""What a dream amplifies: objectives as scalar functions of blob activations.

DeepDream sets a gradient at the target blob and backpropagates it to the image. Each
objective here is a scalar whose gradient with respect to the blob is that gradient, so
TensorFlow's autodiff does the rest. Activations arrive as {blob name: (1, h, w, c) tensor}
(a classifier blob may be (1, units)).

- :class:`L2` (the notebook's default): 0.5 * sum(a^2), gradient = the activations.
- :class:`Channels`: the same restricted to some channels.
- :class:`Neuron`: one unit (channel c at the blob's centre, or at a given position).
- :class:`Guided` (the notebook's guided dream): at each position i, the guide vector y_j with
  the largest dot product x_i . y_j is the gradient; scalar = sum_i x_i . stop_gradient(y_j).
- :class:`ClassLogit`: a class score: the network's classifier applied at every position of
  its input blob (so any image size works), averaged over positions.
- :class:`WeightedSum`: sum of weight * objective over several objectives (several blobs).

Each objective also says how it is scored on one tile of a tiled step
(:mod:`tf_impl.dream.tiling`): ``tile_score(acts, guide, windows)`` is the objective restricted
to the tile's units (:class:`TileWindow`), so that its gradient with respect to the crop's
activations is the whole objective's at those units and zero elsewhere. An objective without
``tile_score`` couples positions and is not tiled.

:func:`make_objective` builds one from the options the ``deepdream dream`` command offers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from conversion.errors import DeepDreamError
from tf_impl.dream.settings import NOTEBOOK
from tf_impl.net.channel_stats import image_top_channels
from tf_impl.net.layers import CaffeIdentity, CaffeInnerProduct, CaffePooling
from tf_impl.net.network import DreamNet, input_blobs

Activations = Mapping[str, tf.Tensor]


class TileWindow(NamedTuple):
    """Where one tile's units lie, in blob units (int32 scalars, tensors inside a graph):
    the tile's units are rows ``y0:y1`` and columns ``x0:x1`` of the crop's blob, whose origin
    is at (``origin_y``, ``origin_x``) of the whole image's blob of size (``height``,
    ``width``). A tile's windows travel as one int32 row per blob in this field order."""

    y0: tf.Tensor
    y1: tf.Tensor
    x0: tf.Tensor
    x1: tf.Tensor
    origin_y: tf.Tensor
    origin_x: tf.Tensor
    height: tf.Tensor
    width: tf.Tensor

    @classmethod
    def of(cls, row: tf.Tensor) -> TileWindow:
        """The window of one (len(TileWindow._fields),) int32 row."""
        return cls(*tf.unstack(row, num=len(cls._fields)))

    def core(self, a: tf.Tensor) -> tf.Tensor:
        """The tile's units of a crop's (1, h, w, c) blob."""
        return a[:, self.y0 : self.y1, self.x0 : self.x1, :]


Windows = Mapping[str, TileWindow]


def _core_score(objective, acts: Activations, guide: tf.Tensor, windows: Windows) -> tf.Tensor:
    """A sum over units of a function of each unit alone, restricted to the tile's units."""
    (blob,) = objective.blobs
    return objective({blob: windows[blob].core(acts[blob])}, guide)


@dataclass(frozen=True)
class L2:
    """0.5 * sum(a^2) over blob ``blob``: its gradient is the activations themselves."""

    blob: str

    @property
    def blobs(self) -> tuple[str, ...]:
        return (self.blob,)

    def __call__(self, acts: Activations, guide: tf.Tensor) -> tf.Tensor:
        return 0.5 * tf.reduce_sum(tf.square(acts[self.blob]))

    tile_score = _core_score


@dataclass(frozen=True)
class Channels:
    """0.5 * sum(a[..., c]^2) over the listed channels ``channels`` of blob ``blob``."""

    blob: str
    channels: tuple[int, ...]

    @property
    def blobs(self) -> tuple[str, ...]:
        return (self.blob,)

    def __call__(self, acts: Activations, guide: tf.Tensor) -> tf.Tensor:
        chosen = tf.gather(acts[self.blob], list(self.channels), axis=-1)
        return 0.5 * tf.reduce_sum(tf.square(chosen))

    tile_score = _core_score


@dataclass(frozen=True)
class Neuron:
    """Activation of channel ``channel`` at one position: (y, x) in blob pixels, or the centre
    of the blob when ``position`` is None (so it follows the octave's size)."""

    blob: str
    channel: int
    position: tuple[int, int] | None = None

    @property
    def blobs(self) -> tuple[str, ...]:
        return (self.blob,)

    def __call__(self, acts: Activations, guide: tf.Tensor) -> tf.Tensor:
        a = acts[self.blob]
        if self.position is None:
            shape = tf.shape(a)
            y, x = shape[1] // 2, shape[2] // 2
        else:
            y, x = self.position
        return a[0, y, x, self.channel]

    def tile_score(self, acts: Activations, guide: tf.Tensor, windows: Windows) -> tf.Tensor:
        """The neuron's activation if the tile holds it, else 0."""
        a, w = acts[self.blob], windows[self.blob]
        if self.position is None:
            y, x = w.height // 2, w.width // 2  # the centre of the whole blob
        else:
            y, x = (tf.constant(v, tf.int32) for v in self.position)
        y, x = y - w.origin_y, x - w.origin_x
        inside = (w.y0 <= y) & (y < w.y1) & (w.x0 <= x) & (x < w.x1)
        shape = tf.shape(a)
        value = a[0, tf.clip_by_value(y, 0, shape[1] - 1), tf.clip_by_value(x, 0, shape[2] - 1)]
        return value[self.channel] * tf.cast(inside, a.dtype)


@dataclass(frozen=True)
class Guided:
    """The notebook's guided objective at ``blob``; the guide features come in at call time
    as ``guide``: (m, c) float32, one row per position of the guide image's blob."""

    blob: str

    @property
    def blobs(self) -> tuple[str, ...]:
        return (self.blob,)

    def __call__(self, acts: Activations, guide: tf.Tensor) -> tf.Tensor:
        a = acts[self.blob]
        x = tf.reshape(a, [-1, tf.shape(a)[-1]])  # (positions, c)
        best = tf.argmax(tf.matmul(x, guide, transpose_b=True), axis=1)
        target = tf.stop_gradient(tf.gather(guide, best))
        return tf.reduce_sum(x * target)

    tile_score = _core_score


@dataclass(frozen=True, eq=False)
class ClassLogit:
    """Mean over positions of class ``index``'s logit, with the classifier (``kernel``:
    (features, classes), ``bias``: (classes,)) applied at every position of ``blob``."""

    blob: str
    index: int
    kernel: np.ndarray
    bias: np.ndarray | None

    @property
    def blobs(self) -> tuple[str, ...]:
        return (self.blob,)

    def __call__(self, acts: Activations, guide: tf.Tensor) -> tf.Tensor:
        a = acts[self.blob]
        logits = tf.tensordot(a, tf.constant(self.kernel[:, self.index]), axes=[[-1], [0]])
        if self.bias is not None:
            logits = logits + float(self.bias[self.index])
        return tf.reduce_mean(logits)

    def tile_score(self, acts: Activations, guide: tf.Tensor, windows: Windows) -> tf.Tensor:
        """The mean over the tile's positions, weighted by their share of the whole blob's."""
        w = windows[self.blob]
        score = _core_score(self, acts, guide, windows)
        units = tf.cast((w.y1 - w.y0) * (w.x1 - w.x0), tf.float32)
        return score * units / tf.cast(w.height * w.width, tf.float32)


@dataclass(frozen=True)
class WeightedSum:
    """sum_k weight_k * objective_k; ``terms`` is a sequence of (objective, weight)."""

    terms: tuple[tuple[object, float], ...]

    @property
    def blobs(self) -> tuple[str, ...]:
        names: list[str] = []
        for objective, _ in self.terms:
            names += [b for b in objective.blobs if b not in names]
        return tuple(names)

    def __call__(self, acts: Activations, guide: tf.Tensor) -> tf.Tensor:
        return tf.add_n([weight * objective(acts, guide) for objective, weight in self.terms])

    def tile_score(self, acts: Activations, guide: tf.Tensor, windows: Windows) -> tf.Tensor:
        return tf.add_n([w * o.tile_score(acts, guide, windows) for o, w in self.terms])


def weighted(objectives: Sequence[object], weights: Sequence[float] | None = None):
    """One objective from several: the objective itself if there is one, else a WeightedSum
    (weights default to 1)."""
    if len(objectives) == 1 and not weights:
        return objectives[0]
    weights = list(weights) if weights else [1.0] * len(objectives)
    return WeightedSum(tuple(zip(objectives, weights, strict=True)))


def class_objective(net: DreamNet, index: int) -> ClassLogit:
    """:class:`ClassLogit` of class ``index`` with the network's last InnerProduct (its
    classifier), applied at every position.

    The classifier's input is followed back through average pooling and dropout (linear, so
    the mean over positions is unchanged) to the blob they start from: for GoogLeNet
    ``inception_5b/output`` instead of ``pool5/drop_7x7_s1``, which is empty below 223x223.
    At the trained size (224x224) the value is the network's own logit."""
    classifiers = [la for la in net.keras_model.layers if isinstance(la, CaffeInnerProduct)]
    if not classifiers:
        raise DeepDreamError("--class needs a model with a classifier (an InnerProduct layer)")
    layer = classifiers[-1]
    if not 0 <= index < layer.units:
        raise DeepDreamError(f"--class {index} is out of range: classes are 0-{layer.units - 1}")
    (source,) = input_blobs(layer)
    while isinstance(net.layer(source), CaffeIdentity) or (
        isinstance(net.layer(source), CaffePooling) and net.layer(source).method == "AVE"
    ):
        (source,) = input_blobs(net.layer(source))
    if net.channels(source) != layer.features:
        raise DeepDreamError(
            f"--class needs the classifier's input '{source}' to have {layer.features} channels"
        )
    kernel, *bias = [w.numpy() for w in layer.weights]
    return ClassLogit(source, index, kernel, bias[0] if bias else None)


def make_objective(
    net: DreamNet,
    layers: Sequence[str] | None = None,
    *,
    weights: Sequence[float] | None = None,
    channels: Sequence[int] | None = None,
    neuron: int | None = None,
    class_index: int | None = None,
    guided: bool = False,
    channel_guide: np.ndarray | None = None,
    top: int = 8,
):
    """The objective for ``deepdream dream``'s options, its names and numbers checked.

    ``layers``: blobs to amplify (default: the model's default layer, else the notebook's),
    weighted by ``weights`` (one per layer); at most one of ``channels`` (those channels),
    ``neuron`` (one channel at the centre), ``class_index`` (a class logit), ``guided``
    (the guide image's features, one layer) or ``channel_guide`` (an (H, W, 3) RGB 0-255
    image: its ``top`` most active channels, one layer). Plain L2 otherwise. Raises
    DeepDreamError for unknown blobs, channels out of range and inconsistent options.
    """
    layers = list(layers or [net.metadata.get("default_layer") or NOTEBOOK.end])
    if weights and len(weights) != len(layers):
        raise DeepDreamError(
            f"{len(weights)} --weights for {len(layers)} --layer; give one per layer"
        )
    counts = {name: net.channels(name) for name in layers}  # raises for unknown names
    chosen = list(channels or ([neuron] if neuron is not None else []))
    for name in layers:
        bad = [c for c in chosen if not 0 <= c < counts[name]]
        if bad:
            raise DeepDreamError(
                f"channel {bad[0]} is out of range for '{name}', which has channels "
                f"0-{counts[name] - 1}"
            )
    if class_index is not None:
        return class_objective(net, class_index)
    if (guided or channel_guide is not None) and len(layers) > 1:
        raise DeepDreamError("--guide and --guide-channels work with one --layer")
    if channel_guide is not None:
        return guide_channels_objective(net, channel_guide, layers[0], top)
    objectives = []
    for name in layers:
        if guided:
            objectives.append(Guided(name))
        elif channels:
            objectives.append(Channels(name, tuple(channels)))
        elif neuron is not None:
            objectives.append(Neuron(name, neuron))
        else:
            objectives.append(L2(name))
    return weighted(objectives, weights)


def guide_channels_objective(net: DreamNet, guide_rgb: np.ndarray, layer: str, top: int):
    """The student project's guided dream: a :class:`~tf_impl.dream.objectives.Channels` objective
    on the ``top`` channels of ``layer`` with the largest mean activation on ``guide_rgb``
    ((H, W, 3) RGB 0-255, at its own size), most active first."""
    chosen = tuple(s.channel for s in image_top_channels(net, guide_rgb, layer, top))
    return Channels(layer, chosen)
