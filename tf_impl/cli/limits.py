"""Refusing work that cannot fit in this machine's memory, before it starts."""

from __future__ import annotations

from collections.abc import Sequence

from conversion.errors import DeepDreamError
from tf_impl.machine_memory import available_memory
from tf_impl.memory import step_memory_bytes
from tf_impl.network import DreamNet


def check_memory(net: DreamNet, blobs: Sequence[str], height: int, width: int) -> None:
    """Refuse an image whose dream step would not fit in the memory available now."""
    needed = step_memory_bytes(net, blobs, height, width)
    available, source = available_memory()
    if available is not None and needed > available:
        raise DeepDreamError(
            f"a {height}x{width} image needs about {needed / 1e9:.2f} GB per step at "
            f"'{blobs[-1]}' and {available / 1e9:.2f} GB is available ({source}); "
            "use a smaller image or an earlier layer"
        )
