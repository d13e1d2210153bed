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

:func:`make_objective` builds one from the options the ``deepdream dream`` command offers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from conversion.errors import DeepDreamError
from tf_impl.caffe_layers import CaffeInnerProduct
from tf_impl.network import DreamNet, input_blobs
from tf_impl.settings import NOTEBOOK

Activations = Mapping[str, tf.Tensor]


@dataclass(frozen=True)
class L2:
    """0.5 * sum(a^2) over blob ``blob``: its gradient is the activations themselves."""

    blob: str

    @property
    def blobs(self) -> tuple[str, ...]:
        return (self.blob,)

    def __call__(self, acts: Activations, guide: tf.Tensor) -> tf.Tensor:
        return 0.5 * tf.reduce_sum(tf.square(acts[self.blob]))


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


def weighted(objectives: Sequence[object], weights: Sequence[float] | None = None):
    """One objective from several: the objective itself if there is one, else a WeightedSum
    (weights default to 1)."""
    if len(objectives) == 1 and not weights:
        return objectives[0]
    weights = list(weights) if weights else [1.0] * len(objectives)
    return WeightedSum(tuple(zip(objectives, weights, strict=True)))


def class_objective(net: DreamNet, index: int) -> ClassLogit:
    """:class:`ClassLogit` of class ``index`` with the network's last InnerProduct (its
    classifier), applied at every position of that layer's input blob."""
    classifiers = [la for la in net.keras_model.layers if isinstance(la, CaffeInnerProduct)]
    if not classifiers:
        raise DeepDreamError("--class needs a model with a classifier (an InnerProduct layer)")
    layer = classifiers[-1]
    if not 0 <= index < layer.units:
        raise DeepDreamError(f"--class {index} is out of range: classes are 0-{layer.units - 1}")
    (source,) = input_blobs(layer)
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
):
    """The objective for ``deepdream dream``'s options, its names and numbers checked.

    ``layers``: blobs to amplify (default: the model's default layer, else the notebook's),
    weighted by ``weights`` (one per layer); at most one of ``channels`` (those channels),
    ``neuron`` (one channel at the centre), ``class_index`` (a class logit) or ``guided``
    (the guide image's features, one layer). Plain L2 otherwise. Raises DeepDreamError for
    unknown blobs, channels out of range and inconsistent options.
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
    if guided and len(layers) > 1:
        raise DeepDreamError("--guide works with one --layer")
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
