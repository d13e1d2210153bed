"""DeepDream semantics (tf_impl.dream.deepdream, tf_impl.dream.objectives) against independent
re-statements.

The notebook's ``make_step`` and ``deepdream`` are re-stated here in NumPy/SciPy (float64) and
compared with the compiled TensorFlow versions, with fixed jitter offsets. For an exact
reference gradient most checks use a tiny hand-made DreamNet whose blobs are *linear*
convolutions without bias (``valid`` padding, so the image borders, and hence the jitter roll,
change the result): for a blob ``a = A x`` the L2 input gradient is ``A^T A x`` and any
gradient ``d`` set at the blob backpropagates to ``A^T d``; both are computed here with NumPy
loops, not with TensorFlow. The synthetic GoogLeNet (fixture ``net``) is used where the real
architecture matters: guide features, retracing, pre/post-ReLU blobs and size checks.

Tolerances (relative to the largest magnitude of the reference):
- a run of compiled steps (``Dreamer.step``, one call per offset) vs NumPy: 1e-5
  (``STEP_RTOL``);
- the whole octave loop (``deepdream``) vs NumPy + ``scipy.ndimage.zoom``: 1e-5 too
  (``DREAM_RTOL``; float32 in TF vs float64 here, a few steps per octave, the zoom itself is
  bit-exact by tests/test_resample.py); measured worst ~1e-7.
"""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from conversion.errors import DeepDreamError
from tf_impl.dream.deepdream import (
    DEFAULT_END,
    Dreamer,
    check_dream_size,
    deepdream,
    dreamer_for,
    input_gradient,
    jitter_offsets,
    octave_sizes,
)
from tf_impl.dream.objectives import L2, Channels, ClassLogit, Guided, Neuron, WeightedSum
from tf_impl.dream.resample import zoom_bilinear_graph
from tf_impl.dream.settings import DreamSettings
from tf_impl.net.network import DreamNet
from tf_impl.net.shapes import blob_shapes

nd = pytest.importorskip("scipy.ndimage")

STEP_RTOL = 1e-5
DREAM_RTOL = 1e-5
MEAN_BGR = np.array([104.0, 116.0, 122.0])
NO_GUIDE = tf.zeros([0, 0], tf.float32)

# Fixed jitter offsets as (ox, oy): zero, negative, positive, mixed, and larger than the tiny
# images (np.roll wraps them modulo the size; so must tf.roll).
OFFSETS = [(0, 0), (3, -2), (-5, 4), (-1, -1), (17, -23), (2, 0), (0, -3)]


# --------------------------------------------------------------------------- tiny linear net


def _kernels() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    conv = rng.normal(size=(3, 3, 3, 4)).astype(np.float32)
    conv[..., 3] = 0.0  # a dead channel: zero gradient for Channels(("conv", (3,)))
    conv_b = rng.normal(size=(2, 3, 3, 2)).astype(np.float32)
    return {"conv": conv, "conv_b": conv_b}


KERNELS = _kernels()


def _tiny_dreamnet(scale: float = 1.0, mean=tuple(MEAN_BGR), order: str = "BGR") -> DreamNet:
    """Input 'data' -> two linear convolutions 'conv' (3x3 -> 4 ch) and 'conv_b' (2x3 -> 2 ch)."""
    data = keras.Input((None, None, 3), name="data")
    conv = keras.layers.Conv2D(4, (3, 3), use_bias=False, name="conv")
    conv_b = keras.layers.Conv2D(2, (2, 3), use_bias=False, name="conv_b")
    model = keras.Model(data, [conv(data), conv_b(data)])
    conv.set_weights([KERNELS["conv"]])
    conv_b.set_weights([KERNELS["conv_b"]])
    return DreamNet(model, mean=mean, channel_order=order, scale=scale)


@pytest.fixture(scope="module")
def tiny() -> DreamNet:
    return _tiny_dreamnet()


def np_conv(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Valid cross-correlation, HWC x (kh, kw, c, o) -> (H-kh+1, W-kw+1, o), float64."""
    kh, kw = k.shape[:2]
    out_h, out_w = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    out = np.zeros((out_h, out_w, k.shape[3]))
    for dy in range(kh):
        for dx in range(kw):
            out += x[dy : dy + out_h, dx : dx + out_w] @ k[dy, dx].astype(np.float64)
    return out


def np_conv_adjoint(d: np.ndarray, k: np.ndarray, height: int, width: int) -> np.ndarray:
    """Transpose of :func:`np_conv`: a blob gradient ``d`` back to an (H, W, c) input gradient."""
    kh, kw = k.shape[:2]
    out_h, out_w = d.shape[:2]
    grad = np.zeros((height, width, k.shape[2]))
    for dy in range(kh):
        for dx in range(kw):
            grad[dy : dy + out_h, dx : dx + out_w] += d @ k[dy, dx].astype(np.float64).T
    return grad


def np_l2_grad(x: np.ndarray, blob: str = "conv") -> np.ndarray:
    k = KERNELS[blob]
    return np_conv_adjoint(np_conv(x, k), k, *x.shape[:2])


def np_guided_grad(x: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """The notebook's guided objective at 'conv': each position's gradient is the guide vector
    with the largest dot product with it."""
    k = KERNELS["conv"]
    a = np_conv(x, k)
    flat = a.reshape(-1, a.shape[-1])
    target = guide[np.argmax(flat @ guide.T, axis=1)].reshape(a.shape)
    return np_conv_adjoint(target, k, *x.shape[:2])


def np_make_step(img, ox, oy, grad_fn, step_size=1.5, clip=True, scale=1.0, mean=MEAN_BGR):
    """The notebook's make_step on an HWC network-input image (float64)."""
    src = np.roll(np.roll(img, ox, axis=1), oy, axis=0)  # ox: width, oy: height
    g = grad_fn(src)
    mean_abs = np.abs(g).mean()
    if mean_abs > 0:  # the notebook would divide by zero here; the spec says: unchanged
        src = src + step_size * scale / mean_abs * g
    img = np.roll(np.roll(src, -ox, axis=1), -oy, axis=0)
    if clip:
        img = np.clip(img, (0.0 - mean) * scale, (255.0 - mean) * scale)
    return img


def np_preprocess(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, np.float64)[..., ::-1] - MEAN_BGR


def np_deprocess(img: np.ndarray) -> np.ndarray:
    return (img + MEAN_BGR)[..., ::-1]


def np_deepdream(rgb, grad_fn, offsets, iter_n, octave_n, octave_scale=1.4, **step_kw):
    """The notebook's deepdream, HWC: SciPy zoom (order=1) for octaves and detail."""
    octaves = [np_preprocess(rgb)]
    for _ in range(octave_n - 1):
        octaves.append(nd.zoom(octaves[-1], (1.0 / octave_scale, 1.0 / octave_scale, 1), order=1))
    detail = np.zeros_like(octaves[-1])
    offsets = iter(offsets)
    for octave, base in enumerate(octaves[::-1]):
        h, w = base.shape[:2]
        if octave > 0:
            h1, w1 = detail.shape[:2]
            detail = nd.zoom(detail, (1.0 * h / h1, 1.0 * w / w1, 1), order=1)
        src = base + detail
        for _ in range(iter_n):
            ox, oy = next(offsets)
            src = np_make_step(src, ox, oy, grad_fn, **step_kw)
        detail = src - base
    return np_deprocess(src)


def _rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 255.0, (h, w, 3)).astype(np.float32)


def _rel_err(actual, expected) -> float:
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def _run(dreamer: Dreamer, img, offsets, step_size=1.5, clip=True, guide=NO_GUIDE):
    """One compiled step per row (ox, oy) of ``offsets``, as ``deepdream`` calls them."""
    image = tf.constant(np.asarray(img, np.float32))
    for offset in np.asarray(offsets, np.int32).reshape(-1, 2):
        image = dreamer.step(
            image, tf.constant(offset), tf.constant(step_size, tf.float32), tf.constant(clip), guide
        )
    return image.numpy()


# --------------------------------------------------------------------------- 1. make_step


@pytest.mark.parametrize("size", [(9, 14), (12, 7), (10, 10)])
def test_steps_match_numpy_make_step(tiny, size) -> None:
    img = np_preprocess(_rgb(*size, seed=size[0]))
    expected = img
    for ox, oy in OFFSETS:
        expected = np_make_step(expected, ox, oy, np_l2_grad)
    # The steps must actually have hit the clip bounds somewhere, or clipping is untested.
    assert np.any(expected == -MEAN_BGR) or np.any(expected == 255.0 - MEAN_BGR)

    actual = _run(Dreamer(tiny, L2("conv")), img, OFFSETS)
    assert actual.dtype == np.float32
    assert _rel_err(actual, expected) <= STEP_RTOL

    # The check can fail: swapping the roll axes (ox on height) gives a clearly different image.
    swapped = img
    for ox, oy in OFFSETS:
        swapped = np_make_step(swapped, oy, ox, np_l2_grad)
    assert _rel_err(actual, swapped) > 1e-3


def test_one_octave_dream_is_its_compiled_steps(tiny) -> None:
    dreamer = dreamer_for(tiny, L2("conv"))
    rgb = _rgb(11, 8, seed=3)
    single = tiny.preprocess(rgb)
    for offset in OFFSETS:
        single = _run(dreamer, single, [offset])
    dreamed = deepdream(
        tiny, rgb, DreamSettings(end="conv", octave_n=1, iter_n=len(OFFSETS)), offsets=OFFSETS
    )
    np.testing.assert_array_equal(dreamed, tiny.deprocess(single))


def test_steps_with_scaled_rgb_input_match_numpy() -> None:
    """Step size is in 0-255 units whatever the model's input scale; bounds are scaled too."""
    scale, mean = 1.0 / 127.5, (127.5, 127.5, 127.5)
    net = _tiny_dreamnet(scale=scale, mean=mean, order="RGB")
    img = (_rgb(9, 13, seed=5) - 127.5) * scale
    expected = img.astype(np.float64)
    for ox, oy in OFFSETS[:4]:
        expected = np_make_step(expected, ox, oy, np_l2_grad, scale=scale, mean=np.asarray(mean))
    actual = _run(Dreamer(net, L2("conv")), img, OFFSETS[:4])
    assert _rel_err(actual, expected) <= STEP_RTOL
    assert actual.min() >= -1.0 and actual.max() <= 1.0


def test_guided_steps_match_numpy(tiny) -> None:
    img = np_preprocess(_rgb(10, 13, seed=11))
    guide_img = np_preprocess(_rgb(7, 9, seed=12))
    guide = np_conv(guide_img, KERNELS["conv"]).reshape(-1, 4)
    expected = img
    for ox, oy in OFFSETS:
        expected = np_make_step(expected, ox, oy, lambda x: np_guided_grad(x, guide))
    dreamer = Dreamer(tiny, Guided("conv"))
    features = dreamer.guide_features(guide_img.astype(np.float32))
    assert _rel_err(features.numpy(), guide) <= 1e-6
    actual = _run(dreamer, img, OFFSETS, guide=features)
    assert _rel_err(actual, expected) <= STEP_RTOL


def test_zero_gradient_leaves_image_unchanged(tiny) -> None:
    img = np_preprocess(_rgb(9, 12, seed=2)).astype(np.float32)
    # Channel 3 of 'conv' has all-zero weights: the gradient is exactly zero.
    out = _run(Dreamer(tiny, Channels("conv", (3,))), img, OFFSETS)
    assert not np.any(np.isnan(out))
    np.testing.assert_array_equal(out, img)


def test_clip_bounds(tiny) -> None:
    dreamer = dreamer_for(tiny, L2("conv"))
    img = np_preprocess(_rgb(10, 12, seed=4))
    lower, upper = -MEAN_BGR, 255.0 - MEAN_BGR
    free = _run(dreamer, img, OFFSETS[:3], step_size=60.0, clip=False)
    assert np.any(free < lower) and np.any(free > upper)
    clipped = _run(dreamer, img, OFFSETS[:3], step_size=60.0, clip=True)
    assert np.all(clipped >= lower.astype(np.float32)) and np.all(
        clipped <= upper.astype(np.float32)
    )
    assert np.any(clipped == lower.astype(np.float32)) and np.any(
        clipped == upper.astype(np.float32)
    )

    expected = img
    for ox, oy in OFFSETS[:3]:
        expected = np_make_step(expected, ox, oy, np_l2_grad, step_size=60.0, clip=False)
    assert _rel_err(free, expected) <= STEP_RTOL


# --------------------------------------------------------------------------- 2. octave loop


@pytest.mark.parametrize("octave_n", [1, 3])
def test_zero_steps_returns_input(tiny, octave_n) -> None:
    rgb8 = np.random.default_rng(1).integers(0, 256, (23, 31, 3), dtype=np.uint8)
    out = deepdream(tiny, rgb8, DreamSettings(end="conv", iter_n=0, octave_n=octave_n))
    assert out.dtype == np.float32 and out.shape == rgb8.shape
    np.testing.assert_array_equal(out, rgb8.astype(np.float32))  # integers: exact
    rgb = _rgb(23, 31, seed=1)
    out = deepdream(tiny, rgb, DreamSettings(end="conv", iter_n=0, octave_n=octave_n))
    np.testing.assert_allclose(out, rgb, rtol=0, atol=3.1e-5)  # 2 float32 ulps at 255


def test_zero_steps_returns_input_googlenet(net) -> None:
    rgb = _rgb(70, 90, seed=9)
    out = deepdream(net, rgb, DreamSettings(iter_n=0, octave_n=3))
    np.testing.assert_allclose(out, rgb, rtol=0, atol=3.1e-5)


@pytest.mark.parametrize(
    ("size", "octave_n", "octave_scale", "iter_n"),
    [((23, 31), 3, 1.4, 3), ((30, 17), 4, 1.3, 2), ((16, 16), 2, 1.4, 4), ((20, 26), 1, 1.4, 3)],
)
def test_deepdream_matches_numpy_octaves(tiny, size, octave_n, octave_scale, iter_n) -> None:
    rgb = _rgb(*size, seed=size[1])
    rng = np.random.default_rng(size[0])
    offsets = rng.integers(-6, 7, (octave_n * iter_n, 2))
    expected = np_deepdream(rgb, np_l2_grad, offsets, iter_n, octave_n, octave_scale)
    actual = deepdream(
        tiny,
        rgb,
        DreamSettings(end="conv", iter_n=iter_n, octave_n=octave_n, octave_scale=octave_scale),
        offsets=offsets,
    )
    assert actual.shape == rgb.shape
    assert _rel_err(actual, expected) <= DREAM_RTOL
    # The dream must have changed the image (else the comparison says nothing).
    assert np.max(np.abs(actual - rgb)) > 1.0


def test_deepdream_guided_no_clip_matches_numpy(tiny) -> None:
    rgb, guide_rgb = _rgb(25, 29, seed=21), _rgb(13, 11, seed=22)
    guide = np_conv(np_preprocess(guide_rgb), KERNELS["conv"]).reshape(-1, 4)
    offsets = np.random.default_rng(3).integers(-8, 9, (3 * 2, 2))
    expected = np_deepdream(
        rgb, lambda x: np_guided_grad(x, guide), offsets, 2, 3, clip=False, step_size=4.0
    )
    actual = deepdream(
        tiny,
        rgb,
        DreamSettings(end="conv", iter_n=2, octave_n=3, clip=False, step_size=4.0),
        guide=guide_rgb,
        offsets=offsets,
    )
    assert _rel_err(actual, expected) <= DREAM_RTOL


def test_deepdream_seed_and_on_step(tiny) -> None:
    rgb = _rgb(21, 24, seed=8)
    settings = DreamSettings(end="conv", iter_n=3, octave_n=2, jitter=5)
    seeded = deepdream(tiny, rgb, settings, seed=42)
    replayed = deepdream(tiny, rgb, settings, offsets=jitter_offsets(6, 5, 42))
    np.testing.assert_array_equal(seeded, replayed)
    calls = []
    stepped = deepdream(tiny, rgb, settings, seed=42, on_step=lambda o, s: calls.append((o, s)))
    assert calls == [(o, s) for o in range(2) for s in range(3)]
    np.testing.assert_array_equal(stepped, seeded)


def test_deepdream_rejects_wrong_offset_count(tiny) -> None:
    with pytest.raises(DeepDreamError, match="offsets"):
        deepdream(
            tiny,
            _rgb(20, 20),
            DreamSettings(end="conv", iter_n=2, octave_n=2),
            offsets=[(0, 0)] * 3,
        )


# --------------------------------------------------------------------------- 3. jitter


@pytest.mark.parametrize(("n", "jitter", "seed"), [(10, 32, 0), (25, 3, 1234), (1, 0, 5)])
def test_jitter_offsets_match_numpy_global_stream(n, jitter, seed) -> None:
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        expected = [np.random.randint(-jitter, jitter + 1, 2) for _ in range(n)]
    finally:
        np.random.set_state(state)
    got = jitter_offsets(n, jitter, seed)
    assert got.shape == (n, 2)
    np.testing.assert_array_equal(got, np.asarray(expected).reshape(n, 2))


def test_jitter_offsets_cover_both_ends() -> None:
    draws = jitter_offsets(2000, 4, seed=0)
    for column in (0, 1):
        assert set(draws[:, column].tolist()) == set(range(-4, 5))


# --------------------------------------------------------------------------- 4. guided


@pytest.mark.parametrize(("h", "w", "m", "c"), [(5, 7, 11, 6), (1, 1, 3, 4), (4, 3, 1, 8)])
def test_guided_gradient_is_argmax_dot_rule(h, w, m, c) -> None:
    rng = np.random.default_rng(h * 100 + m)
    x = rng.normal(size=(1, h, w, c)).astype(np.float32)
    y = rng.normal(size=(m, c)).astype(np.float32)
    acts = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(acts)
        score = Guided("b")({"b": acts}, tf.constant(y))
    grad = tape.gradient(score, acts).numpy().reshape(-1, c)
    flat = x.reshape(-1, c).astype(np.float64)
    expected = y[np.argmax(flat @ y.T.astype(np.float64), axis=1)]
    np.testing.assert_array_equal(grad, expected)


def test_guide_features_are_guide_blob_at_own_size(net) -> None:
    blob = "inception_3b/output"
    dreamer = dreamer_for(net, Guided(blob))
    guide = net.preprocess(_rgb(70, 90, seed=13))
    features = dreamer.guide_features(guide).numpy()
    h, w, c = blob_shapes(net, 70, 90)[blob]
    assert features.shape == (h * w, c)
    expected = net.blobs(guide, [blob])[blob].reshape(-1, c)
    assert _rel_err(features, expected) <= 1e-6
    assert dreamer.guide_features(None).shape == (0, 0)


# --------------------------------------------------------------------------- 5. tracing


def test_no_retrace_across_image_and_octave_sizes(net) -> None:
    objective = L2("inception_3b/output")
    settings = DreamSettings(end=objective.blob, iter_n=2, octave_n=2)
    deepdream(net, _rgb(80, 100), settings, seed=0)
    zoom_traces = zoom_bilinear_graph.experimental_get_tracing_count()
    deepdream(net, _rgb(67, 119, seed=1), settings, seed=0)
    more = settings.replace(octave_n=3)
    deepdream(net, _rgb(64, 64, seed=2), more, seed=0, on_step=lambda o, s: None)
    dreamer = dreamer_for(net, objective)
    assert dreamer.traces == 1
    assert dreamer.step.experimental_get_tracing_count() == 1
    assert zoom_bilinear_graph.experimental_get_tracing_count() == zoom_traces


# --------------------------------------------------------------------------- 6. objectives


def _blob_grads(objective, acts: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    tensors = {k: tf.constant(v, tf.float32) for k, v in acts.items()}
    with tf.GradientTape() as tape:
        for t in tensors.values():
            tape.watch(t)
        score = objective(tensors, NO_GUIDE)
    grads = tape.gradient(score, tensors)
    return float(score), {k: g.numpy() for k, g in grads.items()}


def test_l2_gradient_is_activations() -> None:
    a = np.random.default_rng(0).normal(size=(1, 4, 5, 6))
    score, grads = _blob_grads(L2("b"), {"b": a})
    np.testing.assert_allclose(grads["b"], a, rtol=1e-6)
    assert score == pytest.approx(0.5 * np.sum(a**2), rel=1e-5)


@pytest.mark.parametrize("channels", [(2,), (0, 5), (4, 1, 3)])
def test_channels_gradient_is_masked_activations(channels) -> None:
    a = np.random.default_rng(1).normal(size=(1, 4, 5, 6))
    _, grads = _blob_grads(Channels("b", channels), {"b": a})
    mask = np.zeros(6)
    mask[list(channels)] = 1.0
    np.testing.assert_allclose(grads["b"], a * mask, rtol=1e-6, atol=0)


@pytest.mark.parametrize(("h", "w"), [(5, 7), (4, 6), (1, 1)])
def test_neuron_at_centre_and_at_position(h, w) -> None:
    a = np.random.default_rng(2).normal(size=(1, h, w, 3))
    score, grads = _blob_grads(Neuron("b", 2), {"b": a})
    expected = np.zeros_like(a)
    expected[0, h // 2, w // 2, 2] = 1.0
    np.testing.assert_array_equal(grads["b"], expected)
    assert score == pytest.approx(a[0, h // 2, w // 2, 2], rel=1e-6)
    score, grads = _blob_grads(Neuron("b", 1, (0, w - 1)), {"b": a})
    expected = np.zeros_like(a)
    expected[0, 0, w - 1, 1] = 1.0
    np.testing.assert_array_equal(grads["b"], expected)


def test_weighted_sum_gradient() -> None:
    rng = np.random.default_rng(3)
    a1, a2 = rng.normal(size=(1, 4, 4, 3)), rng.normal(size=(1, 2, 3, 5))
    w1, w2 = 0.7, -2.5
    objective = WeightedSum(((L2("one"), w1), (L2("two"), w2)))
    assert objective.blobs == ("one", "two")
    _, grads = _blob_grads(objective, {"one": a1, "two": a2})
    np.testing.assert_allclose(grads["one"], w1 * a1, rtol=1e-6)
    np.testing.assert_allclose(grads["two"], w2 * a2, rtol=1e-6)
    # Two terms on one blob add up.
    both = WeightedSum(((L2("one"), w1), (Channels("one", (1,)), w2)))
    assert both.blobs == ("one",)
    _, grads = _blob_grads(both, {"one": a1})
    np.testing.assert_allclose(grads["one"], w1 * a1 + w2 * a1 * [0, 1, 0], rtol=1e-6)


def test_weighted_sum_dream_step_on_two_blobs(tiny) -> None:
    """End to end on two blobs of different shapes: input gradient w1 A1^T A1 x + w2 A2^T A2 x."""
    w1, w2 = 0.3, 2.0

    def grad(x):
        return w1 * np_l2_grad(x, "conv") + w2 * np_l2_grad(x, "conv_b")

    img = np_preprocess(_rgb(9, 11, seed=31))
    expected = img
    for ox, oy in OFFSETS[:4]:
        expected = np_make_step(expected, ox, oy, grad)
    objective = WeightedSum(((L2("conv"), w1), (L2("conv_b"), w2)))
    actual = _run(Dreamer(tiny, objective), img, OFFSETS[:4])
    assert _rel_err(actual, expected) <= STEP_RTOL


def test_class_logit_is_mean_of_logit_map(tiny) -> None:
    rng = np.random.default_rng(4)
    kernel = rng.normal(size=(4, 5)).astype(np.float32)
    bias = rng.normal(size=(5,)).astype(np.float32)
    img = np_preprocess(_rgb(8, 10, seed=6))
    a = np_conv(img, KERNELS["conv"])
    for index, b in ((3, bias), (0, None)):
        objective = ClassLogit("conv", index, kernel, b)
        acts = Dreamer(tiny, objective).activations(tf.constant(img[None], tf.float32))
        score, grads = _blob_grads(objective, {"conv": acts["conv"].numpy()})
        logit_map = a @ kernel[:, index] + (0.0 if b is None else b[index])
        assert score == pytest.approx(logit_map.mean(), rel=1e-5, abs=1e-4)
        expected = np.broadcast_to(kernel[:, index] / a[..., 0].size, grads["conv"].shape)
        np.testing.assert_allclose(grads["conv"], expected, rtol=1e-5)


def test_pre_and_post_relu_blobs_dream_differently(net) -> None:
    pre, post = "inception_3b/5x5_reduce", "inception_3b/relu_5x5_reduce"
    img = net.preprocess(_rgb(64, 80, seed=17))
    blobs = net.blobs(img, [pre, post])
    assert np.any(blobs[pre] < 0)
    np.testing.assert_array_equal(blobs[post], np.maximum(blobs[pre], 0))

    offsets = [(3, -4), (-7, 2)]
    settings = DreamSettings(iter_n=2, octave_n=1)
    dream_pre = deepdream(net, _rgb(64, 80, seed=17), settings.replace(end=pre), offsets=offsets)
    dream_post = deepdream(net, _rgb(64, 80, seed=17), settings.replace(end=post), offsets=offsets)
    assert _rel_err(dream_pre, dream_post) > 1e-3
    assert _rel_err(input_gradient(net, img, pre), input_gradient(net, img, post)) > 1e-2


# --------------------------------------------------------------------------- 7. size check


def _suggestion(message: str) -> tuple[int, int]:
    minimum = re.search(r"below (\d+)x(\d+)", message)
    octaves = re.search(r"--octaves (\d+)", message)
    assert minimum and octaves, message
    assert minimum[1] == minimum[2]
    return int(minimum[1]), int(octaves[1])


@pytest.mark.parametrize(
    ("size", "end", "octave_n"),
    [
        ((40, 40), "inception_5a/output", 4),
        ((60, 60), "inception_5a/output", 4),
        ((20, 20), DEFAULT_END, 4),
        ((20, 100), DEFAULT_END, 3),
    ],
)
def test_too_small_image_says_minimum_and_octaves_that_work(net, size, end, octave_n) -> None:
    rgb = _rgb(*size, seed=19)
    with pytest.raises(DeepDreamError) as info:
        deepdream(net, rgb, DreamSettings(end=end, iter_n=1, octave_n=octave_n), seed=0)
    message = str(info.value)
    assert f"{size[0]}x{size[1]}" in message and end in message
    minimum, octaves = _suggestion(message)
    assert 1 <= octaves < octave_n
    # The suggestion works, and is the most octaves that do.
    out = deepdream(net, rgb, DreamSettings(end=end, iter_n=1, octave_n=octaves), seed=0)
    assert out.shape == rgb.shape and np.all(np.isfinite(out))
    with pytest.raises(DeepDreamError):
        check_dream_size(net, [end], octave_sizes(*size, octaves + 1, 1.4))
    # The stated minimum is the least square size that works with one octave.
    check_dream_size(net, [end], [(minimum, minimum)])
    with pytest.raises(DeepDreamError):
        check_dream_size(net, [end], [(minimum - 1, minimum - 1)])


def test_default_end_at_40x40_with_4_octaves_fits(net) -> None:
    """40 -> 29 -> 21 -> 15: inception_4c/output is 1x1 at 15x15 by Caffe's rules, so this
    notebook setting must not be refused."""
    check_dream_size(net, [DEFAULT_END], octave_sizes(40, 40, 4, 1.4))
    assert min(blob_shapes(net, 15, 15)[DEFAULT_END]) == 1
    assert min(blob_shapes(net, 14, 14)[DEFAULT_END]) <= 0


def test_image_too_small_for_any_octave_does_not_suggest_octaves(net) -> None:
    rgb = _rgb(10, 10)
    with pytest.raises(DeepDreamError) as info:
        deepdream(net, rgb, DreamSettings(iter_n=1, octave_n=4), seed=0)
    message = str(info.value)
    octaves = re.search(r"--octaves (\d+)", message)
    assert octaves is None and "use a larger image" in message
    assert "4 octaves" in message
