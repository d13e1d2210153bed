"""DeepDream: the original notebook's algorithm (Google, 2015), compiled with TensorFlow.

The notebook, restated (images are network inputs: HWC, BGR, mean-subtracted, 0-255 scale):

    make_step: ox, oy = randint(-jitter, jitter + 1, 2)      # ox: width axis, oy: height
               src = roll(img, (oy, ox)); forward to the objective's blob(s)
               g = d objective / d src                        # L2: the gradient set = a
               src += step_size / mean(|g|) * g; img = roll(src, (-oy, -ox))
               if clip: img = clip(img, -mean, 255 - mean)    # per channel
    deepdream: octaves = [img, zoom(img, 1/1.4), zoom(zoom(img, 1/1.4), 1/1.4), ...]
               (scipy.ndimage.zoom order=1: aligned-corner bilinear, size round(H*z))
               detail = 0; for each octave, smallest first: detail = zoom(detail, to size);
               img = base + detail; iter_n make_steps; detail = img - base
               return deprocess(img)

One ``tf.function`` runs a whole step (roll, forward, gradient, normalise, unroll, clip); its
input signature has dynamic height and width, so it is traced once per (net, objective) and
reused for every octave and image size. The steps are called one by one from Python (a
``tf.while_loop`` over them missed TensorFlow's oneDNN graph rewrites on CPU and ran 1.4x
slower). Only the input gradient is computed (no weight gradients). Step size is in 0-255
pixel units whatever the model's input scaling. The settings and their defaults are
:mod:`tf_impl.dream.settings`'s.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from conversion.errors import DeepDreamError
from tf_impl.dream.lapnorm import lap_normalize
from tf_impl.dream.objectives import L2, Guided
from tf_impl.dream.resample import zoom_bilinear_graph, zoom_factor_size
from tf_impl.dream.settings import NOTEBOOK, DreamSettings
from tf_impl.dream.tiling import Tile, TilePolicy, plan_tiles, tile_score
from tf_impl.net.input_size import fits_searched
from tf_impl.net.network import DreamNet, run_model
from tf_impl.net.shapes import blob_shapes

DEFAULT_END = NOTEBOOK.end
NO_GUIDE = tf.zeros([0, 0], tf.float32)

StepCallback = Callable[[int, int], None]


def draw_offsets(rng: np.random.RandomState, n_steps: int, jitter: int) -> np.ndarray:
    """(n_steps, 2) int32 (ox, oy) jitter draws from ``rng``, as the notebook's
    ``np.random.randint(-jitter, jitter + 1, 2)`` per step."""
    draws = [rng.randint(-jitter, jitter + 1, 2) for _ in range(n_steps)]
    return np.asarray(draws, dtype=np.int32).reshape(n_steps, 2)


def jitter_offsets(n_steps: int, jitter: int, seed: int | None = None) -> np.ndarray:
    """:func:`draw_offsets` from a fresh generator: with ``seed`` the same stream as the
    notebook's after ``np.random.seed(seed)``."""
    return draw_offsets(np.random.RandomState(seed), n_steps, jitter)


class Dreamer:
    """Compiled DeepDream steps for one network and one objective.

    ``step`` is one ``tf.function`` (dynamic height and width): :attr:`traces` says how often
    it was traced (once, whatever the image and octave sizes). ``lapnorm``: 0 for the
    notebook's gradient normalisation (divide by mean |g|), or N > 0 for the Laplacian-pyramid
    normalisation with N levels (:func:`tf_impl.dream.lapnorm.lap_normalize`; the step is then
    ``step_size`` times the normalised gradient).
    """

    def __init__(self, net: DreamNet, objective, lapnorm: int = 0):
        self.objective = objective
        self.lapnorm = lapnorm
        self.model = net.submodel(list(objective.blobs))
        lower, upper = net.input_bounds()
        self._bounds = (np.float32(lower), np.float32(upper))  # (3,) each, for tiled steps
        self._lower = tf.constant(lower, tf.float32)
        self._upper = tf.constant(upper, tf.float32)
        self._pixel_scale = float(net.scale)
        self.step = tf.function(
            self._step,
            input_signature=[
                tf.TensorSpec([None, None, 3], tf.float32, name="image"),
                tf.TensorSpec([2], tf.int32, name="offset"),
                tf.TensorSpec([], tf.float32, name="step_size"),
                tf.TensorSpec([], tf.bool, name="clip"),
                tf.TensorSpec([None, None], tf.float32, name="guide"),
            ],
        )
        self._tile_gradient = tf.function(
            self._crop_gradient,
            input_signature=[
                tf.TensorSpec([None, None, 3], tf.float32, name="crop"),
                tf.TensorSpec([len(objective.blobs), None], tf.int32, name="windows"),
                tf.TensorSpec([None, None], tf.float32, name="guide"),
            ],
        )

    def activations(self, batch: tf.Tensor) -> dict[str, tf.Tensor]:
        """{blob: (1, h, w, c) float32} for a (1, H, W, 3) float32 network-input batch,
        whatever the net computes in (:func:`~tf_impl.net.network.run_model`)."""
        outputs = run_model(self.model, batch)
        return dict(zip(self.objective.blobs, outputs, strict=True))

    @property
    def traces(self) -> int:
        """How many times :attr:`step` has been traced (compiled)."""
        return self.step.experimental_get_tracing_count()

    def gradient(self, image: tf.Tensor, guide: tf.Tensor = NO_GUIDE) -> tf.Tensor:
        """d objective / d image for a network-input image (H, W, 3), same layout."""
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(image)
            score = self.objective(self.activations(image[None]), guide)
        return tape.gradient(score, image)

    def _step(self, image, offset, step_size, clip, guide):
        """One notebook make_step on a network-input image (H, W, 3); offset = (ox, oy)."""
        shift = tf.stack([offset[1], offset[0]])  # (oy along height, ox along width)
        shifted = tf.roll(image, shift=shift, axis=[0, 1])
        grad = self.gradient(shifted, guide)
        if self.lapnorm:
            update = step_size * self._pixel_scale * lap_normalize(grad[None], self.lapnorm)[0]
        else:
            # A zero gradient (e.g. a dead channel) must leave the image unchanged, not NaN.
            mean_abs = tf.reduce_mean(tf.abs(grad))
            update = tf.math.divide_no_nan(step_size * self._pixel_scale, mean_abs) * grad
        image = tf.roll(shifted + update, shift=-shift, axis=[0, 1])
        clipped = tf.clip_by_value(image, self._lower, self._upper)
        return tf.where(clip, clipped, image)

    def _crop_gradient(self, crop, windows, guide):
        """d (objective on one tile's units) / d crop, for a crop (h, w, 3) of the image."""
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(crop)
            score = tile_score(self.objective, self.activations(crop[None]), guide, windows)
        return tape.gradient(score, crop)

    def tiled_gradient(
        self,
        image: np.ndarray,
        guide: tf.Tensor,
        tiles: list[Tile],
        shift: tuple[int, int] = (0, 0),
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """:meth:`gradient` at ``roll(image, shift)`` (shift: (rows, columns)) assembled tile
        by tile (:mod:`tf_impl.dream.tiling`), the same up to float32 rounding, in the memory of
        one tile, and rolled back: ``out[p]`` is the gradient at the rolled image's pixel
        ``p + shift``. The roll is index arithmetic on the crops, never a whole-image copy.
        (H, W, 3) network input in; ``out`` (H, W, 3) float32 (allocated when None) is
        overwritten and returned."""
        height, width = image.shape[:2]
        grad = aligned_empty(image.shape) if out is None else out
        grad.fill(0.0)
        for t in tiles:
            rows = _wrapped(t.y0, t.y1, shift[0], height)
            cols = _wrapped(t.x0, t.x1, shift[1], width)
            crop = np.empty((t.y1 - t.y0, t.x1 - t.x0, 3), np.float32)
            for (crop_y, image_y), (crop_x, image_x) in ((r, c) for r in rows for c in cols):
                crop[crop_y, crop_x] = image[image_y, image_x]
            tile_grad = self._tile_gradient(tf.constant(crop), t.windows, guide).numpy()
            for (crop_y, image_y), (crop_x, image_x) in ((r, c) for r in rows for c in cols):
                grad[image_y, image_x] += tile_grad[crop_y, crop_x]
        return grad

    def tiled_step(
        self,
        image: np.ndarray,
        offset: Sequence[int],
        step_size: float,
        clip: bool,
        guide: tf.Tensor,
        tiles: list[Tile],
        grad: np.ndarray | None = None,
    ) -> None:
        """:attr:`step` with :meth:`tiled_gradient` for the gradient, **in place** on the
        float32 (H, W, 3) ``image`` (the same step up to float32 rounding): jitter roll,
        normalisation over the whole assembled gradient, unroll, clip. ``offset``: (ox, oy).
        ``grad``: an (H, W, 3) float32 scratch array to reuse across steps (else allocated).
        Besides the image, the step holds one whole-image array: the gradient."""
        shift = (int(offset[1]), int(offset[0]))  # (oy along height, ox along width)
        grad = self.tiled_gradient(image, guide, tiles, shift, grad)
        if self.lapnorm:
            # The pyramid is not shift-invariant: normalise the jittered gradient, as untiled.
            rolled = tf.roll(_tensor_view(grad), shift=shift, axis=[0, 1])
            update = lap_normalize(rolled[None], self.lapnorm)[0]
            grad[...] = tf.roll(update, shift=[-shift[0], -shift[1]], axis=[0, 1]).numpy()
            grad *= np.float32(step_size) * np.float32(self._pixel_scale)
        else:
            # TensorFlow's float32 mean, as untiled: a mean rounded otherwise (e.g. summed in
            # float64) moves every pixel of the step a little, and later steps amplify that.
            mean_abs = np.float32(tf.reduce_mean(tf.abs(_tensor_view(grad))))
            # A zero gradient (e.g. a dead channel) must leave the image unchanged, not NaN.
            scaled = np.float32(step_size) * np.float32(self._pixel_scale)
            grad *= scaled / mean_abs if mean_abs > 0 else np.float32(0.0)
        image += grad
        if clip:
            np.clip(image, *self._bounds, out=image)

    def guide_features(self, guide_image: np.ndarray | None) -> tf.Tensor:
        """(m, c) guide vectors at the objective's blob for a network-input guide image (at
        its own size, no jitter), or an empty (0, 0) tensor when there is no guide."""
        if guide_image is None:
            return NO_GUIDE
        (blob,) = self.objective.blobs
        features = self.activations(tf.constant(guide_image[None], tf.float32))[blob]
        return tf.reshape(features, [-1, features.shape[-1]])


# TensorFlow's CPU tensors are aligned to this many bytes; it reads a NumPy array so aligned
# in place (through DLPack), any other by copying it first.
TENSOR_ALIGNMENT = 64


def aligned_empty(shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised float32 array of ``shape`` whose data starts on a
    :data:`TENSOR_ALIGNMENT` boundary, so :func:`_tensor_view` needs no copy of it."""
    size = int(np.prod(shape)) * 4
    raw = np.empty(size + TENSOR_ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % TENSOR_ALIGNMENT
    return raw[start : start + size].view(np.float32).reshape(shape)


def _tensor_view(array: np.ndarray) -> tf.Tensor:
    """A tensor reading ``array``'s memory (no copy) when it is aligned and contiguous, else
    a copy. Drop the tensor before changing the array."""
    if array.flags.c_contiguous and array.ctypes.data % TENSOR_ALIGNMENT == 0:
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.constant(array)


def _wrapped(start: int, stop: int, shift: int, length: int) -> list[tuple[slice, slice]]:
    """Positions ``start:stop`` of an axis of ``length`` rolled by ``shift`` (as np.roll):
    [(slice of the crop, slice of the unrolled axis)], one pair, or two where it wraps."""
    first = (start - shift) % length
    size = stop - start
    head = min(size, length - first)
    pairs = [(slice(0, head), slice(first, first + head))]
    if head < size:
        pairs.append((slice(head, size), slice(0, size - head)))
    return pairs


# {net: {objective: Dreamer}}: compiled steps live as long as their network, and no longer.
_DREAMERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def dreamer_for(net: DreamNet, objective, lapnorm: int = 0) -> Dreamer:
    """The cached :class:`Dreamer` of ``net`` for ``objective`` and ``lapnorm`` (built on
    first use)."""
    dreamers = _DREAMERS.setdefault(net, {})
    if (objective, lapnorm) not in dreamers:
        dreamers[(objective, lapnorm)] = Dreamer(net, objective, lapnorm)
    return dreamers[(objective, lapnorm)]


def octave_sizes(height: int, width: int, octave_n: int, octave_scale: float) -> list:
    """[(h, w)] of the octaves, largest (the image) first, by scipy.ndimage.zoom's rule."""
    sizes = [(height, width)]
    for _ in range(octave_n - 1):
        sizes.append(zoom_factor_size(*sizes[-1], 1.0 / octave_scale))
    return sizes


def check_dream_size(net: DreamNet, blobs: Sequence[str], sizes: list) -> None:
    """Raise DeepDreamError when the smallest octave is too small for any of ``blobs``,
    saying the minimum image size and how many octaves the image allows."""

    def fits(size):
        shapes = blob_shapes(net, *size)
        return all(min(shapes[b]) > 0 for b in blobs)

    if fits(sizes[-1]):
        return
    allowed = next((k for k in range(len(sizes), 0, -1) if fits(sizes[k - 1])), 0)
    minimum = next(s for s in range(1, 4096) if fits_searched(net, blobs, s, s))
    height, width = sizes[0]
    octaves = f"{len(sizes)} octave" + ("s" if len(sizes) > 1 else "")
    advice = f"use --octaves {allowed} or a larger image" if allowed else "use a larger image"
    raise DeepDreamError(
        f"a {height}x{width} image is too small for {octaves}: the smallest octave "
        f"({sizes[-1][0]}x{sizes[-1][1]}) is below {minimum}x{minimum}, the smallest "
        f"input for which '{blobs[0]}' is not empty; {advice}"
    )


def deepdream(
    net: DreamNet,
    rgb: np.ndarray,
    *,
    objective=None,
    end: str = NOTEBOOK.end,
    iter_n: int = NOTEBOOK.iter_n,
    octave_n: int = NOTEBOOK.octave_n,
    octave_scale: float = NOTEBOOK.octave_scale,
    step_size: float = NOTEBOOK.step_size,
    jitter: int = NOTEBOOK.jitter,
    clip: bool = NOTEBOOK.clip,
    offsets: Sequence[Sequence[int]] | np.ndarray | None = None,
    seed: int | None = None,
    guide: np.ndarray | None = None,
    on_step: StepCallback | None = None,
    lapnorm: int = NOTEBOOK.lapnorm,
    tiling: TilePolicy | None = None,
) -> np.ndarray:
    """Dream on an image, exactly as the original notebook's ``deepdream``.

    rgb: (H, W, 3) RGB, 0-255 (uint8 or float). Returns float32 (H, W, 3) RGB 0-255, not
    rounded (the notebook's deprocessed output). ``objective`` defaults to L2 at ``end``, or
    to the guided objective at ``end`` when ``guide`` (an RGB image) is given. Jitter
    offsets: ``offsets`` ((octave_n * iter_n, 2) of (ox, oy), smallest octave first) replays
    a run step for step; otherwise drawn from ``seed``. ``on_step(octave, step)`` is called
    after each step. ``lapnorm`` > 0 replaces the notebook's gradient normalisation by the
    Laplacian-pyramid one with that many levels (see :class:`Dreamer`). ``tiling`` (none by
    default) runs steps tile by tile when it says so (:mod:`tf_impl.dream.tiling`: the same dream up
    to float32 rounding). The settings are
    checked by :class:`~tf_impl.dream.settings.DreamSettings` (DeepDreamError for values out of
    range).
    """
    settings = DreamSettings(iter_n, octave_n, octave_scale, step_size, jitter, clip, end, lapnorm)
    if objective is None:
        objective = Guided(end) if guide is not None else L2(end)
    rgb = np.asarray(rgb)
    sizes = octave_sizes(rgb.shape[0], rgb.shape[1], octave_n, octave_scale)
    check_dream_size(net, objective.blobs, sizes)
    n_steps = settings.steps()
    if offsets is None:
        offsets = jitter_offsets(n_steps, jitter, seed)
    offsets = np.asarray(offsets, dtype=np.int32).reshape(-1, 2)
    if len(offsets) != n_steps:
        raise DeepDreamError(f"{len(offsets)} jitter offsets given, {n_steps} steps to run")

    plans = [plan_tiles(net, objective, *size, tiling) for size in reversed(sizes)]
    dreamer = dreamer_for(net, objective, lapnorm)
    guide_features = dreamer.guide_features(None if guide is None else net.preprocess(guide))
    # The largest octave's base stays a NumPy array that this function owns: a tiled last
    # octave dreams on it in place (the fewer whole-image arrays, the larger the image).
    bases = [net.preprocess(rgb)]
    for size in sizes[1:]:
        bases.append(zoom_bilinear_graph(bases[-1], tf.constant(size, tf.int32)))
    if plans[-1] is None:
        bases[0] = tf.constant(bases[0])
    step_size_t = tf.constant(step_size, tf.float32)
    clip_t = tf.constant(clip)
    detail = tf.zeros_like(bases[-1]) if plans[0] is None else None  # None: zero
    for octave, tiles in enumerate(plans):
        last = octave == len(plans) - 1
        base, bases[-1 - octave] = bases[-1 - octave], None  # smaller bases: freed when done
        if octave > 0:
            detail = zoom_bilinear_graph(detail, tf.constant(tuple(base.shape[:2]), tf.int32))
        steps = offsets[octave * iter_n : (octave + 1) * iter_n]
        if tiles is None:
            dreamed = base + detail
            for step, offset in enumerate(steps):
                offset_t = tf.constant(offset)
                dreamed = dreamer.step(dreamed, offset_t, step_size_t, clip_t, guide_features)
                if on_step:
                    on_step(octave, step)
        else:
            dreamed = base if last else np.array(base, np.float32)
            if detail is not None:
                dreamed += np.asarray(detail)
            detail = grad = None
            for step, offset in enumerate(steps):
                grad = aligned_empty(dreamed.shape) if grad is None else grad
                dreamer.tiled_step(dreamed, offset, step_size, clip, guide_features, tiles, grad)
                if on_step:
                    on_step(octave, step)
            del grad
        detail = None if last else dreamed - base
        del base
    if isinstance(dreamed, np.ndarray):  # a tiled last octave's own array: no copy needed
        return net.deprocess(dreamed, in_place=True)
    return net.deprocess(dreamed.numpy())


def input_gradient(net: DreamNet, net_image: np.ndarray, end: str = DEFAULT_END) -> np.ndarray:
    """Gradient of 0.5 * sum(a^2) at blob ``end`` w.r.t. a network-input image (H, W, 3):
    what Caffe's backward gives with the blob's diff set to its data. Same layout as the input."""
    image = tf.constant(np.asarray(net_image, np.float32))
    return dreamer_for(net, L2(end)).gradient(image).numpy()
