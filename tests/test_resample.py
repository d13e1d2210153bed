"""tf_impl.dream.resample against scipy.ndimage (order=1), the resampling the DeepDream
notebook uses.

Data are random float32 images in 0..255. Tolerance: max abs error <= 1e-5 on that 0..255 range
(``ATOL``), which is below one float32 ulp for values >= 128 (ulp 1.5e-5), so in practice the
outputs must be bit-identical to SciPy's there; the implementation aims at bit-identity.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tensorflow as tf

from tf_impl.dream.resample import (
    affine_zoom_center,
    affine_zoom_center_graph,
    zoom_bilinear,
    zoom_bilinear_graph,
    zoom_factor_size,
    zoom_size,
)

nd = pytest.importorskip("scipy.ndimage")

ATOL = 1e-5  # absolute, on 0..255 data
OCTAVE_SCALE = 1.4
NOTEBOOK_OCTAVES = [(575, 1024), (411, 731), (294, 522), (210, 373)]


def _image(h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed + 1000 * h + w).random((h, w, c)) * 255.0).astype(np.float32)


def _max_err(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)), initial=0.0))


def _scipy_zoom_hw(x: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """SciPy zoom of an HWC image to (out_h, out_w) with per-axis factors out/in."""
    h, w = x.shape[:2]
    ref = nd.zoom(x, (out_h / h, out_w / w, 1), order=1)
    assert ref.shape[:2] == (out_h, out_w)
    return ref


# --------------------------------------------------------------------------- output size rule


@pytest.mark.parametrize(
    "factor", [0.5, 1.5, 2.5, 0.25, 0.75, 1.0 / OCTAVE_SCALE, OCTAVE_SCALE, 0.3, 1.0, 3.0]
)
def test_zoom_size_matches_scipy_shape(factor: float) -> None:
    for size in range(1, 121):
        expected = nd.zoom(np.zeros((size, 1), np.float32), (factor, 1), order=1).shape[0]
        assert zoom_size(size, factor) == expected, (size, factor)


def test_zoom_size_rounds_half_to_even_like_scipy() -> None:
    # n * 0.5 = 2.5, 3.5, 4.5, 12.5: SciPy uses Python's round(), i.e. half to even.
    for size, expected in [(5, 2), (7, 4), (9, 4), (25, 12), (3, 2), (1, 0)]:
        assert zoom_size(size, 0.5) == expected
        assert nd.zoom(np.zeros(size), 0.5, order=1).shape == (expected,)
    assert zoom_size(1, 1.5) == 2  # 1.5 -> 2 (even)
    assert zoom_size(5, 1.5) == 8  # 7.5 -> 8


def test_zoom_size_notebook_ratios_give_back_size() -> None:
    # nd.zoom(detail, (1, 1.0*h/h1, 1.0*w/w1)) must land exactly on (h, w).
    for h in range(1, 400, 3):
        for h1 in (max(1, round(h / OCTAVE_SCALE)), max(1, h // 3), h + 1):
            assert zoom_size(h1, 1.0 * h / h1) == h


def test_zoom_factor_size_notebook_pyramid_python_and_tensor() -> None:
    sizes = [NOTEBOOK_OCTAVES[0]]
    for _ in range(3):
        sizes.append(zoom_factor_size(*sizes[-1], 1.0 / OCTAVE_SCALE))
    assert sizes == NOTEBOOK_OCTAVES
    assert all(isinstance(v, int) for hw in sizes for v in hw)

    @tf.function(
        input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32)],
    )
    def graph_size(h: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
        return tf.stack(zoom_factor_size(h, w, 1.0 / OCTAVE_SCALE))

    for (h, w), expected in itertools.pairwise(NOTEBOOK_OCTAVES):
        assert tuple(graph_size(h, w).numpy()) == expected
    for size in range(1, 200):
        for factor in (0.5, 1.5, 1.0 / OCTAVE_SCALE):
            got = zoom_factor_size(tf.constant(size), tf.constant(1), factor)[0]
            assert int(got) == zoom_size(size, factor), (size, factor)


# --------------------------------------------------------------------------------- zoom values


def test_zoom_notebook_octaves_down_and_up_match_scipy() -> None:
    """The notebook's exact calls, on CHW as the notebook does, against zoom_bilinear on HWC."""
    img = _image(*NOTEBOOK_OCTAVES[0])
    octaves_ref = [img.transpose(2, 0, 1)]
    octaves_tf = [img]
    for _ in range(3):
        octaves_ref.append(
            nd.zoom(octaves_ref[-1], (1, 1.0 / OCTAVE_SCALE, 1.0 / OCTAVE_SCALE), order=1)
        )
        h, w = octaves_tf[-1].shape[:2]
        octaves_tf.append(
            zoom_bilinear(octaves_tf[-1], zoom_factor_size(h, w, 1.0 / OCTAVE_SCALE)).numpy()
        )
    for ref, got, hw in zip(octaves_ref, octaves_tf, NOTEBOOK_OCTAVES, strict=True):
        assert ref.shape[1:] == hw
        assert _max_err(ref.transpose(1, 2, 0), got) <= ATOL

    # Upscaling "detail" from each octave to the next larger one.
    for (h1, w1), (h, w) in zip(NOTEBOOK_OCTAVES[1:], NOTEBOOK_OCTAVES[:-1], strict=True):
        detail = (_image(h1, w1, seed=7) - 127.5).astype(np.float32)
        ref = nd.zoom(detail.transpose(2, 0, 1), (1, 1.0 * h / h1, 1.0 * w / w1), order=1)
        assert ref.shape == (3, h, w)
        got = zoom_bilinear(detail, (h, w)).numpy()
        assert _max_err(ref.transpose(1, 2, 0), got) <= ATOL


ODD_CASES = [
    ((1, 9), [(1, 4), (1, 17), (3, 9), (2, 1)]),
    ((9, 1), [(4, 1), (17, 1), (9, 3)]),
    ((1, 1), [(1, 1), (3, 5)]),
    ((2, 3), [(1, 1), (4, 6), (3, 2), (5, 7), (2, 3)]),
    ((7, 5), [(3, 2), (14, 10), (5, 7), (1, 5), (7, 1), (10, 8)]),
    ((97, 173), [(69, 124), (136, 242), (48, 86), (97, 173), (1, 173)]),
    ((8, 4), [(44, 352), (51, 170)]),  # last row/column hit SciPy's constant-mode edge quirk
]


@pytest.mark.parametrize(("in_hw", "targets"), ODD_CASES)
def test_zoom_odd_sizes_match_scipy(in_hw: tuple[int, int], targets: list[tuple[int, int]]) -> None:
    x = _image(*in_hw)
    for out_h, out_w in targets:
        ref = _scipy_zoom_hw(x, out_h, out_w)
        got = zoom_bilinear(x, (out_h, out_w))
        assert got.dtype == tf.float32
        assert _max_err(ref, got.numpy()) <= ATOL, (in_hw, (out_h, out_w))
        graph = zoom_bilinear_graph(tf.constant(x), tf.constant([out_h, out_w], tf.int32))
        assert _max_err(ref, graph.numpy()) <= ATOL, (in_hw, (out_h, out_w))


def test_zoom_scipy_edge_quirk_and_clamped_alternative() -> None:
    """8 -> 44: 43 * (7 / 43) rounds above 7, so SciPy zeroes the whole last row."""
    assert 43 * (7 / 43) > 7
    x = _image(8, 4) + 1.0  # strictly positive, so a zero can only come from the edge rule
    ref = _scipy_zoom_hw(x, 44, 4)
    assert np.all(ref[-1] == 0.0) and np.all(ref[:-1] > 0.0)
    got = zoom_bilinear(x, (44, 4)).numpy()
    assert _max_err(ref, got) <= ATOL
    clamped = zoom_bilinear(x, (44, 4), exact_scipy_edges=False).numpy()
    assert _max_err(ref[:-1], clamped[:-1]) <= ATOL
    np.testing.assert_allclose(clamped[-1], x[-1], rtol=0, atol=ATOL)


def test_zoom_random_sizes_match_scipy() -> None:
    rng = np.random.default_rng(3)
    for k in range(40):
        h, w = (int(v) for v in rng.integers(1, 90, size=2))
        out_h, out_w = (int(v) for v in rng.integers(1, 130, size=2))
        x = _image(h, w, c=int(rng.integers(1, 5)), seed=k)
        ref = nd.zoom(x, (out_h / h, out_w / w, 1), order=1)
        if ref.shape[:2] != (out_h, out_w):  # factor out/in did not round back; skip
            continue
        assert _max_err(ref, zoom_bilinear(x, (out_h, out_w)).numpy()) <= ATOL, (
            (h, w),
            (out_h, out_w),
        )


def test_zoom_nhwc_batch_and_float64() -> None:
    batch = np.stack([_image(31, 45, seed=s) for s in range(3)])
    ref = nd.zoom(batch, (1, 22 / 31, 64 / 45, 1), order=1)
    assert ref.shape == (3, 22, 64, 3)
    got = zoom_bilinear(tf.constant(batch), tf.constant([22, 64])).numpy()
    assert _max_err(ref, got) <= ATOL
    x64 = batch[0].astype(np.float64)
    ref64 = _scipy_zoom_hw(x64, 50, 20)
    got64 = zoom_bilinear(x64, (50, 20)).numpy()
    assert got64.dtype == np.float64
    assert _max_err(ref64, got64) <= 1e-9


def test_zoom_rejects_bad_rank() -> None:
    with pytest.raises(ValueError, match="rank"):
        zoom_bilinear(tf.zeros([4, 4]), (2, 2))


def test_tf_image_resize_is_not_scipy_zoom() -> None:
    """Negative control: half-pixel-centre bilinear (tf.image.resize) is visibly different."""
    x = _image(97, 173)
    ref = _scipy_zoom_hw(x, 69, 124)
    other = tf.image.resize(x, (69, 124), method="bilinear").numpy()
    assert _max_err(ref, other) > 1.0


# ---------------------------------------------------------------------- affine zoom sequence


@pytest.mark.parametrize("hw", [(575, 1024), (2, 3), (7, 5), (97, 173), (64, 31), (3, 1)])
@pytest.mark.parametrize("s", [0.05, 0.1])
def test_affine_zoom_center_matches_scipy(hw: tuple[int, int], s: float) -> None:
    h, w = hw
    frame = _image(h, w, seed=11)
    ref = nd.affine_transform(frame, [1 - s, 1 - s, 1], [h * s / 2, w * s / 2, 0], order=1)
    got = affine_zoom_center(frame, s).numpy()
    assert _max_err(ref, got) <= ATOL
    graph = affine_zoom_center_graph(tf.constant(frame), tf.constant(s, tf.float64)).numpy()
    assert _max_err(ref, graph) <= ATOL


def test_affine_zoom_center_constant_outside_and_batch() -> None:
    """s < 0 zooms out: coordinates leave [0, n-1] and SciPy returns exactly 0 there."""
    s = -0.3
    frame = _image(20, 13, seed=5) + 1.0
    ref = nd.affine_transform(frame, [1 - s, 1 - s, 1], [20 * s / 2, 13 * s / 2, 0], order=1)
    assert np.any(ref == 0.0)
    got = affine_zoom_center(frame, s).numpy()
    assert _max_err(ref, got) <= ATOL
    batch = np.stack([frame, frame[::-1]])
    got_b = affine_zoom_center(batch, 0.05).numpy()
    for i in range(2):
        ref_i = nd.affine_transform(
            batch[i], [0.95, 0.95, 1], [20 * 0.05 / 2, 13 * 0.05 / 2, 0], order=1
        )
        assert _max_err(ref_i, got_b[i]) <= ATOL


# -------------------------------------------------------------------------------- retracing


def test_zoom_traces_once_for_three_sizes() -> None:
    traces = []

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, None], tf.float32),
            tf.TensorSpec([2], tf.int32),
        ]
    )
    def zoom_fn(image: tf.Tensor, out_hw: tf.Tensor) -> tf.Tensor:
        traces.append(1)  # Python side effect: runs only while tracing
        return zoom_bilinear(image, out_hw)

    for (h, w), (oh, ow) in [((7, 5), (3, 2)), ((97, 173), (136, 242)), ((30, 40), (30, 41))]:
        x = _image(h, w)
        got = zoom_fn(tf.constant(x), tf.constant([oh, ow], tf.int32)).numpy()
        assert _max_err(_scipy_zoom_hw(x, oh, ow), got) <= ATOL
    assert len(traces) == 1

    for h, w in [(5, 6), (11, 3), (40, 41)]:
        zoom_bilinear_graph(tf.constant(_image(h, w)), tf.constant([h + 2, w - 1], tf.int32))
    assert zoom_bilinear_graph.experimental_get_tracing_count() == 1


def test_affine_graph_traces_once_for_three_sizes() -> None:
    for h, w in [(5, 6), (11, 3), (40, 41)]:
        affine_zoom_center_graph(tf.constant(_image(h, w)), tf.constant(0.05, tf.float64))
    assert affine_zoom_center_graph.experimental_get_tracing_count() == 1
