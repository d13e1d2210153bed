"""Which parts of a folder of images excite each channel most: for every channel, the images
with the highest activation anywhere, and the receptive-field crop around that position."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from conversion.errors import DeepDreamError
from tf_impl.images.files import load_rgb, resize_rgb
from tf_impl.net.network import DreamNet
from tf_impl.net.receptive_field import receptive_field
from tf_impl.net.shapes import blob_shapes, is_empty

IMAGE_SIDE = 320  # images are scaled so that their longer side is at most this (pixels)


@dataclass(frozen=True)
class Crop:
    """One image's strongest response for a channel: its activation, the image it came from
    and the (top, left, bottom, right) receptive-field box in that (scaled) image."""

    value: float
    image: int
    box: tuple[int, int, int, int]


def load_image_folder(folder: str | Path) -> list[tuple[str, np.ndarray]]:
    """[(file name, (H, W, 3) uint8 RGB scaled to IMAGE_SIDE)] of the readable images in
    ``folder``, sorted by name; unreadable files are skipped with a warning line. Raises
    DeepDreamError when the folder is missing or holds no readable image."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DeepDreamError(f"--images {folder}: no such directory")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise DeepDreamError(f"--images {folder}: the folder is empty; add some images to it")
    images = []
    for path in files:
        try:
            rgb = load_rgb(path, quiet=True)
        except DeepDreamError as exc:
            print(f"warning: skipped {exc}", file=sys.stderr)
            continue
        images.append((path.name, _fit(rgb)))
    if not images:
        raise DeepDreamError(f"--images {folder}: no image Pillow can read in it")
    return images


def _fit(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = IMAGE_SIDE / max(height, width)
    if scale >= 1:
        return rgb
    return resize_rgb(rgb, max(1, round(height * scale)), max(1, round(width * scale)))


def strongest_crops(
    net: DreamNet, images: Sequence[tuple[str, np.ndarray]], blobs: Sequence[str], top: int = 6
) -> dict[str, list[list[Crop]]]:
    """{blob: per channel, up to ``top`` Crops (one per image, strongest first)}. Images too
    small for a blob are left out of that blob's ranking with a warning line."""
    fields = {blob: receptive_field(net, blob) for blob in blobs}
    found: dict[str, list[list[Crop]]] = {b: [[] for _ in range(net.channels(b))] for b in blobs}
    for index, (name, rgb) in enumerate(images):
        height, width = rgb.shape[:2]
        shapes = blob_shapes(net, height, width)
        usable = [b for b in blobs if not is_empty(shapes[b])]
        if len(usable) < len(blobs):
            print(f"warning: {name} is too small for some blobs; left out of them", file=sys.stderr)
        if not usable:
            continue
        acts = net.blobs(net.preprocess(rgb), usable)
        for blob in usable:
            flat = acts[blob].reshape(-1, acts[blob].shape[-1])  # (positions, c)
            best = flat.argmax(axis=0)
            blob_width = acts[blob].shape[1]
            for channel, position in enumerate(best):
                y, x = divmod(int(position), blob_width)
                box = fields[blob].box(y, x, height, width)
                found[blob][channel].append(Crop(float(flat[position, channel]), index, box))
    for per_channel in found.values():
        for index, crops in enumerate(per_channel):
            per_channel[index] = sorted(crops, key=lambda c: (-c.value, c.image))[:top]
    return found


def crop_image(rgb: np.ndarray, crop: Crop, side: int = 96) -> np.ndarray:
    """The crop's box of an (H, W, 3) uint8 image, scaled to ``side`` pixels on its longer
    side (aspect kept)."""
    top, left, bottom, right = crop.box
    piece = Image.fromarray(np.ascontiguousarray(rgb[top:bottom, left:right]))
    scale = side / max(piece.size)
    size = (max(1, round(piece.width * scale)), max(1, round(piece.height * scale)))
    return np.asarray(piece.resize(size, Image.Resampling.LANCZOS))
