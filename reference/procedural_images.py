"""Procedural test images the project may ship: colour gradients and shapes, with a grain.

Made with additions, multiplications and comparisons, plus a grain of +-``GRAIN`` levels from
``np.random.RandomState`` (whose stream NumPy keeps fixed across versions), so every NumPy
version on every machine gives the same bytes. ``variant`` changes the palette and the
shapes: variant 0 is the dream input, variant 1 the guide.

Why the grain: a photograph has no perfectly flat areas, but flat shapes make exact max-pool
ties whose winner depends on the last bit of float32 arithmetic, so Caffe on one CPU and
Caffe on another (or with another thread count) disagreed by up to 5 dB on a one-step dream
of the flat image. With the grain, parity measures arithmetic, not coin tosses.
"""

from __future__ import annotations

import numpy as np

GRAIN = 6
# (centre y, centre x, radius) as fractions of the height; colour RGB.
_DISCS = {
    0: [((0.30, 0.25, 0.18), (250, 210, 40)), ((0.65, 0.70, 0.22), (30, 90, 200))],
    1: [((0.50, 0.30, 0.25), (220, 40, 120)), ((0.35, 0.75, 0.15), (40, 200, 90))],
}
# (top, left, bottom, right) as fractions of height/width; colour RGB.
_BOXES = {
    0: [((0.70, 0.08, 0.92, 0.40), (200, 60, 50)), ((0.10, 0.55, 0.30, 0.95), (60, 180, 120))],
    1: [((0.05, 0.05, 0.25, 0.45), (250, 240, 200)), ((0.65, 0.55, 0.95, 0.90), (90, 60, 30))],
}


def make_image(height: int, width: int, variant: int = 0) -> np.ndarray:
    """A (height, width, 3) uint8 RGB image: a diagonal colour gradient, a checker band and a
    few discs and rectangles with hard edges (so the network sees both smooth areas and edges),
    with a grain of +-GRAIN levels everywhere (no two neighbours tie by construction).
    """
    if variant not in _DISCS:
        raise ValueError(f"variant must be one of {sorted(_DISCS)}")
    y = np.arange(height, dtype=np.float64)[:, None] / max(height - 1, 1)
    x = np.arange(width, dtype=np.float64)[None, :] / max(width - 1, 1)
    ones = np.ones((height, width))
    if variant == 0:  # sky-like: blue to pale, a warm horizon
        channels = [60 + 150 * y * ones, 110 + 90 * y + 20 * x, 230 - 60 * y * ones]
    else:  # warm to green
        channels = [200 - 120 * x * ones, 80 + 120 * y * x, 60 + 140 * (1 - y) * ones]
    image = np.stack(channels, axis=-1)

    rows = np.arange(height)[:, None]
    cols = np.arange(width)[None, :]
    band = (rows > 0.45 * height) & (rows < 0.55 * height)
    checker = ((rows // 6 + cols // 6) % 2 == 0) & band
    image[checker] = image[checker] * 0.5

    for (cy, cx, r), colour in _DISCS[variant]:
        inside = (rows - cy * height) ** 2 + (cols - cx * width) ** 2 <= (r * height) ** 2
        image[inside] = colour
    for (top, left, bottom, right), colour in _BOXES[variant]:
        inside = (
            (rows >= top * height)
            & (rows < bottom * height)
            & (cols >= left * width)
            & (cols < right * width)
        )
        image[inside] = 0.5 * image[inside] + 0.5 * np.asarray(colour, np.float64)
    image += np.random.RandomState(1000 + variant).randint(-GRAIN, GRAIN + 1, image.shape)
    return np.clip(np.floor(image + 0.5), 0, 255).astype(np.uint8)
