"""Checks and conversions for images that Pillow opens without complaint but would otherwise be
dreamed wrongly: high-bit-depth greyscale (16/32-bit integer, 32-bit float) and PNG files whose
compressed data ends before the last row."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from conversion.errors import DeepDreamError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type
# Adam7 passes: (x start, y start, x step, y step).
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))
_ADAM7 += ((0, 1, 1, 2),)
_INTEGER_RANGES = ((255, "8-bit"), (65535, "16-bit"))


def greyscale_to_8bit(image: Image.Image, path: Path) -> tuple[Image.Image, str]:
    """An 8-bit ('L') copy of a 16/32-bit integer or 32-bit float greyscale image, mapped by
    the range its values really use, and a note saying which mapping was used.

    Integers: values within 0-255 are kept, within 0-65535 are 16-bit (divided by 257),
    anything larger is scaled from 0-max. Floats: 0-1 is scaled by 255, 0-255 kept. Negative
    or non-finite values, or floats above 255, are refused (DeepDreamError): no guess is right.
    """
    values = np.asarray(image, dtype=np.float64)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    kind = {"F": "32-bit float", "I": "32-bit integer"}.get(image.mode, "16-bit integer")
    if not np.isfinite(values).all() or low < 0:
        raise DeepDreamError(
            f"{path}: {kind} image with values {low:g} to {high:g}; convert it to an 8-bit "
            "image first (negative or non-finite values have no pixel meaning)"
        )
    if image.mode == "F":
        if high <= 1.0:
            top, rule = 1.0, "values 0-1 scaled to 0-255"
        elif high <= 255.0:
            top, rule = 255.0, "values 0-255 kept"
        else:
            raise DeepDreamError(
                f"{path}: 32-bit float image with values up to {high:g}; expected 0-1 or "
                "0-255: convert it to an 8-bit image first"
            )
    elif image.mode.startswith("I;16"):
        top, rule = 65535.0, "16-bit values scaled to 0-255"
    else:
        top, rule = next(
            (
                (float(t), f"{name} range kept" if t == 255 else f"{name} values scaled to 0-255")
                for t, name in _INTEGER_RANGES
                if high <= t
            ),
            (high, f"values 0-{high:.0f} scaled to 0-255"),
        )
    scaled = np.floor(values * (255.0 / top) + 0.5) if top else values
    note = f"{path.name} is {kind} ({rule})"
    return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L"), note


def check_png_complete(path: Path) -> None:
    """Raise DeepDreamError when a PNG's image data holds fewer rows than its header says.

    Pillow fills the missing rows with black when the compressed stream ends early; this
    decompresses the stream in 1 MiB pieces (no full copy) and counts its bytes.
    """
    with open(path, "rb") as f:
        if f.read(8) != _PNG_SIGNATURE:
            return
        header, expected, total = None, None, 0
        inflater = zlib.decompressobj()
        while True:
            head = f.read(8)
            if len(head) < 8:
                break
            length, kind = struct.unpack(">I4s", head)
            data = f.read(length)
            f.seek(4, 1)  # CRC (Pillow checks it)
            if kind == b"IHDR":
                header = struct.unpack(">IIBBBBB", data[:13])
                expected = _png_raw_bytes(*header)
            elif kind == b"IDAT":
                try:
                    while data and total < expected:
                        total += len(inflater.decompress(data, 1 << 20))
                        data = inflater.unconsumed_tail
                except zlib.error:
                    break
            elif kind == b"IEND":
                break
    if header is not None and total < expected:
        width, height, depth, colour = header[:4]
        row = 1 + (width * _PNG_CHANNELS.get(colour, 1) * depth + 7) // 8
        rows = total // row if not header[6] else "fewer"
        raise DeepDreamError(
            f"{path}: truncated PNG: its data holds {rows} of {height} rows; "
            "the file is damaged or was not completely written"
        )


def _png_raw_bytes(width, height, depth, colour, _compression, _filter, interlace) -> int:
    bits = _PNG_CHANNELS.get(colour, 1) * depth
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    total = 0
    for x0, y0, dx, dy in passes:
        w = (width - x0 + dx - 1) // dx if width > x0 else 0
        h = (height - y0 + dy - 1) // dy if height > y0 else 0
        if w and h:
            total += h * (1 + (w * bits + 7) // 8)
    return total
