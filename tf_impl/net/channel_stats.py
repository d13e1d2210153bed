"""Which channels of a blob an image excites: per-channel mean and max activation, top K."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conversion.errors import DeepDreamError
from tf_impl.net.network import DreamNet
from tf_impl.net.shapes import blob_shapes, is_empty


@dataclass(frozen=True)
class ChannelStat:
    """One channel's activation over all positions of a blob (the blob's own units)."""

    channel: int
    mean: float
    max: float


def check_spatial_blob(net: DreamNet, layer: str, height: int, width: int) -> int:
    """Raise DeepDreamError unless ``layer`` is a known (h, w, c) blob that is not empty at an
    input of ``height`` x ``width``; return its channel count."""
    channels = net.channels(layer)  # raises for unknown names, with suggestions
    shape = blob_shapes(net, height, width)[layer]
    if len(shape) != 3:
        raise DeepDreamError(
            f"'{layer}' has no spatial positions (a fully connected or classifier output, "
            "after global pooling); choose a convolutional blob"
        )
    if is_empty(shape):
        raise DeepDreamError(
            f"'{layer}' is empty for a {height}x{width} image; use a larger image or an "
            "earlier blob"
        )
    return channels


def blob_activations(net: DreamNet, rgb: np.ndarray, layer: str) -> np.ndarray:
    """(h, w, c) float32 activations of ``layer`` for an (H, W, 3) RGB 0-255 image."""
    check_spatial_blob(net, layer, *np.shape(rgb)[:2])
    return net.blobs(net.preprocess(rgb), [layer])[layer]


def channel_stats(activations: np.ndarray) -> list[ChannelStat]:
    """Mean and max over positions of each channel of (h, w, c) activations, channel order."""
    means = activations.mean(axis=(0, 1), dtype=np.float64)
    maxes = activations.max(axis=(0, 1))
    pairs = enumerate(zip(means, maxes, strict=True))
    return [ChannelStat(c, float(m), float(x)) for c, (m, x) in pairs]


def top_channels(stats: list[ChannelStat], k: int, by: str = "mean") -> list[ChannelStat]:
    """The ``k`` channels with the largest ``by`` ('mean' or 'max'), largest first; ties go to
    the lower channel number."""
    if not 1 <= k <= len(stats):
        raise DeepDreamError(f"--top must be between 1 and {len(stats)} (got {k})")
    return sorted(stats, key=lambda s: (-getattr(s, by), s.channel))[:k]


def image_top_channels(
    net: DreamNet, rgb: np.ndarray, layer: str, k: int, by: str = "mean"
) -> list[ChannelStat]:
    """The ``k`` channels of ``layer`` most active on an RGB 0-255 image (at its own size)."""
    return top_channels(channel_stats(blob_activations(net, rgb, layer)), k, by)
