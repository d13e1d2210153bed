"""Test clips whose motion is known exactly, and the coherence measures of a dreamed clip
(issue 19): a window panning across a picture (``dx``, ``dy`` pixels per frame) or zooming
into its centre (``factor`` per frame), written as a folder of PNG frames (lossless, so the
input frames follow the motion exactly); the temporal warping error of an output,
mean |O_t - warp(O_{t-1})| over the pixels the true motion keeps visible, and the dream
strength mean |O_t - I_t|, both in 0-255 units. Used by ``benchmarks/video.py`` and the
tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tf_impl.images.files import load_rgb, save_rgb


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A procedural picture with structure at several scales: (H, W, 3) uint8 RGB (for
    where the sample photos are absent)."""
    rng = np.random.default_rng(seed)
    picture = np.zeros((height, width, 3), np.float32)
    for sigma, weight in ((1.5, 0.3), (5.0, 1.0), (15.0, 1.5)):
        noise = rng.standard_normal((height, width, 3)).astype(np.float32)
        blurred = cv2.GaussianBlur(noise, (0, 0), sigma)
        picture += weight * blurred / blurred.std()
    picture = (picture - picture.mean()) / picture.std()
    return np.clip(128 + 45 * picture, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Pan:
    """A window moving ``dx`` pixels right and ``dy`` down per frame."""

    dx: int = 3
    dy: int = 1

    def frame(self, picture: np.ndarray, index: int, height: int, width: int) -> np.ndarray:
        """Frame ``index``: the (height, width) window at (dy, dx) * index."""
        top, left = self.dy * index, self.dx * index
        if top + height > picture.shape[0] or left + width > picture.shape[1]:
            raise ValueError(f"frame {index} leaves the {picture.shape[:2]} picture")
        return picture[top : top + height, left : left + width]

    def warp(self, previous: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the previous frame moved to the current one, (H, W) bool: pixels it covers)."""
        height, width = previous.shape[:2]
        warped = np.zeros_like(previous)
        warped[: height - self.dy, : width - self.dx] = previous[self.dy :, self.dx :]
        valid = np.zeros((height, width), bool)
        valid[: height - self.dy, : width - self.dx] = True
        return warped, valid


@dataclass(frozen=True)
class Zoom:
    """A zoom into the picture's centre by ``factor`` per frame (frame 0: the centre crop at
    the picture's scale)."""

    factor: float = 1.02

    def frame(self, picture: np.ndarray, index: int, height: int, width: int) -> np.ndarray:
        """Frame ``index``: the centre, magnified ``factor ** index`` (bilinear)."""
        scale = self.factor**-index  # picture pixels per frame pixel
        cy, cx = (picture.shape[0] - 1) / 2, (picture.shape[1] - 1) / 2
        fy, fx = (height - 1) / 2, (width - 1) / 2
        matrix = np.array([[scale, 0, cx - scale * fx], [0, scale, cy - scale * fy]])
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        return cv2.warpAffine(picture, matrix, (width, height), flags=flags)

    def warp(self, previous: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the previous frame magnified about the centre, all pixels but a 1 px border)."""
        height, width = previous.shape[:2]
        fy, fx = (height - 1) / 2, (width - 1) / 2
        grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
        map_x = fx + (grid_x - fx) / self.factor
        map_y = fy + (grid_y - fy) / self.factor
        warped = cv2.remap(previous.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR)
        valid = np.zeros((height, width), bool)
        valid[1:-1, 1:-1] = True
        return warped, valid


def write_clip(
    folder: Path, picture: np.ndarray, motion: Pan | Zoom, frames: int, height: int, width: int
) -> Path:
    """Write ``frames`` frames of ``motion`` over ``picture`` as folder/frame_NNNN.png."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(frames):
        save_rgb(folder / f"frame_{index:04d}.png", motion.frame(picture, index, height, width))
    return folder


def _frames(folder: Path) -> list[Path]:
    return sorted(folder.glob("frame_*.png"))


def warping_error(outputs: Path, motion: Pan | Zoom) -> float:
    """Mean over frames t >= 1 of mean |O_t - warp(O_{t-1})| (0-255) over the pixels the
    true motion keeps visible; ``outputs``: a folder of the dreamed frames."""
    errors, previous = [], None
    for path in _frames(outputs):
        current = load_rgb(path, quiet=True).astype(np.float32)
        if previous is not None:
            warped, valid = motion.warp(previous)
            errors.append(float(np.abs(current - warped)[valid].mean()))
        previous = current
    return float(np.mean(errors))


def dream_strength(outputs: Path, inputs: Path) -> float:
    """Mean over frames of mean |O_t - I_t| (0-255): how strong the dream is."""
    pairs = zip(_frames(outputs), _frames(inputs), strict=True)
    return float(
        np.mean(
            [
                np.abs(load_rgb(o, quiet=True).astype(np.float32) - load_rgb(i, quiet=True)).mean()
                for o, i in pairs
            ]
        )
    )
