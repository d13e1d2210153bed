"""The Fourier renderer's image parameterisation: a picture as the Fourier coefficients of a
decorrelated colour image, whose spectrum is scaled by 1 / frequency.

Coefficients (N, 3, H, W // 2 + 1, 2) float32 (real and imaginary parts of the 2-D real FFT
of each decorrelated colour plane) -> times the frequency scale -> inverse real FFT ->
(N, H, W, 3) decorrelated colour -> times :data:`COLOUR_SQRT` (transposed, per pixel) ->
logistic sigmoid -> RGB 0-255. Gradient steps on the coefficients then change coarse
structure and fine detail, and the three colour directions, about equally, instead of
letting the high frequencies and the dominant brightness direction take over.

Colour: ImageNet's RGB pixel covariance (pixels on 0-1), as published with its eigenvalues
and eigenvectors by Krizhevsky, Sutskever and Hinton (ImageNet classification with deep
convolutional neural networks, 2012, section 4.1: the "PCA lighting" augmentation; the
numbers as fb.resnet.torch's ``datasets/transforms.lua`` lists them). With C = V diag(l) V^T,
:data:`COLOUR_SQRT` = V diag(sqrt(l / l_1)): a square root of C / l_1 (COLOUR_SQRT @
COLOUR_SQRT.T = C / l_1). Independent unit-variance samples times it have ImageNet's colour
covariance (up to the factor l_1), and ImageNet-coloured samples times its inverse are
uncorrelated with equal variances (l_1 each).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

COLOUR_EIGENVALUES = np.array([0.2175, 0.0188, 0.0045])
"""Eigenvalues of ImageNet's RGB covariance (pixels 0-1), largest first."""
COLOUR_EIGENVECTORS = np.array(
    [
        [-0.5675, 0.7192, 0.4009],
        [-0.5808, -0.0045, -0.8140],
        [-0.5836, -0.6948, 0.4203],
    ]
)
"""Columns: the eigenvectors of :data:`COLOUR_EIGENVALUES`; rows: R, G, B."""
COLOUR_COVARIANCE = COLOUR_EIGENVECTORS @ np.diag(COLOUR_EIGENVALUES) @ COLOUR_EIGENVECTORS.T
"""ImageNet's RGB covariance (pixels 0-1), 3x3, rebuilt from its eigen decomposition."""
COLOUR_SQRT = (COLOUR_EIGENVECTORS * np.sqrt(COLOUR_EIGENVALUES / COLOUR_EIGENVALUES[0])).astype(
    np.float32
)
"""RGB = COLOUR_SQRT @ decorrelated colour (3x3 float32): a square root of
COLOUR_COVARIANCE / its largest eigenvalue."""


def frequency_scale(height: int, width: int, decay: float) -> np.ndarray:
    """(H, W // 2 + 1) float32 factors of the real 2-D FFT's coefficients: 1 / f ** ``decay``
    (f: the frequency in cycles per pixel, at least 1 / max(H, W) so that the mean is finite),
    normalised so that coefficients of unit variance give pixels of about unit variance."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    scale = 1.0 / np.maximum(np.hypot(fy, fx), 1.0 / max(height, width)) ** decay
    # Pixel variance = 2 * sum over the whole plane of scale^2 / (H W)^2; the half plane
    # holds about half of the sum.
    return (scale * height * width / np.sqrt(4.0 * np.sum(scale**2))).astype(np.float32)


class FourierImage:
    """The parameterisation for pictures of ``side`` x ``side`` pixels (see the module)."""

    def __init__(self, side: int, decay: float):
        self.side = side
        self.scale = tf.constant(frequency_scale(side, side, decay))
        self.colour = tf.constant(COLOUR_SQRT)

    def shape(self, count: int) -> tuple[int, ...]:
        """Shape of the coefficients of ``count`` pictures."""
        return (count, 3, self.side, self.side // 2 + 1, 2)

    def to_rgb(self, coefficients: tf.Tensor) -> tf.Tensor:
        """(N, 3, H, W//2+1, 2) coefficients -> (N, H, W, 3) float32 RGB 0-255."""
        # unstack and one (pixels, 3) x (3, 3) product: their gradients are a stack and one
        # product, where slicing and a batched 3x3 matvec per pixel took a fifth of a step.
        real, imaginary = tf.unstack(coefficients, axis=-1)
        spectrum = tf.complex(real, imaginary) * tf.cast(self.scale, tf.complex64)
        planes = tf.signal.irfft2d(spectrum, fft_length=[self.side, self.side])
        decorrelated = tf.transpose(planes, [0, 2, 3, 1])
        pixels = tf.matmul(tf.reshape(decorrelated, [-1, 3]), self.colour, transpose_b=True)
        return 255.0 * tf.sigmoid(tf.reshape(pixels, tf.shape(decorrelated)))

    def from_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_rgb`: (N, H, W, 3) RGB strictly inside 0-255 -> coefficients."""
        unit = np.asarray(rgb, np.float64) / 255.0
        logits = np.log(unit / (1.0 - unit))
        decorrelated = logits @ np.linalg.inv(COLOUR_SQRT.astype(np.float64)).T
        spectrum = np.fft.rfft2(decorrelated.transpose(0, 3, 1, 2)) / self.scale.numpy()
        return np.stack([spectrum.real, spectrum.imag], axis=-1).astype(np.float32)
