"""Refusing work that cannot fit in this machine's memory, before it starts."""

from __future__ import annotations

from collections.abc import Sequence

from conversion.errors import DeepDreamError
from tf_impl.machine_memory import available_memory
from tf_impl.memory import step_memory_bytes
from tf_impl.network import DreamNet

# Whole-image float32 (H, W, 3) arrays alive during a tiled step (image, octave base, detail,
# jittered copy, assembled gradient, update temporaries): measured about ten at 8K.
WHOLE_IMAGE_ARRAYS = 10


def check_memory(
    net: DreamNet, blobs: Sequence[str], height: int, width: int, tile_budget: int | None
) -> None:
    """Refuse an image whose dream would not fit in the memory available now: its whole step,
    or with tiles (``tile_budget`` bytes each) the tiles plus the whole-image arrays."""
    if tile_budget is None:
        needed = step_memory_bytes(net, blobs, height, width)
        what = f"per step at '{blobs[-1]}'"
    else:
        needed = tile_budget + WHOLE_IMAGE_ARRAYS * height * width * 3 * 4
        what = "in tiles plus its whole-image arrays"
    available, source = available_memory()
    if available is not None and needed > available:
        raise DeepDreamError(
            f"a {height}x{width} image needs about {needed / 1e9:.2f} GB {what} and "
            f"{available / 1e9:.2f} GB is available ({source}); use a smaller image, an "
            "earlier layer or a smaller --max-memory"
        )
