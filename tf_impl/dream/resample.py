"""Resampling that reproduces ``scipy.ndimage`` at ``order=1``, in TensorFlow, for DeepDream.

The original DeepDream notebook resamples with SciPy:

- octaves: ``nd.zoom(img, (1, 1.0 / octave_scale, 1.0 / octave_scale), order=1)`` on CHW images,
  and the detail is brought back up with ``nd.zoom(detail, (1, 1.0 * h / h1, 1.0 * w / w1),
  order=1)``; here :func:`zoom_bilinear` with :func:`zoom_factor_size` / :func:`zoom_size`;
- the zoom sequence: ``nd.affine_transform(frame, [1 - s, 1 - s, 1], [h * s / 2, w * s / 2, 0],
  order=1)`` on HWC frames; here :func:`affine_zoom_center`.

SciPy's rules, as implemented here (SciPy >= 1.6, checked against SciPy 1.17 by the tests):

- Output length of ``zoom``: ``int(round(size * factor))`` with Python's ``round`` on the
  float64 product, i.e. round-half-to-even (``2.5 -> 2``, ``3.5 -> 4``, ``12.5 -> 12``), and a
  length-1 axis zoomed by 0.5 becomes length 0.
- ``zoom`` (``grid_mode=False``) uses aligned corners: the per-axis step is
  ``(in - 1) / (out - 1)`` in float64 (1.0 when ``out == 1``) and output index ``k`` samples
  input coordinate ``k * step``. This is not ``tf.image.resize`` (half-pixel centres).
- ``affine_transform`` with a diagonal matrix ``m`` and offset ``o`` samples coordinate
  ``(k + o / m) * m`` (SciPy divides the offset by the matrix and calls its zoom-shift kernel),
  which differs from ``k * m + o`` in the last float64 bits.
- Boundary ``mode='constant'``, ``cval=0``, at order 1: a coordinate ``c`` is interpolated only
  when ``0 <= c <= n - 1`` (exactly, no tolerance); outside it the *whole* output value is 0
  (no partial blending with the border). Because ``k * ((in - 1) / (out - 1))`` can round to
  just above ``in - 1`` for the last index, ``nd.zoom`` sets the entire last row or column to 0
  for some size pairs (about 3% of them, e.g. 8 -> 44, 4 -> 352); the notebook's own octave
  sizes (575x1024 -> 411x731 -> 294x522 -> 210x373 and back) are not affected.
  ``exact_scipy_edges=True`` (the default) reproduces this; ``False`` clamps instead.
- Weights: with ``f = c - floor(c)``, ``w0 = 1 - f`` and ``w1 = 1 - w0`` (float64); the value is
  accumulated in float64 in SciPy's order ``((v00*a0)*b0 + (v01*a0)*b1) + (v10*a1)*b0 +
  (v11*a1)*b1`` (``a`` along H, ``b`` along W) and rounded once to the output dtype. The spline
  prefilter plays no part at order 1.

Following the same arithmetic in float64 makes the float32 results here bit-identical to SciPy's
in every case the tests sweep.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

__all__ = [
    "affine_zoom_center",
    "affine_zoom_center_graph",
    "zoom_bilinear",
    "zoom_bilinear_graph",
    "zoom_factor_size",
    "zoom_size",
]

_F64 = tf.float64


def _to_f64(value: float | tf.Tensor) -> tf.Tensor:
    """A float64 tensor from a Python number (kept at float64, never via float32) or a tensor."""
    return tf.cast(tf.convert_to_tensor(value, dtype_hint=_F64), _F64)


def zoom_size(size: int, factor: float) -> int:
    """Length of an axis of ``size`` samples after ``scipy.ndimage.zoom`` by ``factor``.

    Args:
        size: input length in pixels (>= 0).
        factor: zoom factor as a Python float (float64), passed exactly as the caller would pass
            it to SciPy (e.g. ``1.0 / 1.4``, not ``size / 1.4``: the two can round differently).

    Returns:
        ``int(round(size * factor))``: the float64 product rounded half-to-even, which is SciPy's
        rule (so ``zoom_size(5, 0.5) == 2`` and ``zoom_size(7, 0.5) == 4``).
    """
    return round(int(size) * float(factor))


def zoom_factor_size(
    h: int | tf.Tensor, w: int | tf.Tensor, factor: float | tf.Tensor
) -> tuple[int, int] | tuple[tf.Tensor, tf.Tensor]:
    """Output (height, width) of ``nd.zoom(img, (1, factor, factor), order=1)`` on a CHW image.

    With Python numbers this is ``(zoom_size(h, factor), zoom_size(w, factor))``. If any argument
    is a tensor (e.g. inside a ``tf.function`` with dynamic shapes) the same rule is computed in
    float64 with ``tf.round`` (also round-half-to-even) and two int32 scalar tensors are returned.

    Args:
        h: input height in pixels.
        w: input width in pixels.
        factor: zoom factor (the notebook uses ``1.0 / octave_scale``).

    Returns:
        ``(out_h, out_w)`` as Python ints, or as int32 scalar tensors for tensor arguments.
    """
    if not any(isinstance(v, tf.Tensor | tf.Variable) for v in (h, w, factor)):
        return zoom_size(int(h), float(factor)), zoom_size(int(w), float(factor))
    f = _to_f64(factor)

    def _one(n: int | tf.Tensor) -> tf.Tensor:
        return tf.cast(tf.round(tf.cast(n, _F64) * f), tf.int32)

    return _one(h), _one(w)


def _axis_taps(
    out_len: tf.Tensor,
    in_len: tf.Tensor,
    step: tf.Tensor,
    shift: tf.Tensor | None,
    exact_scipy_edges: bool,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """Linear-interpolation taps along one axis, with SciPy's float64 arithmetic.

    Output index ``k`` samples coordinate ``(k + shift) * step`` (``k * step`` without a shift).

    Returns:
        ``(i0, i1, w0, w1)``: int32 source indices, each shape (out_len,), in ``[0, in_len - 1]``,
        and their float64 weights; both weights are 0 where SciPy's ``mode='constant'`` rule
        yields ``cval = 0`` (coordinate outside ``[0, in_len - 1]``).
    """
    coord = tf.cast(tf.range(out_len), _F64)
    if shift is not None:
        coord = coord + shift
    coord = coord * step
    last = tf.cast(in_len - 1, _F64)
    if exact_scipy_edges:
        inside = tf.logical_and(coord >= 0.0, coord <= last)
    else:
        coord = tf.clip_by_value(coord, 0.0, last)
        inside = tf.ones_like(coord, dtype=tf.bool)
    base = tf.floor(coord)
    frac = coord - base
    w0 = 1.0 - frac
    w1 = 1.0 - w0
    zero = tf.zeros_like(w0)
    w0 = tf.where(inside, w0, zero)
    w1 = tf.where(inside, w1, zero)
    i0 = tf.clip_by_value(tf.cast(base, tf.int32), 0, in_len - 1)
    i1 = tf.minimum(i0 + 1, in_len - 1)
    return i0, i1, w0, w1


def _interpolate(
    image: tf.Tensor,
    rows: tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor],
    cols: tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor],
) -> tf.Tensor:
    """Separable-tap bilinear sampling of an NHWC tensor, summed in SciPy's float64 order."""
    i0, i1, a0, a1 = rows
    j0, j1, b0, b1 = cols
    x = tf.cast(image, _F64)
    shape = tf.shape(x)
    n, c = shape[0], shape[3]
    out_h, out_w = tf.shape(i0)[0], tf.shape(j0)[0]
    # Row taps, weighted: (N, out_h, in_w, C).
    top = tf.gather(x, i0, axis=1) * a0[None, :, None, None]
    bottom = tf.gather(x, i1, axis=1) * a1[None, :, None, None]
    # Column weights repeated per channel so each product is a cheap 2-D row broadcast over
    # (N * out_h, out_w * C).
    b0 = tf.repeat(b0, c)[None, :]
    b1 = tf.repeat(b1, c)[None, :]
    flat = tf.stack([n * out_h, out_w * c])

    def cols_of(rows_: tf.Tensor, j: tf.Tensor) -> tf.Tensor:
        return tf.reshape(tf.gather(rows_, j, axis=2), flat)

    out = cols_of(top, j0) * b0
    out = out + cols_of(top, j1) * b1
    out = out + cols_of(bottom, j0) * b0
    out = out + cols_of(bottom, j1) * b1
    out = tf.reshape(out, tf.stack([n, out_h, out_w, c]))
    return tf.cast(out, image.dtype)


def _as_nhwc(image: tf.Tensor) -> tuple[tf.Tensor, bool]:
    rank = image.shape.rank
    if rank == 3:
        return image[None], True
    if rank == 4:
        return image, False
    raise ValueError(f"expected an HWC or NHWC image (rank 3 or 4), got rank {rank}")


def zoom_bilinear(
    image: tf.Tensor,
    out_hw: Sequence[int] | tf.Tensor,
    *,
    exact_scipy_edges: bool = True,
) -> tf.Tensor:
    """Resize H and W like ``scipy.ndimage.zoom(..., order=1)`` (aligned-corner bilinear).

    Equivalent to SciPy zooming an HWC array by ``(out_h / h, out_w / w, 1)`` (channels and the
    batch axis untouched) when those factors give back ``(out_h, out_w)``, which they always do
    for the notebook's calls, e.g. ``nd.zoom(detail, (1, 1.0*h/h1, 1.0*w/w1), order=1)`` is
    ``zoom_bilinear(detail_hwc, (h, w))``; compute octave sizes with :func:`zoom_factor_size`.

    Implementation: per-axis taps (two source indices and two float64 weights per output row and
    column, from SciPy's aligned-corner rule), then ``tf.gather`` of the two source rows and
    columns and a float64 multiply-add in SciPy's accumulation order, cast once to the input
    dtype. This is O(output pixels) work and memory; two dense (out x in) interpolation matrices
    applied with matmul would cost O(out * in) per column (about 50 GFLOP for a 4K frame) for
    matrices that are 99.9% zeros, and float32 matmul would also round differently from SciPy.
    With float64 arithmetic the result is bit-identical to SciPy's for float32 input.

    Works eagerly and inside ``tf.function``; H, W and ``out_hw`` may be dynamic, so a
    ``tf.function`` with an input signature of unknown H, W and a tensor ``out_hw`` traces once
    for all sizes (see :data:`zoom_bilinear_graph`). Not meant for gradients.

    Args:
        image: float tensor, HWC ``(h, w, c)`` or NHWC ``(n, h, w, c)``, any value range (the
            DeepDream pipeline uses float32 in 0..255, mean-subtracted or not). h, w >= 1.
        out_hw: output ``(out_h, out_w)`` in pixels: two Python ints or an int32 tensor of
            shape (2,). Each >= 1.
        exact_scipy_edges: reproduce SciPy's quirk of returning 0 for a last row/column whose
            float64 coordinate rounds to just above ``in - 1`` (default). ``False`` clamps the
            coordinate to the edge instead (what SciPy means to compute).

    Returns:
        Tensor of the input's dtype and rank: ``(out_h, out_w, c)`` or ``(n, out_h, out_w, c)``.
    """
    image = tf.convert_to_tensor(image)
    x, squeeze = _as_nhwc(image)
    out_hw = tf.cast(tf.convert_to_tensor(out_hw), tf.int32)
    out_h, out_w = out_hw[0], out_hw[1]
    in_shape = tf.shape(x)
    in_h, in_w = in_shape[1], in_shape[2]

    def step(n_in: tf.Tensor, n_out: tf.Tensor) -> tf.Tensor:
        # SciPy: (in - 1) / (out - 1) in float64, or 1.0 when out == 1.
        num = tf.cast(n_in - 1, _F64)
        den = tf.cast(tf.maximum(n_out - 1, 1), _F64)
        return tf.where(n_out > 1, num / den, tf.constant(1.0, _F64))

    rows = _axis_taps(out_h, in_h, step(in_h, out_h), None, exact_scipy_edges)
    cols = _axis_taps(out_w, in_w, step(in_w, out_w), None, exact_scipy_edges)
    out = _interpolate(x, rows, cols)
    return out[0] if squeeze else out


def affine_zoom_center(image: tf.Tensor, s: float | tf.Tensor) -> tf.Tensor:
    """The notebook's zoom-sequence step: zoom into the centre by ``1 / (1 - s)``, same size.

    Equivalent to ``scipy.ndimage.affine_transform(frame, [1 - s, 1 - s, 1],
    [h * s / 2, w * s / 2, 0], order=1)`` on an HWC frame (default ``mode='constant'``,
    ``cval=0``): output pixel ``(i, j)`` samples input coordinate
    ``((i + o_h / m) * m, (j + o_w / m) * m)`` with ``m = 1 - s``, ``o_h = h * s / 2``,
    ``o_w = w * s / 2`` in float64 (SciPy's exact arithmetic), bilinearly, and is 0 where a
    coordinate leaves ``[0, n - 1]`` (for ``0 <= s < 1`` and ``h, w >= 2`` that never happens).
    For NHWC input every image in the batch gets the same transform. Bit-identical to SciPy for
    float32 input (float64 arithmetic, one final rounding).

    Args:
        image: float tensor, HWC ``(h, w, c)`` or NHWC ``(n, h, w, c)``, any value range.
        s: zoom step, dimensionless (the notebook uses 0.05); a Python float or a float scalar
            tensor (cast to float64; pass a tensor to avoid retracing per value).

    Returns:
        Tensor with the same shape and dtype as ``image``.
    """
    image = tf.convert_to_tensor(image)
    x, squeeze = _as_nhwc(image)
    s = _to_f64(s)
    m = 1.0 - s
    in_shape = tf.shape(x)
    h, w = in_shape[1], in_shape[2]

    def taps(n: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        offset = tf.cast(n, _F64) * s / 2.0
        return _axis_taps(n, n, m, offset / m, exact_scipy_edges=True)

    out = _interpolate(x, taps(h), taps(w))
    return out[0] if squeeze else out


zoom_bilinear_graph = tf.function(
    lambda image, out_hw: zoom_bilinear(image, out_hw),
    input_signature=[
        tf.TensorSpec([None, None, None], tf.float32, name="image"),
        tf.TensorSpec([2], tf.int32, name="out_hw"),
    ],
)
"""``tf.function`` of :func:`zoom_bilinear` for float32 HWC images: one trace for all sizes."""

affine_zoom_center_graph = tf.function(
    lambda image, s: affine_zoom_center(image, s),
    input_signature=[
        tf.TensorSpec([None, None, None], tf.float32, name="image"),
        tf.TensorSpec([], tf.float64, name="s"),
    ],
)
"""``tf.function`` of :func:`affine_zoom_center` for float32 HWC frames and a float64 ``s``."""
