"""ResNet-family Caffe layers (BatchNorm, Scale, Bias, Eltwise, Power), the in-place ReLU's
backward, AVE windows past the input and the clear refusals, against NumPy restatements of
Caffe's CPU code (batch_norm_layer.cpp, scale_layer.cpp, bias_layer.cpp, eltwise_layer.cpp,
power_layer.cpp, relu_layer.cpp, pooling_layer.cpp) and against the stored real-Caffe runs of
the fuzz nets (``reference/data/fuzz.npz``). Live parity: tests/test_reference_live.py.

Tolerances: float32 against a float64 restatement, max |difference| / max |value| <= 1e-6
(a handful of float32 roundings: epsilon 6e-8 each); a wrong rule (the factor not divided out,
eps left out, a tie sent to the other bottom) is off by 1e-3 or more.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from conversion.caffe_files import build_net_spec, read_caffemodel
from conversion.errors import DeepDreamError
from reference import fuzz
from reference.caffe_pooling import caffe_pool
from reference.metrics import max_rel, rel_l2
from tests import reference_data as ref
from tests.test_tiling import check_tiled_gradient
from tf_impl.cli import main
from tf_impl.dream.deepdream import input_gradient
from tf_impl.dream.objectives import L2
from tf_impl.dream.tiling import TilePolicy
from tf_impl.net.builder import build_keras_model
from tf_impl.net.input_size import check_image_fits
from tf_impl.net.layers import (
    BlobShapeError,
    CaffeBatchNorm,
    CaffeEltwise,
    CaffeLeakyReLU,
    CaffePooling,
    CaffePower,
    CaffeScale,
)
from tf_impl.net.network import DreamNet
from tf_impl.net.shapes import blob_shapes

FLOAT32_REL = 1e-6


def _fuzz_net(name: str) -> fuzz.FuzzNet:
    return next(net for net in fuzz.NETS if net.name == name)


def _grad(layer, x: np.ndarray, upstream: np.ndarray, dtype=tf.float32):
    """(layer(x), d sum(layer(x) * upstream) / dx) for one input."""
    inputs = tf.constant(x, dtype)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        out = layer(inputs)
        score = tf.reduce_sum(out * tf.constant(upstream, dtype))
    return out.numpy(), tape.gradient(score, inputs).numpy()


# --- BatchNorm, Scale, Bias -------------------------------------------------------------------


def _batch_norm(x, mean, variance, factor, eps, dtype):
    layer = CaffeBatchNorm(eps=eps, dtype=dtype)
    layer.build(x.shape)
    layer.set_weights([mean, variance, factor])
    return layer


@pytest.mark.parametrize("factor", [999.982, 1.0, 0.0])
def test_batch_norm_divides_the_stored_sums_by_the_factor(factor):
    """Caffe: mean = blob0 / blob2, variance = blob1 / blob2 (a factor of 0 gives 0 for both),
    y = (x - mean) / sqrt(variance + eps); the backward divides by the same sqrt."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 5, 7, 4)) * 30
    mean = (rng.normal(size=4) * 10 * factor).astype(np.float32)
    variance = (rng.uniform(0.5, 9, size=4) * factor).astype(np.float32)
    blob2 = np.array([factor], np.float32)
    eps = float(np.float32(1e-5))
    f = 0.0 if factor == 0 else 1 / np.float64(blob2[0])
    std = np.sqrt(variance.astype(np.float64) * f + eps)
    expected = (x - mean.astype(np.float64) * f) / std
    upstream = rng.normal(size=x.shape)
    for dtype, bar in (("float32", FLOAT32_REL), ("float64", 1e-14)):
        out, grad = _grad(_batch_norm(x, mean, variance, blob2, eps, dtype), x, upstream, dtype)
        assert max_rel(out, expected) <= bar
        assert max_rel(grad, upstream / std) <= bar


def test_scale_per_channel_and_scalar_with_bias():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 3, 4, 5)).astype(np.float32)
    for channels, shape in ((5, (5,)), (None, ())):
        gamma, beta = rng.normal(size=shape).astype(np.float32), rng.normal(size=shape)
        layer = CaffeScale(channels, use_bias=True)
        layer.build(x.shape)
        layer.set_weights([gamma, beta.astype(np.float32)])
        assert max_rel(layer(x).numpy(), x * gamma + beta.astype(np.float32)) <= FLOAT32_REL


# --- Eltwise -------------------------------------------------------------------------------------


def _caffe_max_mask(xs):
    """eltwise_layer.cpp's MAX: bottom 1 unless bottom 0 > bottom 1; later bottoms only when
    strictly greater."""
    mask = np.where(xs[0] > xs[1], 0, 1)
    top = np.where(xs[0] > xs[1], xs[0], xs[1])
    for i, x in enumerate(xs[2:], start=2):
        mask = np.where(x > top, i, mask)
        top = np.maximum(top, x)
    return top, mask


def test_eltwise_max_breaks_ties_and_routes_the_gradient_as_caffe():
    # Values on a coarse grid: many exact ties between the three bottoms.
    rng = np.random.default_rng(3)
    xs = [rng.integers(-1, 2, size=(1, 6, 6, 2)).astype(np.float32) for _ in range(3)]
    upstream = rng.normal(size=xs[0].shape).astype(np.float32)
    inputs = [tf.constant(x) for x in xs]
    with tf.GradientTape() as tape:
        for x in inputs:
            tape.watch(x)
        out = CaffeEltwise("MAX", (1.0, 1.0, 1.0))(inputs)
        score = tf.reduce_sum(out * upstream)
    grads = tape.gradient(score, inputs)
    top, mask = _caffe_max_mask(xs)
    np.testing.assert_array_equal(out.numpy(), top)
    assert (xs[0] == xs[1]).sum() > 10  # the ties are there
    for i, grad in enumerate(grads):
        np.testing.assert_array_equal(grad.numpy(), np.where(mask == i, upstream, 0))


def test_eltwise_sum_coefficients_and_prod_backward_forms():
    rng = np.random.default_rng(4)
    xs = [rng.normal(size=(1, 4, 5, 3)) for _ in range(3)]
    upstream = rng.normal(size=xs[0].shape)
    coeffs = (0.5, -1.0, 2.0)
    layer = CaffeEltwise("SUM", coeffs)
    summed = layer([tf.constant(x, tf.float32) for x in xs]).numpy()
    assert max_rel(summed, sum(c * x for c, x in zip(coeffs, xs, strict=True))) <= FLOAT32_REL
    for stable in (True, False):
        inputs = [tf.constant(x, tf.float32) for x in xs]
        with tf.GradientTape() as tape:
            for x in inputs:
                tape.watch(x)
            score = tf.reduce_sum(CaffeEltwise("PROD", (1.0,) * 3, stable)(inputs) * upstream)
        grads = tape.gradient(score, inputs)
        product = xs[0] * xs[1] * xs[2]
        for x, grad in zip(xs, grads, strict=True):
            # Caffe: the product of the others (stable) or top / x_i; the same in float64.
            assert max_rel(grad.numpy(), product / x * upstream) <= 1e-5


def test_eltwise_refuses_bottoms_of_different_shapes():
    layer = CaffeEltwise("SUM", (1.0, 1.0), name="sum2")
    with pytest.raises(BlobShapeError, match=r"layer 'sum2' \(Eltwise SUM\).*7x8x4 and 6x8x4"):
        layer.compute_output_shape([(1, 7, 8, 4), (1, 6, 8, 4)])


# --- Power ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "power,scale,shift",
    [(2.0, 0.5, 1.0), (3.0, -0.25, 0.0), (0.5, 1.0, 1.0), (1.5, 0.01, 1.0), (1.0, -2.0, 3.0)],
)
def test_power_forward_and_gradient(power, scale, shift):
    rng = np.random.default_rng(5)
    x = rng.uniform(0.1, 50, size=(1, 4, 5, 3))
    upstream = rng.normal(size=x.shape)
    out, grad = _grad(CaffePower(power, scale, shift), x, upstream)
    base = shift + scale * x
    assert max_rel(out, base**power) <= FLOAT32_REL
    assert max_rel(grad, upstream * power * scale * base ** (power - 1)) <= FLOAT32_REL


@pytest.mark.parametrize("power,scale,value", [(0.0, 1.0, 1.0), (2.0, 0.0, 9.0)])
def test_power_that_ignores_its_input_is_caffes_constant(power, scale, value):
    x = np.random.default_rng(6).normal(size=(1, 3, 3, 2))
    out, grad = _grad(CaffePower(power, scale, 3.0), x, np.ones_like(x))
    np.testing.assert_array_equal(out, np.full_like(x, value))
    np.testing.assert_array_equal(grad, np.zeros_like(x))


# --- ReLU in place ----------------------------------------------------------------------------


@pytest.mark.parametrize("in_place", [False, True])
def test_leaky_relu_backward_reads_the_bottom_caffe_reads(in_place):
    """relu_layer.cpp: dx = dy * ((bottom > 0) + slope * (bottom <= 0)). The bottom is x,
    or, in place, the output y = slope * x, which is > 0 wherever x < 0."""
    slope = -0.5
    x = np.array([[-3.0, -0.25, 0.0, 0.5, 2.0]], np.float32)
    upstream = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]], np.float32)
    out, grad = _grad(CaffeLeakyReLU(slope, in_place=in_place), x, upstream)
    bottom = out if in_place else x
    np.testing.assert_array_equal(out, np.where(x > 0, x, slope * x))
    np.testing.assert_array_equal(grad, upstream * np.where(bottom > 0, 1, slope))


def test_in_place_leaky_relu_matches_stored_caffe_and_the_derivative_does_not(tmp_path):
    """The audit's two-layer net against stored real Caffe: ours is Caffe's gradient; the true
    derivative (the same ReLU, same weights, with its own top) is far from it (the audit
    measured rel L2 0.86)."""
    net = _fuzz_net("inplace_leaky")
    caffe = ref.load("fuzz")[0]["inplace_leaky/13x17/gradient/r"]
    in_place = DreamNet(build_keras_model(build_net_spec(*fuzz.write_files(net, tmp_path))))
    own_top = fuzz.FuzzNet(
        "own_top",
        net.layers.replace('top: "c" relu_param', 'top: "r" relu_param'),
        net.blobs,
        net.ends,
        net.sizes,
    )
    assert own_top.layers != net.layers
    derivative = DreamNet(build_keras_model(build_net_spec(*fuzz.write_files(own_top, tmp_path))))
    image = in_place.preprocess(fuzz.input_image((13, 17)))
    assert rel_l2(input_gradient(in_place, image, "r"), caffe) <= ref.ROUNDING_REL_L2
    assert rel_l2(input_gradient(derivative, image, "r"), caffe) > 0.5


# --- AVE pooling past the input -----------------------------------------------------------------


def test_ave_window_past_the_input_is_caffes_negative_zero():
    """kernel 1, stride 3, no pad on 13x17: the last window along the width starts at column 18,
    past the input; Caffe divides its empty sum by a window size of -1: -0.0 (not NaN)."""
    x = np.random.default_rng(7).normal(size=(13, 17, 2))
    expected = caffe_pool(x, "AVE", (1, 1), (3, 3), (0, 0))
    got = CaffePooling("AVE", (1, 1), (3, 3))(tf.constant(x[None], tf.float32)).numpy()[0]
    assert got.shape == expected.shape == (5, 7, 2)
    assert np.all(np.isfinite(got))
    np.testing.assert_array_equal(np.signbit(got[:, -1]), np.ones((5, 2), bool))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_ave_window_past_the_input_matches_stored_caffe():
    arrays = ref.load("fuzz")[0]
    for size in ((13, 17), (31, 29)):
        caffe = arrays[f"ave_past_input/{size[0]}x{size[1]}/blob/p"]
        assert np.all(np.isfinite(caffe)) and np.all(np.signbit(caffe[:, -1]))
        assert np.all(caffe[:, -1] == 0)


def test_ave_window_of_size_zero_is_refused_naming_the_layer(tmp_path):
    """At 12x18 the last window starts at column 18 = the width: Caffe divides 0 by 0 (NaN)."""
    net = _fuzz_net("ave_past_input")
    dream_net = DreamNet(build_keras_model(build_net_spec(*fuzz.write_files(net, tmp_path))))
    with pytest.raises(DeepDreamError, match=r"layer 'p' \(AVE pooling\).*window size of 0"):
        check_image_fits(dream_net, ["c2"], 12, 18, "image")
    assert blob_shapes(dream_net, 13, 17)["p"] == (5, 7, 4)


# --- Residual branches --------------------------------------------------------------------------


def test_residual_branches_line_up_only_at_odd_sizes(tmp_path):
    """Block 1 adds MAX pool 3/2 (ceil) to conv 3/2 (floor): equal at odd sizes only."""
    net = _fuzz_net("residual")
    dream_net = DreamNet(build_keras_model(build_net_spec(*fuzz.write_files(net, tmp_path))))
    assert blob_shapes(dream_net, 13, 17)["sum1"] == (6, 8, 8)
    with pytest.raises(DeepDreamError, match=r"layer 'sum1' \(Eltwise SUM\).*7x9x8 and 6x8x8"):
        check_image_fits(dream_net, ["sum2"], 14, 18, "image")


def test_tiled_gradient_is_exact_through_residual_branches(tmp_path):
    """Tiles planned from receptive fields that merge both branches of every Eltwise give the
    untiled gradient (tolerance as tests/test_tiling.py: rel L2 1e-5; a halo one unit short
    is off by 1e-2 or more)."""
    net = _fuzz_net("residual")
    dream_net = DreamNet(build_keras_model(build_net_spec(*fuzz.write_files(net, tmp_path))))
    image = np.random.default_rng(8).uniform(-100, 100, (121, 153, 3)).astype(np.float32)
    check_tiled_gradient(dream_net, L2("r_sum2"), image, policy=TilePolicy(tile=(48, 48)))


# --- Bad input: one line naming the layer, exit 2, nothing written -------------------------------

RESIDUAL = (
    fuzz._conv("c", "data", 4, "kernel_size: 3 pad: 1")
    + fuzz._layer("bn", "BatchNorm", ["c"], top="c")
    + fuzz._layer("sc", "Scale", ["c"], "scale_param { bias_term: true }", top="c")
    + fuzz._conv("a", "c", 4, "kernel_size: 1")
    + fuzz._layer("sum", "Eltwise", ["c", "a"])
)


def _convert_error(layers: str, tmp_path, capsys, edit=None) -> str:
    """Write a net (``edit`` may change the caffemodel's NetParameter), run ``deepdream
    convert`` on it; returns its one error line after checking exit 2 and no output."""
    caffemodel, prototxt = fuzz.write_files(fuzz.FuzzNet("bad", layers, (), ()), tmp_path)
    if edit is not None:
        model = read_caffemodel(caffemodel)
        edit({layer.name: layer for layer in model.layer})
        caffemodel.write_bytes(model.SerializeToString())
    before = caffemodel.read_bytes()
    out = tmp_path / "bad.keras"
    code = main(
        ["convert", "--model", str(caffemodel), "--prototxt", str(prototxt), "-o", str(out)]
    )
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("deepdream: error:"), err
    assert not out.exists() and not list(tmp_path.glob("*.keras*"))
    assert caffemodel.read_bytes() == before
    return err[0]


def test_convert_refuses_batch_norm_without_its_three_blobs(tmp_path, capsys):
    line = _convert_error(RESIDUAL, tmp_path, capsys, lambda layers: layers["bn"].blobs.pop())
    assert "layer 'bn' (BatchNorm) has 2 weight blobs" in line and "needs 3" in line


def test_convert_refuses_a_variance_blob_of_the_wrong_size(tmp_path, capsys):
    def shorten(layers):
        variance = layers["bn"].blobs[1]
        del variance.data[-1]
        variance.shape.dim[0] -= 1

    line = _convert_error(RESIDUAL, tmp_path, capsys, shorten)
    assert "layer 'bn' (BatchNorm): variance has shape (3,), expected (4,)" in line


def test_convert_refuses_eltwise_over_different_channels(tmp_path, capsys):
    layers = RESIDUAL.replace(
        '"a" convolution_param { num_output: 4', '"a" convolution_param { num_output: 5'
    )
    line = _convert_error(layers, tmp_path, capsys)
    assert "layer 'sum' (Eltwise SUM) combines blobs of shapes" in line


def test_convert_refuses_eltwise_misaligned_at_the_declared_size(tmp_path, capsys):
    layers = (
        fuzz._conv("c", "data", 4, "kernel_size: 3 pad: 1")
        + fuzz._layer("p", "Pooling", ["c"], "pooling_param { pool: MAX kernel_size: 3 stride: 2 }")
        + fuzz._conv("d", "c", 4, "kernel_size: 3 stride: 2")
        + fuzz._layer("sum", "Eltwise", ["p", "d"])
    )
    # The FuzzNet prototxt declares 13x17 (odd: it lines up); declare 14x18 instead.
    net = fuzz.FuzzNet("bad", layers, (), (), sizes=((14, 18),))
    caffemodel, prototxt = fuzz.write_files(net, tmp_path)
    out = tmp_path / "bad.keras"
    code = main(
        ["convert", "--model", str(caffemodel), "--prototxt", str(prototxt), "-o", str(out)]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and not out.exists(), err
    assert "layer 'sum' (Eltwise SUM) combines blobs of shapes 7x9x4 and 6x8x4" in err[0]


@pytest.mark.parametrize(
    "scale_layer, message",
    [
        (
            fuzz._layer("sc", "Scale", ["c", "a"], top="s"),
            "layer 'sc' (Scale) has 2 bottoms: a Scale by a second blob is not supported",
        ),
        (
            fuzz._layer("sc", "Scale", ["c"], "scale_param { axis: 2 }", top="c"),
            "layer 'sc' (Scale): a scale over axes H (axis 2, num_axes 1) is not supported",
        ),
        (
            fuzz._layer("sc", "Scale", ["c"], "scale_param { num_axes: -1 }", top="c"),
            "layer 'sc' (Scale): a scale over axes CHW (axis 1, num_axes -1) is not supported",
        ),
    ],
)
def test_convert_refuses_a_scale_form_it_does_not_support(scale_layer, message, tmp_path, capsys):
    layers = fuzz._conv("c", "data", 4, "kernel_size: 3 pad: 1") + fuzz._conv(
        "a", "c", 4, "kernel_size: 1"
    )
    line = _convert_error(layers + scale_layer, tmp_path, capsys)
    assert message in line


def test_convert_refuses_in_place_power_and_batch_statistics(tmp_path, capsys):
    conv = fuzz._conv("c", "data", 4, "kernel_size: 3 pad: 1")
    power = fuzz._layer("p", "Power", ["c"], "power_param { power: 2 }", top="c")
    assert "layer 'p' (Power) runs in place" in _convert_error(conv + power, tmp_path, capsys)
    batch = fuzz._layer("bn", "BatchNorm", ["c"], "batch_norm_param { use_global_stats: false }")
    line = _convert_error(conv + batch, tmp_path, capsys)
    assert "layer 'bn' (BatchNorm) sets use_global_stats: false" in line
