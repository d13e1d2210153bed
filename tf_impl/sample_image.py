"""The sample image for ``make dream``: prints its path.

It is Matplotlib's bundled ``grace_hopper.jpg`` (a US Navy portrait of Grace Hopper, public
domain), shipped inside the matplotlib package, so the project needs no download for it.
"""

from __future__ import annotations

from pathlib import Path

from tf_impl.errors import DeepDreamError


def sample_image_path() -> Path:
    """Path of the bundled sample photo (RGB JPEG, 512x600)."""
    try:
        from matplotlib import cbook
    except ImportError:
        raise DeepDreamError(
            "the sample image comes with matplotlib: run 'make install' (dev extras)"
        ) from None
    return Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


if __name__ == "__main__":
    print(sample_image_path())
