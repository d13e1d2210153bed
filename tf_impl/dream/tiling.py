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

The step itself (jitter roll, normalisation by mean |g| over the whole assembled gradient,
unroll, clip) is the untiled step's (:class:`tf_impl.dream.deepdream.Dreamer`). Tiling engages only
when asked for: a tile size, or a memory budget that the whole image's step would exceed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from conversion.errors import DeepDreamError
from tf_impl.dream.objectives import L2, Channels, ClassLogit, Guided, Neuron, WeightedSum
from tf_impl.host.memory import step_memory
from tf_impl.net.network import DreamNet
from tf_impl.net.receptive_field import NotLocalError, Reach, blob_reach
from tf_impl.net.shapes import blob_shapes
from tf_impl.net.step_memory import step_memory_bytes

# Share of the machine's available memory a step may use by default: the rest is headroom
# for the whole-image arrays (image, gradient, octaves) and for other processes.
DEFAULT_BUDGET_SHARE = 0.6

# Objectives whose value is a sum over the blob's units of a function of that unit alone.
_SUMS_OVER_UNITS = (L2, Channels, Guided)

# One row per objective blob, int32, in blob units: the tile's units [y0, y1) x [x0, x1) in
# the crop's blob, the crop's blob origin (oy, ox) in the whole blob, the whole blob (h, w).
WINDOW_COLUMNS = 8


@dataclass(frozen=True)
class TilePolicy:
    """When to tile: ``tile`` (height, width) in pixels forces tiles of about that size
    (rounded up to a multiple of the blobs' stride); else ``max_memory`` (bytes) tiles a
    step whose estimated memory exceeds it; neither: never tile."""

    max_memory: int | None = None
    tile: tuple[int, int] | None = None


@dataclass(frozen=True)
class Tile:
    """One crop of the (jittered) image, rows ``y0:y1`` and columns ``x0:x1``, and its
    ``windows``: (blobs, WINDOW_COLUMNS) int32, see WINDOW_COLUMNS."""

    y0: int
    y1: int
    x0: int
    x1: int
    windows: np.ndarray


def default_max_memory() -> int | None:
    """The default step budget in bytes: DEFAULT_BUDGET_SHARE of the memory available now
    where the step runs (the GPU's when TensorFlow sees one, else the host's MemAvailable or
    room under a cgroup limit: :func:`~tf_impl.host.memory.step_memory`); None when it
    cannot be read."""
    available, _ = step_memory()
    return None if available is None else int(available * DEFAULT_BUDGET_SHARE)


def check_tileable(objective) -> None:
    """Raise DeepDreamError for an objective whose gradient at a unit depends on other units
    (tiling would change the dream)."""
    if isinstance(objective, WeightedSum):
        for term, _ in objective.terms:
            check_tileable(term)
    elif not isinstance(objective, (*_SUMS_OVER_UNITS, ClassLogit, Neuron)):
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
            windows.append([jy0 - oy, jy1 - oy, jx0 - ox, jx1 - ox, oy, ox, *size])
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
    whole = step_memory_bytes(net, blobs, height, width)
    if policy.tile is None and whole <= policy.max_memory:
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
        tile_h = tile_w = _largest_tile(net, blobs, reaches, height, width, align, policy)
    # Even tiles: as many as the size needs, each as small as that count allows.
    tile_h = _round_up(-(-height // -(-height // tile_h)), align)
    tile_w = _round_up(-(-width // -(-width // tile_w)), align)
    if tile_h >= height and tile_w >= width:
        return None
    return _tiles(reaches, sizes, height, width, tile_h, tile_w, align)


def _largest_tile(net, blobs, reaches, height, width, align, policy) -> int:
    """The largest square core side (a multiple of ``align``) whose crops' step estimate fits
    ``policy.max_memory`` (a binary search: the estimate grows with the side)."""
    # Crops hold the reach, plus up to align - 1 at each end (start and end alignment).
    margin = 2 * align + max(r.before + r.after for pair in reaches for r in pair)

    def needs(side: int) -> int:
        return step_memory_bytes(net, blobs, min(height, side + margin), min(width, side + margin))

    low, high = 1, -(-max(height, width) // align)
    if needs(align) > policy.max_memory:
        raise DeepDreamError(
            f"--max-memory {policy.max_memory / 1e9:.2f} GB is too small to tile '{blobs[-1]}': "
            f"its smallest tile needs about {needs(align) / 1e9:.2f} GB; give more --max-memory"
        )
    while low < high:
        middle = (low + high + 1) // 2
        if needs(middle * align) <= policy.max_memory:
            low = middle
        else:
            high = middle - 1
    return low * align


def tile_score(objective, acts: Mapping[str, tf.Tensor], guide: tf.Tensor, windows: tf.Tensor):
    """The objective restricted to one tile's units: its gradient with respect to the crop's
    activations is the whole objective's, at the tile's units, and zero elsewhere.

    ``acts``: {blob: (1, h, w, c)} of the crop; ``windows``: (blobs, WINDOW_COLUMNS) int32,
    rows in the order of ``objective.blobs``.
    """
    return _score(objective, acts, guide, windows, _blob_rows(objective))


def _blob_rows(objective) -> dict[str, int]:
    return {blob: row for row, blob in enumerate(objective.blobs)}


def _score(objective, acts, guide, windows, rows):
    if isinstance(objective, WeightedSum):
        return tf.add_n([w * _score(o, acts, guide, windows, rows) for o, w in objective.terms])
    (blob,) = objective.blobs
    window = windows[rows[blob]]
    a = acts[blob]
    if isinstance(objective, Neuron):
        return _neuron_score(objective, a, window)
    core = a[:, window[0] : window[1], window[2] : window[3], :]
    score = objective({blob: core}, guide)
    if isinstance(objective, ClassLogit):  # a mean over the whole blob's positions
        units = tf.cast((window[1] - window[0]) * (window[3] - window[2]), tf.float32)
        score = score * units / tf.cast(window[6] * window[7], tf.float32)
    return score


def _neuron_score(objective: Neuron, a: tf.Tensor, window: tf.Tensor) -> tf.Tensor:
    """The neuron's activation if the tile holds it, else 0."""
    if objective.position is None:
        y, x = window[6] // 2, window[7] // 2  # the centre of the whole blob
    else:
        y, x = (tf.constant(v, tf.int32) for v in objective.position)
    y, x = y - window[4], x - window[5]
    inside = (window[0] <= y) & (y < window[1]) & (window[2] <= x) & (x < window[3])
    shape = tf.shape(a)
    value = a[0, tf.clip_by_value(y, 0, shape[1] - 1), tf.clip_by_value(x, 0, shape[2] - 1)]
    return value[objective.channel] * tf.cast(inside, a.dtype)
