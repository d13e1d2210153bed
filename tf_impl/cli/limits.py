"""Refusing work that cannot fit in this machine's memory, before it starts."""

from __future__ import annotations

from collections.abc import Sequence

from conversion.errors import DeepDreamError
from tf_impl.host.memory import available_memory, gpu_memory, step_memory_available
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
