"""Which parts of a set of images excite each channel most: for every channel, the images
with the highest activation anywhere, the receptive-field crop around that position, and the
channel's activation statistics over the set. The set is a folder (``--images``) or the
built-in photographs (:func:`builtin_images`: scikit-image's sample photographs and the
project's sample photo)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from conversion.errors import DeepDreamError
from tf_impl.images.files import load_rgb, resize_rgb
from tf_impl.images.sample import sample_image_path
from tf_impl.net.network import DreamNet
from tf_impl.net.receptive_field import receptive_field
from tf_impl.net.shapes import blob_shapes, is_empty

IMAGE_SIDE = 320  # images are scaled so that their longer side is at most this (pixels)
BUILTIN_PHOTOS = (
    "astronaut", "brick", "camera", "chelsea", "coffee", "coins", "grass", "gravel",
    "hubble_deep_field", "immunohistochemistry", "moon", "retina", "rocket",
)  # fmt: skip
"""The photographs of ``skimage.data`` (scikit-image, the ``examples`` extra) used as the
built-in image set; the grey ones are repeated into RGB."""


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


def builtin_images() -> list[tuple[str, np.ndarray]]:
    """[(name, (H, W, 3) uint8 RGB scaled to IMAGE_SIDE)]: :data:`BUILTIN_PHOTOS` and the
    sample photo (:func:`tf_impl.images.sample.sample_image_path`). Raises DeepDreamError
    when scikit-image or matplotlib is missing, naming the extra that installs them."""
    try:
        from skimage import data  # optional: the `examples` extra
    except ImportError:
        raise DeepDreamError(
            "the built-in dataset examples come with scikit-image: pip install "
            "'deepdream-tf2[examples]' (make install does), or give --images DIR"
        ) from None
    images = []
    for name in BUILTIN_PHOTOS:
        pixels = np.asarray(getattr(data, name)(), np.uint8)
        rgb = np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels[..., :3]
        images.append((f"{name}.png", _fit(rgb)))
    path = sample_image_path()
    images.append((path.name, _fit(load_rgb(path, quiet=True))))
    return images


def _fit(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = IMAGE_SIDE / max(height, width)
    if scale >= 1:
        return rgb
    return resize_rgb(rgb, max(1, round(height * scale)), max(1, round(width * scale)))


@dataclass(frozen=True)
class ChannelExamples:
    """One channel over an image set: its strongest Crops (one per image, strongest first)
    and its activation's mean, maximum and fraction of positive values over every position
    of every image (the blob's own units)."""

    crops: tuple[Crop, ...]
    mean: float
    max: float
    positive: float


def dataset_examples(
    net: DreamNet, images: Sequence[tuple[str, np.ndarray]], blobs: Sequence[str], top: int = 6
) -> dict[str, list[ChannelExamples]]:
    """{blob: per channel, its ChannelExamples with up to ``top`` crops} over ``images``
    ([(name, (H, W, 3) uint8 RGB)]). Images too small for a blob are left out of that blob
    with a warning line."""
    fields = {blob: receptive_field(net, blob) for blob in blobs}
    found: dict[str, list[list[Crop]]] = {b: [[] for _ in range(net.channels(b))] for b in blobs}
    totals = {b: np.zeros((3, net.channels(b))) for b in blobs}  # sum, positives, count
    peaks = {b: np.full(net.channels(b), -np.inf) for b in blobs}
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
            totals[blob] += np.stack(
                [
                    flat.sum(axis=0, dtype=np.float64),
                    (flat > 0).sum(axis=0),
                    np.full(flat.shape[1], len(flat)),
                ]
            )
            peaks[blob] = np.maximum(peaks[blob], flat.max(axis=0))
            best = flat.argmax(axis=0)
            blob_width = acts[blob].shape[1]
            for channel, position in enumerate(best):
                y, x = divmod(int(position), blob_width)
                box = fields[blob].box(y, x, height, width)
                found[blob][channel].append(Crop(float(flat[position, channel]), index, box))
    examples = {}
    for blob, per_channel in found.items():
        total, positive, count = totals[blob]
        count = np.maximum(count, 1)
        examples[blob] = [
            ChannelExamples(
                tuple(sorted(crops, key=lambda c: (-c.value, c.image))[:top]),
                float(total[c] / count[c]),
                float(peaks[blob][c]),
                float(positive[c] / count[c]),
            )
            for c, crops in enumerate(per_channel)
        ]
    return examples


def crop_image(rgb: np.ndarray, crop: Crop, side: int = 96) -> np.ndarray:
    """The crop's box of an (H, W, 3) uint8 image, scaled to ``side`` pixels on its longer
    side (aspect kept)."""
    top, left, bottom, right = crop.box
    piece = Image.fromarray(np.ascontiguousarray(rgb[top:bottom, left:right]))
    scale = side / max(piece.size)
    size = (max(1, round(piece.width * scale)), max(1, round(piece.height * scale)))
    return np.asarray(piece.resize(size, Image.Resampling.LANCZOS))
