"""Shared pieces of the atlas tests: a small renderer setting, test images, CLI runner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tf_impl.cli import main

BLOB = "inception_3a/5x5_reduce"  # 16 channels: small and quick
# Small enough to be quick on 2 cores, large enough for BLOB at every octave.
FAST_RENDER = [
    "--render", "notebook", "--size", "40", "--octaves", "2", "--steps", "2", "--batch", "3",
    "--quiet",
]  # fmt: skip
# The lucid renderer, as small: its smallest view, (40 + 8 - 4) * 0.9 px, still reaches BLOB.
FAST_LUCID = [
    "--render", "lucid", "--size", "40", "--steps", "3", "--pad", "4", "--jitter", "2",
    "--batch", "3", "--quiet",
]  # fmt: skip


def write_images(folder: Path, count: int = 2, size: tuple[int, int] = (150, 170)) -> Path:
    """``count`` seeded random RGB images in ``folder`` (created), as PNG files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for index in range(count):
        pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"photo_{index}.png")
    return folder


def run_cli(argv, capsys) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``deepdream argv``."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def tree_bytes(root: Path) -> dict[str, bytes]:
    """{relative path: contents} of every file under ``root``."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }
