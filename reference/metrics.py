"""The measures shared by the reference data, the parity tests, the report and the benchmarks:
PSNR of two images, relative errors of two arrays (float64 arithmetic), the one-ulp nudge that
sets float32's chaos floor, and SHA-256 fingerprints of arrays and files."""

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


def max_rel(ours: np.ndarray, ref: np.ndarray) -> float:
    """max|ours - ref| / max|ref|."""
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    ref = np.asarray(ref, np.float64)
    return float(np.abs(np.asarray(ours, np.float64) - ref).max() / np.abs(ref).max())


def rel_l2(ours: np.ndarray, ref: np.ndarray) -> float:
    """||ours - ref|| / ||ref|| over all elements."""
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    ref = np.asarray(ref, np.float64)
    return float(np.linalg.norm(np.asarray(ours, np.float64) - ref) / np.linalg.norm(ref))


def median_rel(ours: np.ndarray, ref: np.ndarray) -> float:
    """Median over pixels of |ours - ref| (L2 over channels), over the RMS pixel norm of ref.
    Arrays (H, W, C)."""
    ref = np.asarray(ref, np.float64)
    errors = np.linalg.norm(np.asarray(ours, np.float64) - ref, axis=-1)
    rms = np.sqrt(np.mean(np.sum(ref**2, axis=-1)))
    return float(np.median(errors) / rms)


def max_diff(ours: np.ndarray, ref: np.ndarray) -> float:
    """max|ours - ref|."""
    return float(np.abs(np.asarray(ours, np.float64) - np.asarray(ref, np.float64)).max())
