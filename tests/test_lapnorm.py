"""Laplacian-pyramid normalisation against a NumPy restatement of the TF1 notebook's
``lap_normalize`` (explicit padded loops, no TensorFlow), and as a dream option.

Tolerance: 1e-5 of the output's largest magnitude: both sides are float32 sums of at most 25
products per tap and a handful of levels, so they differ by float32 rounding only."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tf_impl.dream.deepdream import deepdream
from tf_impl.dream.lapnorm import lap_normalize
from tf_impl.dream.settings import DreamSettings

TAPS = np.array([1, 4, 6, 4, 1], np.float64)
KERNEL = np.outer(TAPS, TAPS) / 256.0


def _same_pads(size: int) -> tuple[int, int]:
    """'SAME' padding (before, after) of a stride-2, 5-tap filter over ``size`` samples."""
    out = -(-size // 2)
    total = max((out - 1) * 2 + 5 - size, 0)
    return total // 2, total - total // 2


def _down(x: np.ndarray) -> np.ndarray:
    """Blur with KERNEL and keep every second sample: (H, W, C) -> (ceil(H/2), ceil(W/2), C)."""
    (t, b), (left, r) = _same_pads(x.shape[0]), _same_pads(x.shape[1])
    padded = np.pad(x, ((t, b), (left, r), (0, 0)))
    oh, ow = -(-x.shape[0] // 2), -(-x.shape[1] // 2)
    out = np.zeros((oh, ow, x.shape[2]))
    for a in range(5):
        for c in range(5):
            out += KERNEL[a, c] * padded[a : a + 2 * oh : 2, c : c + 2 * ow : 2]
    return out


def _up(y: np.ndarray, height: int, width: int) -> np.ndarray:
    """The adjoint of :func:`_down` times 4: spread each sample over its 5x5 footprint."""
    (t, b), (left, r) = _same_pads(height), _same_pads(width)
    padded = np.zeros((height + t + b, width + left + r, y.shape[2]))
    oh, ow = y.shape[:2]
    for a in range(5):
        for c in range(5):
            padded[a : a + 2 * oh : 2, c : c + 2 * ow : 2] += 4 * KERNEL[a, c] * y
    return padded[t : t + height, left : left + width]


def numpy_lap_normalize(grad: np.ndarray, levels: int) -> np.ndarray:
    """The notebook's algorithm on one (H, W, C) image, in float64."""
    bands, low = [], np.asarray(grad, np.float64)
    for _ in range(levels):
        smaller = _down(low)
        bands.append(low - _up(smaller, *low.shape[:2]))
        low = smaller

    def normalise(level):
        return level / max(np.sqrt(np.mean(level**2)), 1e-10)

    merged = normalise(low)
    for band in reversed(bands):
        merged = normalise(band) + _up(merged, *band.shape[:2])
    return merged


@pytest.mark.parametrize(("height", "width", "levels"), [(37, 53, 4), (64, 64, 3), (20, 9, 1)])
def test_matches_numpy_restatement(height, width, levels):
    rng = np.random.default_rng(height)
    batch = rng.standard_normal((2, height, width, 3)).astype(np.float32)
    batch[1] *= 1000.0  # per-element normalisation: a scaled copy must not change the other
    got = lap_normalize(tf.constant(batch), levels).numpy()
    for element, grad in zip(got, batch, strict=True):
        want = numpy_lap_normalize(grad, levels)
        np.testing.assert_allclose(element, want, rtol=0, atol=1e-5 * np.abs(want).max())


def test_bands_have_unit_rms_after_normalising():
    """A gradient that is all one band comes out with RMS about 1 whatever its scale."""
    rng = np.random.default_rng(0)
    grad = rng.standard_normal((1, 64, 64, 3)).astype(np.float32) * 1e-6
    out = lap_normalize(tf.constant(grad), 4).numpy()
    assert 0.5 < np.sqrt(np.mean(out**2)) < 3.0


def test_zero_gradient_stays_zero():
    out = lap_normalize(tf.zeros([1, 16, 16, 3]), 4).numpy()
    assert np.all(out == 0.0)


def test_dream_with_lapnorm_differs_from_notebook_normalisation(net):

    rng = np.random.default_rng(3)
    image = rng.uniform(0, 255, (120, 130, 3)).astype(np.float32)
    settings = DreamSettings(end="inception_3b/output", octave_n=1, iter_n=2)
    plain = deepdream(net, image, settings, seed=0)
    lap = deepdream(net, image, settings.replace(lapnorm=4), seed=0)
    assert np.isfinite(lap).all()
    assert np.abs(lap - image).max() > 1.0  # it moved the image
    assert np.abs(lap - plain).max() > 1.0  # and not as the notebook's normalisation does
