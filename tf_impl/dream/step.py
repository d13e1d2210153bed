"""One dream step, written once: the notebook's ``make_step`` around a gradient.

    src = roll(img, shift); g = gradient(src)
    src += step_size / mean(|g|) * g        # or step_size * lap_normalize(g) (lapnorm > 0)
    img = roll(src, -shift); if clip: img = clip(img, lower, upper)

:class:`StepRule` holds the update (normalised gradient times the step size) and the clip;
every step of the project goes through it: the whole-image dream step (one TensorFlow graph,
:class:`tf_impl.dream.deepdream.Dreamer`), the tiled step (NumPy arrays updated in place,
:class:`tf_impl.dream.tiling.TiledSteps`, the same numbers as the graph's) and the atlas's
feature renderer (a batch of images, no clip). Images are network inputs, NHWC float32
(mean-subtracted, the model's scale); step sizes are in 0-255 pixel units.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tf_impl.dream.lapnorm import lap_normalize
from tf_impl.net.network import DreamNet

# TensorFlow's CPU tensors are aligned to this many bytes; it reads a NumPy array so aligned
# in place (through DLPack), any other by copying it first.
TENSOR_ALIGNMENT = 64


def gain(grad: tf.Tensor, step_scale: tf.Tensor) -> tf.Tensor:
    """The notebook's normalisation factor ``step_scale / mean(|grad|)`` per batch element,
    (N, 1, 1, 1) float32 for an (N, H, W, 3) ``grad``; 0 where the gradient is all zero (a
    dead channel leaves the image unchanged, not NaN)."""
    mean_abs = tf.reduce_mean(tf.abs(grad), axis=[1, 2, 3], keepdims=True)
    return tf.math.divide_no_nan(step_scale, mean_abs)


@dataclass(frozen=True)
class StepRule:
    """The update and the clip of a step on a network's input images.

    ``pixel_scale``: the network's input units per 0-255 pixel unit; ``lapnorm``: 0 for the
    notebook's normalisation (divide by mean |g|), N > 0 for the Laplacian-pyramid one with N
    levels (:func:`~tf_impl.dream.lapnorm.lap_normalize`); ``lower``, ``upper``: (3,) float32
    network-input values of pixels 0 and 255, the clip's bounds.
    """

    pixel_scale: float
    lapnorm: int
    lower: np.ndarray
    upper: np.ndarray

    @classmethod
    def of(cls, net: DreamNet, lapnorm: int) -> StepRule:
        """The rule for ``net``'s input scaling and bounds."""
        lower, upper = net.input_bounds()
        return cls(float(net.scale), lapnorm, np.float32(lower), np.float32(upper))

    def step_scale(self, step_size: float | tf.Tensor) -> tf.Tensor:
        """``step_size`` (0-255 pixel units) in network-input units, a float32 scalar (the
        float32 product, whatever ``step_size`` arrives as)."""
        return tf.cast(step_size, tf.float32) * tf.constant(self.pixel_scale, tf.float32)

    def update(self, grad: tf.Tensor, step_size: float | tf.Tensor) -> tf.Tensor:
        """What the step adds: (N, H, W, 3) gradient -> (N, H, W, 3), each element normalised
        on its own."""
        step_scale = self.step_scale(step_size)
        if self.lapnorm:
            return step_scale * lap_normalize(grad, self.lapnorm)
        return gain(grad, step_scale) * grad

    def clip(self, images: tf.Tensor, clip: bool | tf.Tensor) -> tf.Tensor:
        """``images`` clipped to the pixel range 0-255 where ``clip`` (a bool or a bool
        tensor) says so."""
        clipped = tf.clip_by_value(images, self.lower, self.upper)
        return tf.where(clip, clipped, images)

    def step(
        self,
        images: tf.Tensor,
        shift: tf.Tensor,
        gradient: Callable[[tf.Tensor], tf.Tensor],
        step_size: float | tf.Tensor,
        clip: bool | tf.Tensor | None,
    ) -> tf.Tensor:
        """One step on (N, H, W, 3) ``images``: roll by ``shift`` ((2,) int32: rows,
        columns), ``gradient`` of the rolled batch (same shape), update, roll back, clip
        (``None``: no clip op at all)."""
        shifted = tf.roll(images, shift=shift, axis=[1, 2])
        updated = shifted + self.update(gradient(shifted), step_size)
        images = tf.roll(updated, shift=-shift, axis=[1, 2])
        return images if clip is None else self.clip(images, clip)

    def update_in_place(self, grad: np.ndarray, shift: tuple[int, int], step_size: float) -> None:
        """:meth:`update`'s numbers written into ``grad``, an (H, W, 3) float32 gradient of
        the image rolled by ``shift`` (rows, columns) and already rolled back: the same
        numbers as the graph's step, without a second whole-image array on the NumPy side."""
        if self.lapnorm:
            # The pyramid is not shift-invariant: normalise the jittered gradient, as untiled.
            rolled = tf.roll(tensor_view(grad)[None], shift=shift, axis=[1, 2])
            update = tf.roll(self.update(rolled, step_size), shift=[-s for s in shift], axis=[1, 2])
            grad[...] = update.numpy()[0]
        else:  # a factor: TensorFlow's float32 mean and division, NumPy's float32 product
            grad *= gain(tensor_view(grad)[None], self.step_scale(step_size)).numpy().ravel()[0]

    def clip_in_place(self, image: np.ndarray, clip: bool) -> None:
        """:meth:`clip` on an (H, W, 3) float32 NumPy image, in place."""
        if clip:
            np.clip(image, self.lower, self.upper, out=image)


def aligned_empty(shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised float32 array of ``shape`` whose data starts on a
    :data:`TENSOR_ALIGNMENT` boundary, so :func:`tensor_view` needs no copy of it."""
    size = int(np.prod(shape)) * 4
    raw = np.empty(size + TENSOR_ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % TENSOR_ALIGNMENT
    return raw[start : start + size].view(np.float32).reshape(shape)


def tensor_view(array: np.ndarray) -> tf.Tensor:
    """A tensor reading ``array``'s memory (no copy) when it is aligned and contiguous, else
    a copy. Drop the tensor before changing the array."""
    if array.flags.c_contiguous and array.ctypes.data % TENSOR_ALIGNMENT == 0:
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.constant(array)
