"""Image files in and out: any image Pillow reads, as RGB; atomic writes that never touch the
input."""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from conversion.errors import DeepDreamError
from conversion.output_checks import check_output_file
from conversion.outputs import atomic_output
from tf_impl.images.checks import check_png_complete, greyscale_to_8bit

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

    Greyscale, RGBA (alpha dropped), palette, 16/32-bit integer and float images are converted
    to 8-bit RGB (high bit depths by the range their values use, see
    :func:`~tf_impl.images.checks.greyscale_to_8bit`), said once on stderr unless ``quiet``.
    Raises DeepDreamError for missing, non-image, truncated or decompression-bomb files.
    """
    path = Path(path)
    if not path.exists():
        raise DeepDreamError(f"{path}: no such file")
    if path.is_dir():
        raise DeepDreamError(f"{path}: is a directory, expected an image file")
    try:
        with warnings.catch_warnings():
            # Between Pillow's two bomb limits it only warns (two lines of noise); the size
            # is checked against the memory available before dreaming instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            rgb = _decode_rgb(path, quiet)
    except UnidentifiedImageError:
        raise DeepDreamError(f"{path}: not an image Pillow can read") from None
    except Image.DecompressionBombError as exc:
        raise DeepDreamError(f"{path}: refused, {_bomb_reason(exc)}") from None
    except OSError as exc:
        raise DeepDreamError(f"{path}: cannot read the image ({exc})") from None
    check_png_complete(path)
    return rgb


def _decode_rgb(path: Path, quiet: bool) -> np.ndarray:
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image)
        note = f"{path.name} is {image.mode}"
        if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            image, note = greyscale_to_8bit(image, path)
        if image.mode != "RGB":
            if not quiet:
                print(f"note: {note}, converted to 8-bit RGB", file=sys.stderr)
            image = image.convert("RGB")
        return np.asarray(image, dtype=np.uint8).copy()


def _bomb_reason(exc: Exception) -> str:
    """Pillow's decompression-bomb message, shortened to the sizes."""
    pixels = re.findall(r"\d+", str(exc))
    if len(pixels) >= 2:
        return (
            f"its header claims {int(pixels[0]):,} pixels, over Pillow's safety limit of "
            f"{int(pixels[1]):,} (a decompression bomb, or an image far too large to dream)"
        )
    return str(exc)


def check_output_path(output: str | Path, inputs: tuple[str | Path, ...] = ()) -> Path:
    """Validate an output image path before any work: a known image extension, an existing
    directory, and not one of ``inputs`` (the input is never overwritten)."""
    return check_output_file(output, tuple(OUTPUT_FORMATS), inputs)


# Rows that to_uint8 clips at a time: its only float temporary.
_ROWS_AT_ONCE = 256


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float RGB 0-255 (H, W, 3) -> uint8 as the notebook saves and shows its dreams:
    ``np.uint8(np.clip(rgb, 0, 255))``, clipped then truncated (not rounded); a block of
    rows at a time, so a large image needs no whole float copy."""
    rgb = np.asarray(rgb)
    out = np.empty(rgb.shape, np.uint8)
    for start in range(0, len(rgb), _ROWS_AT_ONCE):
        rows = slice(start, start + _ROWS_AT_ONCE)
        out[rows] = np.clip(rgb[rows], 0, 255)
    return out


def save_rgb(path: str | Path, rgb: np.ndarray) -> Path:
    """Write (H, W, 3) RGB (uint8, or float 0-255 converted by :func:`to_uint8`) atomically:
    a temp file in the same directory, renamed into place, so a failed write never leaves a
    half-written file. A link is written through to its target, whose mode is kept."""
    path = Path(path)
    image_format = OUTPUT_FORMATS.get(path.suffix.lower())
    if image_format is None:
        raise DeepDreamError(f"{path}: unknown image type '{path.suffix}'")
    data = rgb if np.asarray(rgb).dtype == np.uint8 else to_uint8(rgb)
    save_args = {"quality": 95} if image_format in ("JPEG", "WEBP") else {}
    with atomic_output(path) as tmp:
        Image.fromarray(data, "RGB").save(tmp, format=image_format, **save_args)
    return path


def resize_rgb(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (height, width, 3) uint8, Lanczos-resampled (for shrinking)."""
    image = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB")
    return np.asarray(image.resize((width, height), Image.Resampling.LANCZOS))


def image_files(folder: str | Path) -> list[Path]:
    """The image files of ``folder`` (not its subfolders), by name: every non-hidden file
    whose extension Pillow reads, sorted. Raises DeepDreamError when there is none."""
    folder = Path(folder)
    known = Image.registered_extensions()
    found = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in known
    )
    if not found:
        raise DeepDreamError(
            f"{folder}: is a directory with no image file (.png, .jpg...) in it; give an image "
            "file, or a directory of images"
        )
    return found


def is_complete_image(path: Path, size: tuple[int, int] | None = None) -> bool:
    """Whether ``path`` is an image that decodes whole (and is ``size`` (width, height) when
    given): what an interrupted or damaged write fails."""
    if not path.is_file():
        return False
    try:
        with Image.open(path) as image:
            image.load()
            return size is None or image.size == size
    except (OSError, SyntaxError):
        return False


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of an image from its header alone (orientation not applied: for
    checks that do not depend on it); DeepDreamError for a file Pillow cannot read."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, SyntaxError, UnidentifiedImageError):
        raise DeepDreamError(f"{path}: not an image Pillow can read") from None
    return height, width
