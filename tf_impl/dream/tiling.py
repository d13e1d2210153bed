"""Exact tiling of a dream step, so that large images dream in bounded memory.

A step's gradient is a sum over the units of the objective's blob(s). Split the units into
tiles (rectangles in blob space); for each tile, run the network on the crop of the image
that holds the tile units' reach (:mod:`tf_impl.net.receptive_field`), score only the tile's
units, and add the crop's input gradient into the whole gradient. The crops overlap, their
gradients add up. Each crop computes its units exactly as the whole image does, because:

- the crop holds every input pixel the units read; where it meets the image's border it has
  the image's own padding, elsewhere its padding reaches no tile unit;
- its origin is a multiple of the blobs' total stride, so every convolution and pooling grid
  of the crop lines up with the whole image's, and its end is where the image's is modulo
  that stride, so every layer's output size rounds alike and residual branches that line up
  in the image line up in the crop;
- each objective's gradient at a unit depends on that unit alone (L2, channels, the guided
  objective's best-matching guide vector, a class logit at every position, one neuron), so
  scoring a tile's units gives their share of the gradient; a mean (the class logit's) is
  taken over the whole blob's positions.

How each objective scores a tile's units is the objective's own ``tile_score``
(:mod:`tf_impl.dream.objectives`). The step itself (jitter roll, normalisation over the whole
assembled gradient, unroll, clip) is the untiled step's :class:`~tf_impl.dream.step.StepRule`,
run here in place on NumPy arrays (:class:`TiledSteps`), so that besides the image a step holds
one whole-image array, its gradient. Tiling engages only when asked for: a tile size, a
memory budget that the whole image's step would exceed, or (on the CPU, the CLI's default) a
step so large that tiles run it faster (:data:`CPU_FAST_STEP_BYTES`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from conversion.errors import DeepDreamError
from tf_impl.dream.objectives import TileWindow
from tf_impl.dream.settings import is_int
from tf_impl.dream.step import StepRule, aligned_empty
from tf_impl.host.memory import step_memory_available
from tf_impl.net.network import DreamNet
from tf_impl.net.receptive_field import NotLocalError, Reach, blob_reach
from tf_impl.net.shapes import blob_shapes
from tf_impl.net.step_memory import step_memory_needed

# Share of the machine's available memory a step may use by default: the rest is headroom
# for the whole-image arrays (image, gradient, octaves) and for other processes.
DEFAULT_BUDGET_SHARE = 0.6
# On the CPU, a step whose estimate exceeds this runs in tiles of about this size, even where
# memory would allow it whole (docs/tiling.md; 2-core AVX2 EPYC, one-octave 4K dream of the
# synthetic GoogLeNet in fresh processes: with oneDNN, the project's default, tiles under
# 0.5 / 1 / 2 / 4 GiB took 36 / 28 / 25 / 28 s and the whole step 741 s, oneDNN's reference
# convolution for conv2/3x3 at 540x960; with Eigen whole and tiled tie at 36 s, the tiles in
# 2.7 GB against 7.3 GB; 1080p whole 12.3 s, under 2 GiB 12.0 s). With convolution forwards on
# Eigen there (tf_impl/net/cpu_convolution.py) the reference convolution is gone: make bench run
# 4, 4K default 13.0 s / 2.7 GB, whole 20.2 s / 7.4 GB, 1 GiB tiles 17.5 s.
CPU_FAST_STEP_BYTES = 2 * 2**30

# (crop (h, w, 3), windows (blobs, 8) int32, guide) -> d tile score / d crop, (h, w, 3).
CropGradient = Callable[[tf.Tensor, np.ndarray, tf.Tensor], tf.Tensor]


@dataclass(frozen=True)
class TilePolicy:
    """When to tile: ``tile`` (height, width) in pixels forces tiles of about that size
    (rounded up to a multiple of the blobs' stride); else ``max_memory`` (bytes) tiles a
    step whose estimated memory exceeds it, and ``fast_step`` (bytes, below ``max_memory``)
    tiles one that exceeds it where tiles fit it (tiling for speed: :func:`fast_step_bytes`);
    none of them: never tile."""

    max_memory: int | None = None
    tile: tuple[int, int] | None = None
    fast_step: int | None = None

    def __post_init__(self) -> None:
        if self.max_memory is not None and not (is_int(self.max_memory) and self.max_memory > 0):
            raise DeepDreamError(
                f"--max-memory must be a number of bytes above 0 (got {self.max_memory})"
            )
        if self.tile is not None and not (
            len(self.tile) == 2 and all(is_int(t) and t > 0 for t in self.tile)
        ):
            raise DeepDreamError(
                f"--tile must be a height and width above 0, e.g. 512x512 (got {self.tile})"
            )


@dataclass(frozen=True)
class Tile:
    """One crop of the (jittered) image, rows ``y0:y1`` and columns ``x0:x1``, and its
    ``windows``: (blobs, 8) int32, one :class:`~tf_impl.dream.objectives.TileWindow` row per
    objective blob, in the order of ``objective.blobs``."""

    y0: int
    y1: int
    x0: int
    x1: int
    windows: np.ndarray


def fast_step_bytes() -> int | None:
    """The CLI's ``TilePolicy.fast_step``: :data:`CPU_FAST_STEP_BYTES` where the step runs on
    the CPU, None (tile for memory only) where TensorFlow sees a GPU."""
    return None if tf.config.list_physical_devices("GPU") else CPU_FAST_STEP_BYTES


def default_max_memory() -> int | None:
    """The default step budget in bytes: DEFAULT_BUDGET_SHARE of the memory available now
    where the step runs (the GPU's when TensorFlow sees one, else the host's MemAvailable or
    room under a cgroup limit: :func:`~tf_impl.host.memory.step_memory_available`); None when it
    cannot be read."""
    available, _ = step_memory_available()
    return None if available is None else int(available * DEFAULT_BUDGET_SHARE)


def check_tileable(objective) -> None:
    """Raise DeepDreamError for an objective that cannot score a tile (its gradient at a
    unit depends on other units: tiling would change the dream)."""
    for term, _ in getattr(objective, "terms", ()):
        check_tileable(term)
    if not hasattr(objective, "tile_score"):
        raise DeepDreamError(f"tiling does not support the objective {type(objective).__name__}")


def _axis_cores(length: int, tile: int) -> list[tuple[int, int]]:
    return [(start, min(start + tile, length)) for start in range(0, length, tile)]


def _axis_crop(cores, reaches: list[Reach], sizes: list[int], length: int, align: int):
    """For one axis and one core [c0, c1): the crop [a0, a1) and, per blob, the tile's units
    [j0, j1) (empty when j0 == j1)."""
    c0, c1 = cores
    units = []
    for reach, n in zip(reaches, sizes, strict=True):
        j0 = min(n, c0 // reach.stride)
        j1 = n if c1 == length else min(n, c1 // reach.stride)
        units.append((j0, max(j0, j1)))
    held = [(u, r) for u, r in zip(units, reaches, strict=True) if u[1] > u[0]]
    if not held:
        return None, units
    start = min(j0 * r.stride - r.before for (j0, _), r in held)
    end = max((j1 - 1) * r.stride + r.after + 1 for (_, j1), r in held)
    # End the crop where the image's length is modulo ``align``: then every layer's size
    # rounds as on the whole image, so branches that an Eltwise joins (a ceil-rounded pool
    # beside a floor-rounded convolution) line up in the crop wherever they do in the image.
    end = min(length, end + (length - end) % align)
    return (max(0, start // align * align), end), units


def _tiles(reaches, sizes, height: int, width: int, tile_h: int, tile_w: int, align: int):
    """The tiles for core sizes (tile_h, tile_w) (multiples of ``align``)."""
    rows = [
        _axis_crop(c, [r[0] for r in reaches], [s[0] for s in sizes], height, align)
        for c in _axis_cores(height, tile_h)
    ]
    cols = [
        _axis_crop(c, [r[1] for r in reaches], [s[1] for s in sizes], width, align)
        for c in _axis_cores(width, tile_w)
    ]
    tiles = []
    for (y_crop, y_units), (x_crop, x_units) in ((r, c) for r in rows for c in cols):
        if y_crop is None or x_crop is None:
            continue
        windows = []
        for reach, size, (jy0, jy1), (jx0, jx1) in zip(
            reaches, sizes, y_units, x_units, strict=True
        ):
            oy, ox = y_crop[0] // reach[0].stride, x_crop[0] // reach[1].stride
            windows.append(TileWindow(jy0 - oy, jy1 - oy, jx0 - ox, jx1 - ox, oy, ox, *size))
        tiles.append(Tile(*y_crop, *x_crop, np.asarray(windows, np.int32)))
    return tiles


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def plan_tiles(
    net: DreamNet, objective, height: int, width: int, policy: TilePolicy | None
) -> list[Tile] | None:
    """The tiles of a step on a (height, width) image, or None to run it whole (no policy,
    the whole step within the budget, or one tile covering the image).

    Raises DeepDreamError when tiling is needed but cannot be exact (a layer with no fixed
    input window before a blob, an objective that couples positions), or when even the
    smallest tile exceeds the budget.
    """
    if policy is None or (policy.tile is None and policy.max_memory is None):
        return None
    blobs = list(objective.blobs)
    whole = step_memory_needed(net, blobs, height, width)
    limit = policy.max_memory
    if policy.fast_step is not None and policy.tile is None:
        limit = min(
            limit, max(policy.fast_step, _smallest_tile_bytes(net, objective, height, width))
        )
    if policy.tile is None and whole <= limit:
        return None
    advice = (
        "drop --tile"
        if policy.tile is not None
        else f"the whole {height}x{width} step needs about {whole / 1e9:.2f} GB: "
        "give more --max-memory, a smaller image or an earlier --layer"
    )
    try:
        check_tileable(objective)
        reach = blob_reach(net, blobs)
    except NotLocalError as exc:
        raise DeepDreamError(f"cannot tile '{blobs[-1]}' exactly: {exc}; {advice}") from None
    except DeepDreamError as exc:
        raise DeepDreamError(f"{exc}; {advice}") from None
    reaches = [reach[b] for b in blobs]
    shapes = blob_shapes(net, height, width)
    sizes = [shapes[b][:2] for b in blobs]
    align = math.lcm(*(r.stride for pair in reaches for r in pair))

    if policy.tile is not None:
        tile_h, tile_w = (_round_up(max(1, t), align) for t in policy.tile)
    else:
        tile_h = tile_w = _largest_tile(net, blobs, reaches, height, width, align, limit)
    # Even tiles: as many as the size needs, each as small as that count allows.
    tile_h = _round_up(-(-height // -(-height // tile_h)), align)
    tile_w = _round_up(-(-width // -(-width // tile_w)), align)
    if tile_h >= height and tile_w >= width:
        return None
    return _tiles(reaches, sizes, height, width, tile_h, tile_w, align)


def _crop_margin(reaches, align: int) -> int:
    """Pixels a crop adds to its core: the reach, plus up to align - 1 at each end (start and
    end alignment)."""
    return 2 * align + max(r.before + r.after for pair in reaches for r in pair)


def _smallest_tile_bytes(net, objective, height: int, width: int) -> int:
    """The step estimate of the smallest tile's crop (0 where the objective cannot tile:
    plan_tiles then refuses with the reason)."""
    blobs = list(objective.blobs)
    try:
        check_tileable(objective)
        reaches = [blob_reach(net, blobs)[b] for b in blobs]
    except (NotLocalError, DeepDreamError):
        return 0
    align = math.lcm(*(r.stride for pair in reaches for r in pair))
    side = align + _crop_margin(reaches, align)
    return step_memory_needed(net, blobs, min(height, side), min(width, side))


def _largest_tile(net, blobs, reaches, height, width, align, budget: int) -> int:
    """The largest square core side (a multiple of ``align``) whose crops' step estimate fits
    ``budget`` bytes (a binary search: the estimate grows with the side)."""
    margin = _crop_margin(reaches, align)

    def needs(side: int) -> int:
        return step_memory_needed(net, blobs, min(height, side + margin), min(width, side + margin))

    low, high = 1, -(-max(height, width) // align)
    if needs(align) > budget:
        raise DeepDreamError(
            f"--max-memory {budget / 1e9:.2f} GB is too small to tile '{blobs[-1]}': "
            f"its smallest tile needs about {needs(align) / 1e9:.2f} GB; give more --max-memory"
        )
    while low < high:
        middle = (low + high + 1) // 2
        if needs(middle * align) <= budget:
            low = middle
        else:
            high = middle - 1
    return low * align


def tile_windows(objective, windows: tf.Tensor) -> dict[str, TileWindow]:
    """{blob: its TileWindow} from a tile's (blobs, 8) int32 ``windows`` rows."""
    return {blob: TileWindow.of(windows[row]) for row, blob in enumerate(objective.blobs)}


def tiled_gradient(
    crop_gradient: CropGradient,
    image: np.ndarray,
    guide: tf.Tensor,
    tiles: list[Tile],
    shift: tuple[int, int] = (0, 0),
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The whole image's input gradient at ``roll(image, shift)`` (shift: (rows, columns))
    assembled tile by tile from ``crop_gradient`` (the same up to float32 rounding), in the
    memory of one tile, and rolled back: ``out[p]`` is the gradient at the rolled image's
    pixel ``p + shift``. The roll is index arithmetic on the crops, never a whole-image copy.
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
        tile_grad = crop_gradient(tf.constant(crop), t.windows, guide).numpy()
        for (crop_y, image_y), (crop_x, image_x) in ((r, c) for r in rows for c in cols):
            grad[image_y, image_x] += tile_grad[crop_y, crop_x]
    return grad


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


class TiledSteps:
    """An octave's steps run tile by tile, **in place** on a float32 (H, W, 3) NumPy image:
    the whole-image step (:class:`~tf_impl.dream.step.StepRule`) with its gradient assembled
    by :func:`tiled_gradient`, the same step up to float32 rounding. Besides the image, the
    steps hold one whole-image array: the gradient (allocated on the first step)."""

    def __init__(
        self,
        crop_gradient: CropGradient,
        rule: StepRule,
        tiles: list[Tile],
        guide: tf.Tensor,
        step_size: float,
        clip: bool,
    ):
        self.crop_gradient = crop_gradient
        self.rule = rule
        self.tiles = tiles
        self.guide = guide
        self.step_size = step_size
        self.clip = clip
        self._grad: np.ndarray | None = None

    def start(self, base, detail, last: bool) -> np.ndarray:
        """The octave's first image, base + detail (either may be a tensor; detail None:
        zero), as a NumPy array this object may change: the last octave's ``base`` itself
        when it is one (it is not needed afterwards), else a copy."""
        image = base if last and isinstance(base, np.ndarray) else np.array(base, np.float32)
        if detail is not None:
            image += np.asarray(detail)
        return image

    def step(self, image: np.ndarray, offset: Sequence[int]) -> np.ndarray:
        """One jittered step on ``image`` (changed and returned); ``offset``: (ox, oy)."""
        shift = (int(offset[1]), int(offset[0]))  # (oy along height, ox along width)
        if self._grad is None:
            self._grad = aligned_empty(image.shape)
        grad = tiled_gradient(self.crop_gradient, image, self.guide, self.tiles, shift, self._grad)
        self.rule.update_in_place(grad, shift, self.step_size)
        image += grad
        self.rule.clip_in_place(image, self.clip)
        return image

    @staticmethod
    def result(image: np.ndarray) -> np.ndarray:
        """The dreamed network-input image as a NumPy array this function's caller owns."""
        return image
