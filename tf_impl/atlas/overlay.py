"""A picture of which channels an image excites: the image with each top channel's activation
map laid over it, beside that channel's atlas picture when there is one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from tf_impl.atlas.atlas_dir import AtlasDir
from tf_impl.atlas.contact_sheet import labelled_grid
from tf_impl.net.channel_stats import ChannelStat

TILE = 240


def activation_overlay(rgb: np.ndarray, activation: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: ``rgb`` (uint8 RGB) lit by one channel's (h, w) activation map: the
    map is stretched to 0-1 between its minimum and maximum, resized to the image (bilinear),
    and each pixel keeps 20 % + 80 % x map of its brightness, so the image shows through
    where the channel is strong and fades to dark where it is weak."""
    low, high = float(activation.min()), float(activation.max())
    unit = (activation - low) / (high - low) if high > low else np.zeros_like(activation)
    height, width = rgb.shape[:2]
    heat = Image.fromarray(unit.astype(np.float32), "F").resize((width, height), Image.BILINEAR)
    light = 0.2 + 0.8 * np.asarray(heat, np.float32)[..., None]
    out = rgb.astype(np.float32) * light
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def overlay_sheet(
    rgb: np.ndarray,
    activations: np.ndarray,
    top: Sequence[ChannelStat],
    *,
    title: str,
    warning: str | None,
    atlas_dir: str | Path | None = None,
    blob: str | None = None,
) -> Image.Image:
    """One row per top channel: the overlay, and the channel's atlas picture when
    ``atlas_dir`` holds one for ``blob``. ``activations``: (h, w, c) of the image."""
    atlas = AtlasDir(Path(atlas_dir)) if atlas_dir else None
    tiles = []
    for rank, stat in enumerate(top, start=1):
        caption = f"#{rank} channel {stat.channel}: mean {stat.mean:.3g}, max {stat.max:.3g}"
        tiles.append((activation_overlay(rgb, activations[..., stat.channel]), caption))
        if atlas is not None:
            png = atlas.channel_png(blob, stat.channel)
            if png.is_file():
                tiles.append((Image.open(png), f"atlas: channel {stat.channel}"))
            else:
                tiles.append((np.full((8, 8, 3), 235, np.uint8), "(not in the atlas)"))
    columns = 2 if atlas is not None else min(4, len(tiles))
    return labelled_grid(tiles, tile_size=TILE, columns=columns, title=[title], warning=warning)
