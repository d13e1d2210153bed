"""Labelled image grids (contact sheets): tiles with a caption under each and title lines on
top, drawn with Pillow's bundled font (no font files needed)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

BACKGROUND = (255, 255, 255)
TEXT = (20, 20, 20)
WARNING = (180, 0, 0)
PADDING = 6


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's default font at ``size`` pixels (scalable in Pillow >= 10.1)."""
    return ImageFont.load_default(size=size)


def as_image(tile: np.ndarray | Image.Image) -> Image.Image:
    """An RGB PIL image from a PIL image or an (H, W, 3) uint8 RGB array."""
    return tile.convert("RGB") if isinstance(tile, Image.Image) else Image.fromarray(tile, "RGB")


def labelled_grid(
    tiles: Sequence[tuple[np.ndarray | Image.Image, str]],
    *,
    tile_size: int,
    columns: int | None = None,
    title: Sequence[str] = (),
    warning: str | None = None,
    caption_size: int = 14,
) -> Image.Image:
    """A grid of (image, caption) tiles, each scaled to ``tile_size`` wide (aspect kept) with
    its caption under it; ``title`` lines on top and ``warning`` (in red) under them.
    ``columns`` defaults to about the square root of the count."""
    columns = columns or max(1, math.ceil(math.sqrt(len(tiles))))
    images = []
    for tile, _ in tiles:
        image = as_image(tile)
        height = max(1, round(image.height * tile_size / image.width))
        images.append(image.resize((tile_size, height), Image.Resampling.LANCZOS))
    caption_font, title_font = font(caption_size), font(caption_size + 4)
    cell_h = max((im.height for im in images), default=0) + caption_size + 2 * PADDING
    cell_w = tile_size + PADDING
    header_lines = [(line, TEXT) for line in title] + ([(warning, WARNING)] if warning else [])
    header_h = PADDING + len(header_lines) * (caption_size + 8)
    rows = math.ceil(len(tiles) / columns)
    width = max(PADDING + columns * cell_w, _text_width(header_lines, title_font) + 2 * PADDING)
    sheet = Image.new("RGB", (width, header_h + rows * cell_h + PADDING), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for i, (line, colour) in enumerate(header_lines):
        draw.text((PADDING, PADDING + i * (caption_size + 8)), line, fill=colour, font=title_font)
    for index, (image, (_, caption)) in enumerate(zip(images, tiles, strict=True)):
        x = PADDING + (index % columns) * cell_w
        y = header_h + (index // columns) * cell_h
        sheet.paste(image, (x, y))
        draw.text((x, y + image.height + 2), caption, fill=TEXT, font=caption_font)
    return sheet


def _text_width(lines, text_font) -> int:
    return max((round(text_font.getlength(line)) for line, _ in lines), default=0)
