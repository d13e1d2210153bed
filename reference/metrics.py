"""The measures shared by the reference data, the parity tests and the benchmarks: PSNR of two
images, the one-ulp nudge that sets float32's chaos floor, and SHA-256 fingerprints of arrays
and files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np


def psnr(ours: np.ndarray, ref: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB of two float images of one shape on the 0-255 scale (inf when identical),
    computed in float64 on the values as given (not clipped or rounded)."""
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    if ours.shape != ref.shape:
        raise ValueError(f"PSNR of arrays of different shapes {ours.shape} and {ref.shape}")
    mse = float(np.mean((ours - ref) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(peak**2 / mse))


def nudge_ulp(image: np.ndarray, seed: int) -> np.ndarray:
    """``image`` as float32 with every value moved by one ulp, up or down at random
    (``np.random.RandomState(seed)``): a rounding-sized change of the input, whose dream
    shows how far a correct float32 dream drifts from itself."""
    image = np.asarray(image, np.float32)
    up = np.random.RandomState(seed).rand(*image.shape) < 0.5
    return np.nextafter(image, np.where(up, np.float32(np.inf), np.float32(-np.inf)))


def sha256(array_or_path: np.ndarray | Path) -> str:
    """Hex SHA-256 of a file's bytes (a Path) or of an array's C-order bytes."""
    if isinstance(array_or_path, Path):
        with open(array_or_path, "rb") as stream:
            return hashlib.file_digest(stream, "sha256").hexdigest()
    return hashlib.sha256(np.ascontiguousarray(array_or_path).tobytes()).hexdigest()
