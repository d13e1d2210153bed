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
from tf_impl.dream.objectives import L2, Guided
from tf_impl.dream.resample import zoom_bilinear_graph, zoom_factor_size
from tf_impl.dream.settings import NOTEBOOK, DreamSettings
from tf_impl.dream.step import StepRule
from tf_impl.dream.tiling import Tile, TiledSteps, TilePolicy, plan_tiles, tile_windows
from tf_impl.net.input_size import fits, smallest_side
from tf_impl.net.network import DreamNet, run_model

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
    ``step_size`` times the normalised gradient). The step's update and clip are
    :class:`~tf_impl.dream.step.StepRule`'s; ``crop_gradient`` is the gradient of one tile's
    score for tiled steps (:class:`~tf_impl.dream.tiling.TiledSteps`).
    """

    def __init__(self, net: DreamNet, objective, lapnorm: int = 0):
        self.objective = objective
        self.rule = StepRule.of(net, lapnorm)
        self.model = net.submodel(list(objective.blobs))
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
        self.crop_gradient = tf.function(
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
        return self._batch_gradient(image[None], guide)[0]

    def _batch_gradient(self, batch: tf.Tensor, guide: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(batch)
            score = self.objective(self.activations(batch), guide)
        return tape.gradient(score, batch)

    def _step(self, image, offset, step_size, clip, guide):
        """One notebook make_step on a network-input image (H, W, 3); offset = (ox, oy)."""
        shift = tf.stack([offset[1], offset[0]])  # (oy along height, ox along width)
        gradient = lambda batch: self._batch_gradient(batch, guide)  # noqa: E731
        return self.rule.step(image[None], shift, gradient, step_size, clip)[0]

    def _crop_gradient(self, crop, windows, guide):
        """d (objective on one tile's units) / d crop, for a crop (h, w, 3) of the image."""
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(crop)
            acts = self.activations(crop[None])
            score = self.objective.tile_score(acts, guide, tile_windows(self.objective, windows))
        return tape.gradient(score, crop)

    def guide_features(self, guide_image: np.ndarray | None) -> tf.Tensor:
        """(m, c) guide vectors at the objective's blob for a network-input guide image (at
        its own size, no jitter), or an empty (0, 0) tensor when there is no guide."""
        if guide_image is None:
            return NO_GUIDE
        (blob,) = self.objective.blobs
        features = self.activations(tf.constant(guide_image[None], tf.float32))[blob]
        return tf.reshape(features, [-1, features.shape[-1]])


class WholeSteps:
    """An octave's steps on the whole image at once: :attr:`Dreamer.step`, on tensors."""

    def __init__(self, dreamer: Dreamer, guide: tf.Tensor, step_size: float, clip: bool):
        self.dreamer = dreamer
        self.guide = guide
        self.step_size = tf.constant(step_size, tf.float32)
        self.clip = tf.constant(clip)

    @staticmethod
    def start(base, detail, last: bool) -> tf.Tensor:
        """The octave's first image: base + detail (detail None: zero)."""
        base = tf.convert_to_tensor(base)
        return base if detail is None else base + detail

    def step(self, image: tf.Tensor, offset: Sequence[int]) -> tf.Tensor:
        """One jittered step; ``offset``: (ox, oy)."""
        return self.dreamer.step(image, tf.constant(offset), self.step_size, self.clip, self.guide)

    @staticmethod
    def result(image: tf.Tensor) -> np.ndarray:
        """The dreamed network-input image as a NumPy array the caller owns."""
        return np.array(image)


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

    if fits(net, blobs, *sizes[-1]):
        return
    allowed = next((k for k in range(len(sizes), 0, -1) if fits(net, blobs, *sizes[k - 1])), 0)
    minimum = smallest_side(net, blobs)
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
    settings: DreamSettings = NOTEBOOK,
    *,
    objective=None,
    guide: np.ndarray | None = None,
    tiling: TilePolicy | None = None,
    offsets: Sequence[Sequence[int]] | np.ndarray | None = None,
    seed: int | None = None,
    on_step: StepCallback | None = None,
) -> np.ndarray:
    """Dream on an image, exactly as the original notebook's ``deepdream``.

    rgb: (H, W, 3) RGB, 0-255 (uint8 or float). Returns float32 (H, W, 3) RGB 0-255, not
    rounded (the notebook's deprocessed output). ``settings``: the notebook's keyword
    arguments, checked when they were made (:class:`~tf_impl.dream.settings.DreamSettings`;
    ``settings.lapnorm`` > 0 replaces the gradient normalisation by the Laplacian-pyramid
    one). ``objective`` defaults to L2 at ``settings.end``, or to the guided objective there
    when ``guide`` (an RGB image) is given. ``tiling`` (none by default) runs steps tile by
    tile when it says so (:mod:`tf_impl.dream.tiling`: the same dream up to float32
    rounding); above ~2 megapixels on a CPU pass the command line's
    ``TilePolicy(max_memory=default_max_memory(), fast_step=fast_step_bytes())``, faster
    there and in a third of the memory (4K: 13.0 s and 2.7 GB against 20.2 s and 7.4 GB).
    Jitter offsets: ``offsets`` ((octave_n * iter_n, 2) of (ox, oy), smallest octave first)
    replays a run step for step; otherwise drawn from ``seed``. ``on_step(octave, step)`` is
    called after each step.
    """
    if objective is None:
        objective = Guided(settings.end) if guide is not None else L2(settings.end)
    rgb = np.asarray(rgb)
    sizes = octave_sizes(rgb.shape[0], rgb.shape[1], settings.octave_n, settings.octave_scale)
    check_dream_size(net, objective.blobs, sizes)
    offsets = _step_offsets(settings, offsets, seed)
    plans = [plan_tiles(net, objective, *size, tiling) for size in reversed(sizes)]
    dreamer = dreamer_for(net, objective, settings.lapnorm)
    guide_t = dreamer.guide_features(None if guide is None else net.preprocess(guide))

    def steps_for(tiles: list[Tile] | None) -> WholeSteps | TiledSteps:
        step_size, clip = settings.step_size, settings.clip
        if tiles is None:
            return WholeSteps(dreamer, guide_t, step_size, clip)
        return TiledSteps(dreamer.crop_gradient, dreamer.rule, tiles, guide_t, step_size, clip)

    image = _octave_loop(net.preprocess(rgb), sizes, plans, steps_for, offsets, on_step)
    return net.deprocess(image, in_place=True)


def _step_offsets(settings: DreamSettings, offsets, seed: int | None) -> np.ndarray:
    """(steps, 2) int32 jitter offsets: ``offsets`` checked against the step count, or drawn
    from ``seed``."""
    n_steps = settings.steps()
    if offsets is None:
        return jitter_offsets(n_steps, settings.jitter, seed)
    offsets = np.asarray(offsets, dtype=np.int32).reshape(-1, 2)
    if len(offsets) != n_steps:
        raise DeepDreamError(f"{len(offsets)} jitter offsets given, {n_steps} steps to run")
    return offsets


def _octave_loop(image: np.ndarray, sizes, plans, steps_for, offsets, on_step) -> np.ndarray:
    """The notebook's octave loop on a network-input image (H, W, 3) float32 (reused):
    octave bases smallest first, the detail dreamed so far carried up to each, ``iter_n``
    steps per octave by that octave's steps (``steps_for(tiles)``: :class:`WholeSteps` or
    :class:`~tf_impl.dream.tiling.TiledSteps`, each freed with its octave). Returns the dreamed
    image, an array the caller owns."""
    octaves = [image]  # largest first; each freed once dreamed
    for size in sizes[1:]:
        octaves.append(zoom_bilinear_graph(octaves[-1], tf.constant(size, tf.int32)))
    del image
    iter_n = len(offsets) // len(sizes)
    detail = None  # zero
    for octave, tiles in enumerate(plans):
        steps = steps_for(tiles)
        base = octaves.pop()
        if detail is not None:  # upscale the details from the previous octave
            detail = zoom_bilinear_graph(detail, tf.constant(tuple(base.shape[:2]), tf.int32))
        image = steps.start(base, detail, last=not octaves)
        for step, offset in enumerate(offsets[octave * iter_n : (octave + 1) * iter_n]):
            image = steps.step(image, offset)
            if on_step:
                on_step(octave, step)
        detail = image - base if octaves else None  # extract details produced on this octave
        del base
    return steps.result(image)


def input_gradient(net: DreamNet, net_image: np.ndarray, end: str = DEFAULT_END) -> np.ndarray:
    """Gradient of 0.5 * sum(a^2) at blob ``end`` w.r.t. a network-input image (H, W, 3):
    what Caffe's backward gives with the blob's diff set to its data. Same layout as the input."""
    image = tf.constant(np.asarray(net_image, np.float32))
    return dreamer_for(net, L2(end)).gradient(image).numpy()
