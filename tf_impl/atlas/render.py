"""What one channel responds to: a picture dreamed from seeded noise, as the TF1 DeepDream
notebook's feature renderer (``render_lapnorm``) makes it, several channels per batch.

For each channel: start from grey plus uniform noise (RGB 0-255, seeded by the channel), then
for each octave (the image growing by ``octave_scale`` between octaves) take ``steps`` gradient
ascent steps on the channel's mean activation over all positions: roll the batch by a random
shift, forward, gradient, Laplacian-normalise it (per batch element), add ``step_size`` times
it, roll back. No clipping while dreaming; the result is shown as the notebook's ``visstd``:
``(x - mean) / std * contrast + 0.5`` on 0-1, per image, then 8-bit.

Each batch element ascends its own channel (the score is the sum over elements of each one's
channel mean, so each element's gradient is its own channel's). The random shifts come from
``seed`` alone and are the same for every channel, so a channel's picture depends only on the
seed, the settings and the channels batched with it (:func:`channel_groups` fixes those).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import tensorflow as tf

from tf_impl.atlas.render_settings import RenderSettings
from tf_impl.dream.step import StepRule
from tf_impl.net.channel_source import (
    ChannelReader,
    ChannelSource,
    blob_reader,
    channel_reader,
    channel_source,
)
from tf_impl.net.network import DreamNet


def channel_groups(channels: list[int], batch: int) -> dict[int, tuple[int, ...]]:
    """{group: channels} of the requested ``channels``; group g holds the blob's channels
    g*batch .. g*batch + batch - 1. A group is always rendered whole (see ChannelRenderer)."""
    groups: dict[int, list[int]] = {}
    for channel in channels:
        groups.setdefault(channel // batch, []).append(channel)
    return {g: tuple(members) for g, members in sorted(groups.items())}


class ChannelRenderer:
    """Renders channels of one blob with given settings; one compiled step (dynamic batch and
    size) per branch the channels come from, traced once.

    ``whole_blob``: False (the default) runs only the Concat input that computes a group's
    channels (:func:`~tf_impl.net.channel_source.channel_source`), and of its last convolution
    only the group's channels (:func:`~tf_impl.net.channel_source.channel_reader`): the same
    pictures but for float32 rounding, faster; True always runs the whole blob (what that
    must equal; the benchmark's baseline)."""

    def __init__(
        self, net: DreamNet, settings: RenderSettings, layer: str, whole_blob: bool = False
    ):
        net.layer(layer)  # raises DeepDreamError for an unknown blob, suggesting close names
        self.net = net
        self.layer = layer
        self.settings = settings
        self.whole_blob = whole_blob
        self._rule = StepRule.of(net, settings.lapnorm)
        self._steps: dict[str, Callable] = {}

    def compiled_step(self, channels: list[int]) -> tuple[Callable, list[int]]:
        """(step, channels as indices into the blob it reads) for a group of ``channels``:
        ``step(images, channels, shift)`` is one ascent step (the dream's
        :class:`~tf_impl.dream.step.StepRule`, unclipped) of a batch (N, H, W, 3) of
        network-input images, element i ascending channel i's mean; shift: the (dy, dx) roll."""
        source = ChannelSource(self.layer, 0)
        if not self.whole_blob:
            source = channel_source(self.net, self.layer, channels)
        if source.blob not in self._steps:
            if self.whole_blob:
                read = blob_reader(self.net, source.blob)
            else:
                read = channel_reader(self.net, source.blob, self.settings.batch)
            self._steps[source.blob] = tf.function(
                partial(self._step, read),
                input_signature=[
                    tf.TensorSpec([None, None, None, 3], tf.float32, name="images"),
                    tf.TensorSpec([None], tf.int32, name="channels"),
                    tf.TensorSpec([2], tf.int32, name="shift"),
                ],
            )
        return self._steps[source.blob], [c - source.offset for c in channels]

    def _step(self, read: ChannelReader, images, channels, shift):
        def gradient(shifted):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(shifted)
                columns = read(shifted, channels)  # (N, h, w, N): column i is channels[i]
                score = tf.reduce_sum(tf.linalg.diag_part(tf.reduce_mean(columns, axis=[1, 2])))
            return tape.gradient(score, shifted)

        return self._rule.step(images, shift, gradient, self.settings.step_size, clip=None)

    def start_images(self, channels: list[int]) -> np.ndarray:
        """(N, size, size, 3) RGB 0-255 float32: grey plus each channel's seeded noise."""
        s = self.settings
        starts = [
            np.random.RandomState([s.seed, c]).uniform(-s.noise, s.noise, (s.size, s.size, 3))
            for c in channels
        ]
        return (np.asarray(starts) + s.grey).astype(np.float32)

    def shifts(self) -> list[list[np.ndarray]]:
        """Per octave, per step: the (dy, dx) roll, uniform over the octave's image side."""
        rng = np.random.RandomState(self.settings.seed)
        return [
            [rng.randint(0, side, 2).astype(np.int32) for _ in range(self.settings.steps)]
            for side in self.settings.sizes()
        ]

    def render(self, channels: list[int]) -> np.ndarray:
        """(N, S, S, 3) uint8 RGB pictures of ``channels`` (S: the last octave's side)."""
        images = tf.constant(self.net.preprocess(self.start_images(channels)))
        step, read = self.compiled_step(channels)
        channel_t = tf.constant(read, tf.int32)
        for side, octave_shifts in zip(self.settings.sizes(), self.shifts(), strict=True):
            if images.shape[1] != side:
                images = tf.image.resize(images, (side, side), method="bilinear")
            for shift in octave_shifts:
                images = step(images, channel_t, tf.constant(shift))
        return visstd(self.net.deprocess(images.numpy()), self.settings.contrast)

    def pictures(self, channels: list[int]) -> dict[int, dict[str, np.ndarray]]:
        """{channel: {"": (S, S, 3) uint8 RGB}}: :meth:`render` keyed as the atlas stores it."""
        return {
            c: {"": picture} for c, picture in zip(channels, self.render(channels), strict=True)
        }


def visstd(images: np.ndarray, contrast: float = 0.1) -> np.ndarray:
    """The notebook's display normalisation per image: (N, H, W, 3) float -> uint8,
    ``clip((x - mean) / max(std, 1e-4) * contrast + 0.5, 0, 1) * 255`` rounded."""
    mean = images.mean(axis=(1, 2, 3), keepdims=True)
    std = np.maximum(images.std(axis=(1, 2, 3), keepdims=True), 1e-4)
    unit = np.clip((images - mean) / std * contrast + 0.5, 0.0, 1.0)
    return np.round(unit * 255.0).astype(np.uint8)
