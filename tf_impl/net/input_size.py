"""Whether an image is a size a network can take up to a given blob, and which sizes it can."""

from __future__ import annotations

from collections.abc import Sequence

from conversion.errors import DeepDreamError
from tf_impl.net.layers import BlobShapeError
from tf_impl.net.network import DreamNet
from tf_impl.net.shapes import blob_shapes, is_empty

LARGEST_SEARCHED = 4096


def fits(net: DreamNet, blobs: Sequence[str], height: int, width: int) -> bool:
    """Whether a (height, width) input gives a value at every one of ``blobs``;
    BlobShapeError where a layer has no well-defined output there (mismatched Eltwise
    bottoms, a NaN AVE window)."""
    shapes = blob_shapes(net, height, width)
    return not any(is_empty(shapes[b]) for b in blobs)


def smallest_side(net: DreamNet, blobs: Sequence[str]) -> int | None:
    """The least side s (pixels) of a square s x s input for which every one of ``blobs``
    has a value, or None when none up to :data:`LARGEST_SEARCHED` does."""
    return next(
        (s for s in range(1, LARGEST_SEARCHED + 1) if fits_searched(net, blobs, s, s)), None
    )


def fits_searched(net: DreamNet, blobs: Sequence[str], height: int, width: int) -> bool:
    """:func:`fits` for a size tried in a search (not the user's): a size at which a layer
    is undefined does not fit."""
    try:
        return fits(net, blobs, height, width)
    except BlobShapeError:
        return False


def check_image_fits(
    net: DreamNet, blobs: Sequence[str], height: int, width: int, what: str
) -> None:
    """Raise DeepDreamError when a (height, width) ``what`` (e.g. 'image', 'guide image')
    gives an empty value at one of ``blobs``, saying the sizes that work.

    Convolution and pooling layers set a minimum size; a fully connected layer also a
    maximum (it takes the one size it was built for).
    """
    for blob in blobs:
        if fits(net, [blob], height, width):
            continue
        smallest = smallest_side(net, [blob])
        if smallest is None:
            raise DeepDreamError(f"'{blob}' is empty at every input size up to {LARGEST_SEARCHED}")
        if min(height, width) < smallest:
            raise DeepDreamError(
                f"image too small for this layer: the {what} is {height}x{width}, '{blob}' "
                f"needs at least {smallest}x{smallest}; use a larger image or an earlier layer"
            )
        beyond = range(smallest, LARGEST_SEARCHED + 2)
        largest = next(s for s in beyond if not fits_searched(net, [blob], s, s))
        raise DeepDreamError(
            f"the {what} is {height}x{width}, but '{blob}' comes after a fully connected layer "
            f"and takes only sizes from {smallest}x{smallest} to {largest - 1}x{largest - 1}; "
            "resize the image, use an earlier layer, or use --class N for a class at any size"
        )
