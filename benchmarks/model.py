"""The network and images the benchmarks run on.

Speed does not depend on weight values, so the benchmarks use the project's seeded synthetic
GoogLeNet (the real weights cannot be downloaded everywhere), written as a real V1
``.caffemodel`` plus the generated deploy prototxt: TensorFlow converts the file, Caffe loads
the same file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from conversion.synthetic import write_synthetic_model
from tf_impl.models.convert import convert_caffemodel
from tf_impl.net.network import DreamNet

WEIGHTS_SEED = 0
SHARED = Path(os.environ.get("DEEPDREAM_SHARED", Path(__file__).resolve().parents[2] / "shared"))
SKY = SHARED / "data" / "google_deepdream" / "sky1024px.jpg"


def write_model(directory: Path) -> tuple[Path, Path, DreamNet]:
    """(caffemodel, deploy prototxt, converted net) of the synthetic GoogLeNet, the files
    written into ``directory`` (Caffe's side adds ``force_backward: true`` when loading, as
    the notebook does)."""
    caffemodel, prototxt = write_synthetic_model(directory, WEIGHTS_SEED)
    return caffemodel, prototxt, convert_caffemodel(caffemodel)


def dream_image(height: int = 575, width: int = 1024) -> tuple[np.ndarray, str]:
    """(RGB (H, W, 3) float32 0-255, its source): the notebook's sky image when the shared
    reference material is present and the size is its own (575x1024), else a seeded smooth
    random image of that size (dream time does not depend on content)."""
    if (height, width) == (575, 1024) and SKY.is_file():
        with Image.open(SKY) as image:
            return np.asarray(image.convert("RGB"), np.float32), SKY.name
    rng = np.random.default_rng(height * width)
    coarse = rng.uniform(0, 255, (height // 16 + 2, width // 16 + 2, 3))
    image = np.repeat(np.repeat(coarse, 16, axis=0), 16, axis=1)[:height, :width]
    return image.astype(np.float32), f"seeded random {height}x{width}"
