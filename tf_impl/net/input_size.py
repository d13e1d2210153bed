"""Whether an image is a size a network can take up to a given blob, and which sizes it can."""

from __future__ import annotations

from collections.abc import Sequence

from conversion.errors import DeepDreamError
from tf_impl.net.layers import BlobShapeError
from tf_impl.net.network import DreamNet
from tf_impl.net.shapes import blob_shapes

_LARGEST_SEARCHED = 4096


def _fits(net: DreamNet, blobs: Sequence[str], height: int, width: int) -> bool:
    """Whether every blob is non-empty at this size; BlobShapeError where a layer has no
    well-defined output there (mismatched Eltwise bottoms, a NaN AVE window)."""
    shapes = blob_shapes(net, height, width)
    return all(min(shapes[b]) > 0 for b in blobs)


def fits_searched(net: DreamNet, blobs: Sequence[str], height: int, width: int) -> bool:
    """:func:`_fits` for a size tried in a search (not the user's): a size at which a layer
    is undefined does not fit."""
    try:
        return _fits(net, blobs, height, width)
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
        if _fits(net, [blob], height, width):
            continue
        sides = range(1, _LARGEST_SEARCHED + 1)
        smallest = next((s for s in sides if fits_searched(net, [blob], s, s)), None)
        if smallest is None:
            raise DeepDreamError(f"'{blob}' is empty at every input size up to {sides[-1]}")
        if min(height, width) < smallest:
            raise DeepDreamError(
                f"image too small for this layer: the {what} is {height}x{width}, '{blob}' "
                f"needs at least {smallest}x{smallest}; use a larger image or an earlier layer"
            )
        largest = next(
            s for s in range(smallest, sides[-1] + 2) if not fits_searched(net, [blob], s, s)
        )
        raise DeepDreamError(
            f"the {what} is {height}x{width}, but '{blob}' comes after a fully connected layer "
            f"and takes only sizes from {smallest}x{smallest} to {largest - 1}x{largest - 1}; "
            "resize the image, use an earlier layer, or use --class N for a class at any size"
        )
