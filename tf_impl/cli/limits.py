"""Refusing work that cannot fit in this machine's memory, before it starts, and shrinking
the images that only steer a dream (guides) or are only looked at (channels) to fit."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

import numpy as np

from conversion.errors import DeepDreamError
from tf_impl.dream.tiling import default_max_memory
from tf_impl.host.memory import available_memory, gpu_memory, step_memory_available
from tf_impl.images.files import resize_rgb
from tf_impl.net.input_size import check_image_fits
from tf_impl.net.network import DreamNet
from tf_impl.net.step_memory import step_memory_needed

# Whole-image float32 (H, W, 3) arrays alive during a tiled dream: the image and its gradient
# through the steps (the uint8 input beside them), and at the last octave's start the image,
# the upscaled detail and its NumPy copy. Measured at 8K (--max-memory 1G, one octave): peak
# RSS = TensorFlow and the model + the tiles' budget + 3.0 arrays.
WHOLE_IMAGE_ARRAYS = 4


def check_memory(
    net: DreamNet, blobs: Sequence[str], height: int, width: int, tile_budget: int | None
) -> None:
    """Refuse an image whose dream would not fit in the memory available now: its whole step,
    or with tiles (``tile_budget`` bytes each) the tiles plus the whole-image arrays. The step
    counts against the GPU's memory where TensorFlow sees a GPU (the step runs there, the
    whole-image arrays stay on the host), else everything against the host's."""
    if tile_budget is None:
        step, arrays = step_memory_needed(net, blobs, height, width), 0
        what = f"per step at '{blobs[-1]}'"
    else:
        step, arrays = tile_budget, WHOLE_IMAGE_ARRAYS * height * width * 3 * 4
        what = "in tiles plus its whole-image arrays"
    gpus = gpu_memory()
    if gpus:
        _refuse_beyond(
            step, f"per step at '{blobs[-1]}'", height, width, *step_memory_available(gpus)
        )
        _refuse_beyond(arrays, "for its whole-image arrays", height, width, *available_memory())
    else:
        _refuse_beyond(step + arrays, what, height, width, *available_memory())


def _refuse_beyond(needed: int, what: str, height: int, width: int, available, source) -> None:
    if available is not None and needed > available:
        raise DeepDreamError(
            f"a {height}x{width} image needs about {needed / 1e9:.2f} GB {what} and "
            f"{available / 1e9:.2f} GB is available ({source}); use a smaller image, an "
            "earlier layer or a smaller --max-memory"
        )


def memory_budget(max_memory: int | None) -> tuple[int | None, str]:
    """(bytes the network's work may use, where the figure comes from): ``--max-memory``, else
    the default share of the memory available now; (None, '') when it cannot be read."""
    if max_memory is not None:
        return max_memory, "--max-memory"
    budget = default_max_memory()
    return budget, "a share of the memory available now"


def pass_bytes(net: DreamNet, blobs: Sequence[str], height: int, width: int, batch: int = 1):
    """Estimated bytes of a pass (forward and gradient) of ``batch`` (height, width) images to
    ``blobs``: an upper bound for a forward pass alone."""
    return batch * step_memory_needed(net, blobs, height, width)


def refuse_over_budget(needed: int, budget: tuple[int | None, str], what: str, fix: str) -> None:
    """DeepDreamError when ``needed`` bytes exceed the ``budget`` of :func:`memory_budget`."""
    limit, source = budget
    if limit is not None and needed > limit:
        raise DeepDreamError(
            f"{what} needs about {needed / 1e9:.2f} GB and the budget is {limit / 1e9:.2f} GB "
            f"({source}); {fix}"
        )


def fit_to_budget(
    net: DreamNet,
    blobs: Sequence[str],
    rgb: np.ndarray,
    budget: tuple[int | None, str],
    what: str,
) -> np.ndarray:
    """``rgb`` ((H, W, 3) uint8), or a copy scaled down (aspect kept) so that its pass to
    ``blobs`` fits in ``budget`` (:func:`memory_budget`); a ``note:`` line says so. For images
    whose exact size does not matter: guides, the image ``channels`` ranks. DeepDreamError
    when the scaled image would be too small for the blobs."""
    limit, source = budget
    height, width = rgb.shape[:2]
    if limit is None or pass_bytes(net, blobs, height, width) <= limit:
        return rgb
    factor = math.sqrt(limit / pass_bytes(net, blobs, height, width))
    while True:
        new_h, new_w = max(1, int(height * factor)), max(1, int(width * factor))
        if pass_bytes(net, blobs, new_h, new_w) <= limit or min(new_h, new_w) == 1:
            break
        factor *= 0.9
    check_image_fits(net, blobs, new_h, new_w, f"{what} scaled to fit {limit / 1e9:.2f} GB")
    print(
        f"note: the {what} ({height}x{width}) was scaled to {new_h}x{new_w} to fit the memory "
        f"budget of {limit / 1e9:.2f} GB ({source})",
        file=sys.stderr,
    )
    return resize_rgb(rgb, new_h, new_w)
