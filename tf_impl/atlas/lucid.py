"""What one channel responds to, Lucid's way: a picture parameterised in a decorrelated Fourier
basis (:mod:`tf_impl.atlas.fourier`), optimised with Adam for a few hundred steps to maximise
(or, for a negative, minimise) the channel's mean activation, through a random transformation
before every step so that the picture must excite the channel robustly.

One step, for a batch of coefficients (each batch element its own channel, direction and
diversity variant): coefficients -> RGB 0-255 -> the network's input (e.g. BGR minus the mean)
-> padded by ``pad`` pixels of value 0 (the mean colour) -> cropped at a random offset within
+-``jitter`` -> scaled by a random factor in 1 +- ``scale`` and rotated by a random angle in
+-``rotation`` degrees (one bilinear resampling) -> the blob -> the objective: per element,
its direction times its channel's mean activation, less ``diversity_weight`` times the mean
|activation| of the channel's pictures times their mean pairwise cosine similarity of Gram
matrices (when ``diversity`` > 1) -> its gradient -> one Adam ascent step.

Deterministic for a seed: each picture starts from coefficients seeded by (seed, channel,
direction, variant); the transformations come from ``seed`` alone, the same for the whole
batch; Adam works elementwise. A picture therefore depends only on the seed, the settings and
the channels batched with it, as with the notebook's renderer (:func:`channel_groups`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np
import tensorflow as tf

from tf_impl.atlas.fourier import FourierImage
from tf_impl.atlas.render_settings import LucidSettings
from tf_impl.net.channel_source import (
    ChannelReader,
    ChannelSource,
    channel_reader,
    channel_source,
)
from tf_impl.net.network import DreamNet

ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8


def affine_resample(images: tf.Tensor, scale: tf.Tensor, angle: tf.Tensor, side: int) -> tf.Tensor:
    """(N, H, W, C) images scaled by ``scale`` and rotated by ``angle`` (radians) about their
    centre, bilinearly, into (N, side, side, C) centred on the same point; outside the input,
    0. Differentiable in ``images``."""
    height, width = images.shape[1], images.shape[2]
    centre = (tf.range(side, dtype=tf.float32) - tf.cast(side - 1, tf.float32) / 2.0) / scale
    oy, ox = tf.meshgrid(centre, centre, indexing="ij")
    cos, sin = tf.cos(angle), tf.sin(angle)
    y = cos * oy - sin * ox + (height - 1) / 2.0
    x = sin * oy + cos * ox + (width - 1) / 2.0
    y0, x0 = tf.floor(y), tf.floor(x)
    flat = tf.reshape(images, [tf.shape(images)[0], height * width, images.shape[3]])
    result = 0.0
    for dy in (0.0, 1.0):
        for dx in (0.0, 1.0):
            yy, xx = y0 + dy, x0 + dx
            weight = (1.0 - tf.abs(y - yy)) * (1.0 - tf.abs(x - xx))
            inside = (yy >= 0) & (yy <= height - 1) & (xx >= 0) & (xx <= width - 1)
            weight = tf.where(inside, weight, 0.0)
            index = tf.cast(
                tf.clip_by_value(yy, 0, height - 1) * width + tf.clip_by_value(xx, 0, width - 1),
                tf.int32,
            )
            picked = tf.gather(flat, tf.reshape(index, [-1]), axis=1)
            result += picked * tf.reshape(weight, [1, -1, 1])
    return tf.reshape(result, [-1, side, side, images.shape[3]])


class LucidRenderer:
    """Renders channels of one blob with given settings; one compiled Adam step per branch the
    channels come from, traced once per batch size.

    ``whole_blob``: False (the default) runs only the Concat input that computes a group's
    channels (:func:`~tf_impl.net.channel_source.channel_source`), and of its last convolution
    only the channels asked for (:func:`~tf_impl.net.channel_source.channel_reader`): the same
    pictures but for float32 rounding, faster; unless the diversity term needs every
    channel's Gram matrix. True always runs the whole blob (what that must equal; the
    benchmark's baseline)."""

    def __init__(
        self, net: DreamNet, settings: LucidSettings, layer: str, whole_blob: bool = False
    ):
        self.net = net
        self.layer = layer
        self.settings = settings
        self.param = FourierImage(settings.size, settings.decay)
        self._model = net.submodel([layer])
        self._feed_side = settings.size + 2 * settings.pad - 2 * settings.jitter
        self.whole_blob = whole_blob or self._diverse()
        self._steps: dict[str, Callable] = {}

    def _diverse(self) -> bool:
        """Whether the objective has the diversity term (which reads every channel)."""
        return self.settings.diversity > 1 and self.settings.diversity_weight != 0

    def compiled_step(self, channels: list[int]) -> tuple[Callable, list[int]]:
        """(step, channels as indices into the blob it reads) for a group of ``channels``:
        ``step(coefficients, first, second, t, channels, signs, offset, scale, angle)`` is
        one Adam step, returning the new (coefficients, first, second)."""
        source = ChannelSource(self.layer, 0)
        if not self.whole_blob:
            source = channel_source(self.net, self.layer, channels)
        if source.blob not in self._steps:
            if self.whole_blob:
                step = partial(self._step, self._model, None)
            else:
                elements = self.settings.batch * len(self.settings.pictures())
                step = partial(self._step, None, channel_reader(self.net, source.blob, elements))
            self._steps[source.blob] = tf.function(step)
        return self._steps[source.blob], [c - source.offset for c in channels]

    def transformed(self, rgb: tf.Tensor, offset, scale, angle) -> tf.Tensor:
        """The step's random view of (N, S, S, 3) RGB 0-255 pictures, as network input: padded,
        cropped at ``offset`` (dy, dx in 0 .. 2 jitter), scaled by ``scale`` and rotated by
        ``angle`` radians."""
        s = self.settings
        net_input = self.net.preprocess_tensor(rgb)
        padded = tf.pad(net_input, [[0, 0], [s.pad, s.pad], [s.pad, s.pad], [0, 0]])
        side = self._feed_side
        cropped = tf.slice(padded, [0, offset[0], offset[1], 0], [-1, side, side, 3])
        out_side = tf.cast(tf.round(side * scale), tf.int32)
        return affine_resample(cropped, scale, angle, out_side)

    def activations(self, rgb: tf.Tensor) -> tf.Tensor:
        """(N, h, w, C) float32 blob activations of (N, H, W, 3) RGB 0-255 pictures."""
        return tf.cast(self._model(self.net.preprocess_tensor(rgb), training=False), tf.float32)

    def _objective(self, view, model, read: ChannelReader | None, channels, signs):
        """The step's objective on a batch of network-input views, each element's channel's
        mean activation times its sign (less the diversity term): through the whole blob's
        ``model``, or through ``read`` (the channels alone; no diversity term then)."""
        if read is not None:
            columns = tf.cast(read(view, channels), tf.float32)  # (N, h, w, N)
            return tf.reduce_sum(signs * tf.linalg.diag_part(tf.reduce_mean(columns, [1, 2])))
        acts = tf.cast(model(view, training=False), tf.float32)
        n_channels = int(acts.shape[-1])
        means = tf.reduce_sum(
            tf.reduce_mean(acts, axis=[1, 2]) * tf.one_hot(channels, n_channels), axis=1
        )
        score = tf.reduce_sum(signs * means)
        if not self._diverse():
            return score
        n = self.settings.diversity
        flat = tf.reshape(acts, [tf.shape(acts)[0], -1, n_channels])
        grams = tf.linalg.matmul(flat, flat, transpose_a=True) / tf.cast(
            tf.shape(flat)[1], tf.float32
        )
        grams = tf.math.l2_normalize(tf.reshape(grams, [-1, n, n_channels**2]), axis=-1)
        similarity = tf.linalg.matmul(grams, grams, transpose_b=True)  # (groups, n, n)
        pairs = (tf.reduce_sum(similarity, axis=[1, 2]) - n) / (n * (n - 1))
        size = tf.stop_gradient(tf.reduce_mean(tf.reshape(tf.abs(means), [-1, n]), axis=1))
        return score - self.settings.diversity_weight * tf.reduce_sum(size * pairs)

    def _step(
        self, model, read, coefficients, first, second, t, channels, signs, offset, scale, angle
    ):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(coefficients)
            view = self.transformed(self.param.to_rgb(coefficients), offset, scale, angle)
            objective = self._objective(view, model, read, channels, signs)
        grad = tape.gradient(objective, coefficients)
        b1, b2 = ADAM_BETAS
        first = b1 * first + (1 - b1) * grad
        second = b2 * second + (1 - b2) * tf.square(grad)
        unbiased = (first / (1 - b1**t)) / (tf.sqrt(second / (1 - b2**t)) + ADAM_EPSILON)
        return coefficients + self.settings.learning_rate * unbiased, first, second

    def elements(self, channels: list[int]) -> list[tuple[int, int, int]]:
        """(channel, direction, variant) of each batch element, in :meth:`pictures` order."""
        s = self.settings
        return [(c, d, v) for c in channels for d in s.directions() for v in range(s.diversity)]

    def start(self, channels: list[int]) -> np.ndarray:
        """The seeded starting coefficients of every batch element of ``channels``."""
        s = self.settings
        shape = self.param.shape(1)[1:]
        starts = [
            np.random.RandomState([s.seed, c, 1 if d > 0 else 2, v]).normal(0, s.init_std, shape)
            for c, d, v in self.elements(channels)
        ]
        return np.asarray(starts, np.float32)

    def transforms(self) -> list[tuple[np.ndarray, float, float]]:
        """Per step: the crop offset (dy, dx), the scale factor and the angle (radians)."""
        s = self.settings
        rng = np.random.RandomState(s.seed)
        return [
            (
                rng.randint(0, 2 * s.jitter + 1, 2).astype(np.int32),
                float(np.float32(1 + rng.uniform(-s.scale, s.scale))),
                float(np.float32(math.radians(rng.uniform(-s.rotation, s.rotation)))),
            )
            for _ in range(s.steps)
        ]

    def render_rgb(self, channels: list[int]) -> tf.Tensor:
        """(E, S, S, 3) float32 RGB 0-255 of every batch element of ``channels``
        (:meth:`elements` order)."""
        elements = self.elements(channels)
        coefficients = tf.constant(self.start(channels))
        first = tf.zeros_like(coefficients)
        second = tf.zeros_like(coefficients)
        step, read = self.compiled_step(channels)
        local = dict(zip(channels, read, strict=True))
        channel_t = tf.constant([local[c] for c, _, _ in elements], tf.int32)
        signs = tf.constant([float(d) for _, d, _ in elements], tf.float32)
        for t, (offset, scale, angle) in enumerate(self.transforms(), start=1):
            coefficients, first, second = step(
                coefficients, first, second, tf.constant(float(t)), channel_t, signs,
                tf.constant(offset), tf.constant(scale), tf.constant(angle),
            )  # fmt: skip
        return self.param.to_rgb(coefficients)

    def pictures(self, channels: list[int]) -> dict[int, dict[str, np.ndarray]]:
        """{channel: {file suffix (LucidSettings.pictures): (S, S, 3) uint8 RGB}}."""
        rgb = np.round(self.render_rgb(channels).numpy()).astype(np.uint8)
        suffixes = self.settings.pictures()
        found: dict[int, dict[str, np.ndarray]] = {c: {} for c in channels}
        for index, (channel, _, _) in enumerate(self.elements(channels)):
            found[channel][suffixes[index % len(suffixes)]] = rgb[index]
        return found
