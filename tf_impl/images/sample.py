"""The sample image for ``make dream``: prints its path.

It is Matplotlib's bundled ``grace_hopper.jpg`` (a US Navy portrait of Grace Hopper, public
domain), shipped inside the matplotlib package, so the project needs no download for it.
Matplotlib is the ``sample`` extra (``make dream`` installs it); dreaming on your own photos
needs only the plain install.
"""

from __future__ import annotations

from pathlib import Path

from conversion.errors import DeepDreamError


def sample_image_path() -> Path:
    """Path of the bundled sample photo (RGB JPEG, 512x600)."""
    try:
        from matplotlib import cbook  # optional: the `sample` extra
    except ImportError:
        raise DeepDreamError(
            "the sample image comes with matplotlib: pip install 'deepdream-tf2[sample]' "
            "(make dream does), or dream on your own photo"
        ) from None
    return Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


if __name__ == "__main__":
    print(sample_image_path())
