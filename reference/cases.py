"""What the stored reference data holds, and how each case's inputs are made.

Shared by ``reference.generate`` (which runs Caffe and stores the results) and the tests
(which rebuild the same inputs for the TF2 side). Everything here is deterministic.

Forward/backward cases, at the notebook's octave sizes of its 1024x575 image and at 97x173:
the input is a pixel-scale noise image (uint8 RGB from ``np.random.RandomState``, whose stream
NumPy keeps stable across versions); stored per size are a few blobs (a channel subset of
the wide ones) and the input gradient of 0.5 * sum(a^2) at ``inception_4c/output`` (a central
crop at the two largest sizes, to keep the files small).

Dream cases: the notebook's defaults (``tf_impl.dream.settings.NOTEBOOK``: 4 octaves x 10 steps,
octave scale 1.4, step 1.5, jitter 32, clip) on a procedural 200x300 test image, with the
jitter drawn like the notebook from ``np.random.RandomState(seed)``; the same with 1 step per
octave ("short" dreams, which stay comparable pixel for pixel); and 3 frames of the zoom loop
(s = 0.05).
"""

from __future__ import annotations

import numpy as np

from reference.procedural_images import make_image
from tf_impl.dream.settings import NOTEBOOK, ZOOM_STEP

WEIGHTS_SEED = 0
WEIGHTS_FORMAT = "V1"

SIZES = [(575, 1024), (411, 731), (294, 522), (210, 373), (97, 173)]
BLOBS = ["pool1/norm1", "conv2/norm2", "inception_3b/5x5_reduce", "inception_4c/output"]
GRADIENT_END = NOTEBOOK.end
# Sizes at which every channel of every blob is stored; elsewhere CHANNEL_SUBSET of them.
FULL_CHANNEL_SIZES = [(97, 173)]
CHANNEL_SUBSET = 8
# Sizes whose gradient is stored as a central crop of this (H, W) (the full-size gradient
# is computed; only the crop is compared).
GRADIENT_CROPS = {(575, 1024): (288, 512), (411, 731): (288, 512)}

DREAM_SIZE = (200, 300)
GUIDE_SIZE = (150, 200)
# The notebook's own arguments (not the blob, which each case names, nor the project's
# additions such as lapnorm, which the Caffe port does not take).
NOTEBOOK_ARGUMENTS = ("iter_n", "octave_n", "octave_scale", "step_size", "jitter", "clip")
NOTEBOOK_DEFAULTS = {k: v for k, v in NOTEBOOK.as_params().items() if k in NOTEBOOK_ARGUMENTS}
# name -> (end blob, jitter seed, guided)
DREAMS = {
    "inception_4c_output": ("inception_4c/output", 0, False),
    "inception_3b_5x5_reduce": ("inception_3b/5x5_reduce", 1, False),
    "guided_inception_3b_output": ("inception_3b/output", 2, True),
}
ZOOM = {"end": NOTEBOOK.end, "seed": 3, "n_frames": 3, "s": ZOOM_STEP}


def size_key(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def input_seed(size: tuple[int, int]) -> int:
    return size[0] * 10007 + size[1]


def pixel_image(size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 RGB noise, 0-255: the forward/backward input at ``size``."""
    state = np.random.RandomState(input_seed(size))
    return state.randint(0, 256, (*size, 3), dtype=np.uint8)


def dream_image() -> np.ndarray:
    """(200, 300, 3) uint8 RGB: the dream input."""
    return make_image(*DREAM_SIZE, variant=0)


def guide_image() -> np.ndarray:
    """(150, 200, 3) uint8 RGB: the guide of the guided dream (used at its own size)."""
    return make_image(*GUIDE_SIZE, variant=1)


def channel_subset(size: tuple[int, int], channels: int) -> np.ndarray:
    """Indices of the stored channels of a blob with ``channels`` channels at ``size``:
    all of them, or CHANNEL_SUBSET evenly spaced ones (spanning every Concat branch)."""
    if size in FULL_CHANNEL_SIZES or channels <= CHANNEL_SUBSET:
        return np.arange(channels)
    return np.arange(0, channels, channels // CHANNEL_SUBSET)[:CHANNEL_SUBSET]


def gradient_crop(size: tuple[int, int]) -> tuple[slice, slice]:
    """(rows, cols) slices of the stored part of the gradient at ``size``: its central
    GRADIENT_CROPS[size], or the whole image."""
    h, w = size
    ch, cw = GRADIENT_CROPS.get(size, size)
    top, left = (h - ch) // 2, (w - cw) // 2
    return slice(top, top + ch), slice(left, left + cw)


# Who is compared, as tables and plots name them (the benchmarks' records' ``impl``).
LABELS = {
    "tf-eager": "TF eager",
    "tf-function": "TF tf.function",
    "tf-xla": "TF XLA",
    "tf-dream-step": "TF dream step",
    "tf-function-bfloat16": "TF tf.function bf16",
    "tf-function-float16": "TF tf.function fp16",
    "tf-dream-step-bfloat16": "TF dream step bf16",
    "tf-dream-step-float16": "TF dream step fp16",
    "caffe": "Caffe",
    "torch-eager": "PyTorch eager",
    "torch-compiled": "PyTorch compiled",
}


def label(record: dict) -> str:
    """Column / legend name of a benchmark step record: its implementation, plus the GPU when
    on one."""
    name = LABELS.get(record["impl"], record["impl"])
    return f"{name} ({record['device_name']})" if record["device"].startswith("/GPU") else name
