"""Image files in and out: any image Pillow reads, as RGB; atomic writes that never touch the
input."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from conversion.errors import DeepDreamError
from tf_impl.atomic import atomic_output, check_output_file

OUTPUT_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


def load_rgb(path: str | Path, *, quiet: bool = False) -> np.ndarray:
    """Read an image as (H, W, 3) uint8 RGB, honouring EXIF orientation.

    Greyscale, RGBA (alpha dropped), palette and 16-bit images are converted to 8-bit RGB,
    said once on stderr unless ``quiet``. Raises DeepDreamError for missing or non-image files.
    """
    path = Path(path)
    if not path.exists():
        raise DeepDreamError(f"{path}: no such file")
    if path.is_dir():
        raise DeepDreamError(f"{path}: is a directory, expected an image file")
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            mode = image.mode
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                # 16/32-bit greyscale: scale to 8 bits rather than clipping.
                array = np.asarray(image, dtype=np.float64)
                top = 65535.0 if array.max() > 255 else 255.0
                image = Image.fromarray(np.round(array * 255.0 / top).astype(np.uint8), "L")
            if image.mode != "RGB":
                if not quiet:
                    print(f"note: {path.name} is {mode}, converted to 8-bit RGB", file=sys.stderr)
                image = image.convert("RGB")
            return np.asarray(image, dtype=np.uint8).copy()
    except UnidentifiedImageError:
        raise DeepDreamError(f"{path}: not an image Pillow can read") from None
    except OSError as exc:
        raise DeepDreamError(f"{path}: cannot read the image ({exc})") from None


def check_output_path(output: str | Path, inputs: tuple[str | Path, ...] = ()) -> Path:
    """Validate an output image path before any work: a known image extension, an existing
    directory, and not one of ``inputs`` (the input is never overwritten)."""
    return check_output_file(output, tuple(OUTPUT_FORMATS), inputs)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float RGB 0-255 (H, W, 3) -> uint8 as the notebook saves and shows its dreams:
    ``np.uint8(np.clip(rgb, 0, 255))``, clipped then truncated (not rounded)."""
    return np.uint8(np.clip(rgb, 0, 255))


def save_rgb(path: str | Path, rgb: np.ndarray) -> Path:
    """Write (H, W, 3) RGB (uint8, or float 0-255 converted by :func:`to_uint8`) atomically:
    a temp file in the same directory, renamed into place, so a failed write never leaves a
    half-written file."""
    path = Path(path)
    image_format = OUTPUT_FORMATS.get(path.suffix.lower())
    if image_format is None:
        raise DeepDreamError(f"{path}: unknown image type '{path.suffix}'")
    data = rgb if np.asarray(rgb).dtype == np.uint8 else to_uint8(rgb)
    save_args = {"quality": 95} if image_format in ("JPEG", "WEBP") else {}
    with atomic_output(path) as tmp:
        Image.fromarray(data, "RGB").save(tmp, format=image_format, **save_args)
    return path
