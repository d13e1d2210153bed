"""bfloat16 nets (``tf_impl.dream.precision``, ``--precision bfloat16``): every layer in bfloat16,
the dream's own arithmetic in float32, the CLI option end to end, and the note on CPUs
without bfloat16 instructions."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tf_impl.cli import main
from tf_impl.dream.deepdream import dreamer_for
from tf_impl.dream.objectives import L2
from tf_impl.dream.precision import bfloat16_net, slow_precision_note
from tf_impl.host import cpu_features
from tf_impl.images.files import load_rgb
from tf_impl.net.layers import CaffeConvolution, CaffeInnerProduct, CaffeLRN, CaffePooling
from tf_impl.net.network import input_blobs

# bfloat16 keeps 8 significant bits: machine epsilon 2^-8 (a rounding moves a value by at
# most half of that, relatively). A layer that computes new values rounds them: a
# convolution or inner product rounds its weights and its output (oneDNN accumulates in
# float32), LRN its square window sum, power and product, average pooling its mean; each adds
# at most about 2^-8 relative error (two or three roundings of 2^-9). ReLU, max pooling and
# concatenation only pass values on. The bar: rel L2 error at a blob <= 2^-8 per rounding
# layer on its deepest path from the input, plus one for the input's own rounding to
# bfloat16, the worst case where every layer's error adds up in the same direction
# (independent roundings add in quadrature, far less): 15 layers + 1 at inception_4c/output
# give 0.0625; a net whose weights or LRN were lost is O(1) off.
EPS_BF16 = 2.0**-8
BLOBS = ["conv1/7x7_s2", "pool1/norm1", "conv2/norm2", "inception_3b/output", "inception_4c/output"]


@pytest.fixture(scope="module")
def net16(net):
    return bfloat16_net(net)


def rounding_depth(net, blob: str) -> int:
    """Layers that round what they compute (convolution, inner product, LRN, average
    pooling) on the deepest path from the input to ``blob``."""

    def rounds(layer) -> bool:
        if isinstance(layer, CaffePooling):
            return layer.method == "AVE"
        return isinstance(layer, CaffeConvolution | CaffeInnerProduct | CaffeLRN)

    @functools.cache
    def depth(name: str) -> int:
        layer = net.layer(name)
        return max((depth(b) for b in input_blobs(layer)), default=0) + rounds(layer)

    return depth(blob)


def test_every_layer_computes_in_bfloat16(net16):
    assert net16.compute_dtype == tf.bfloat16  # the input: no cast inside the network
    layers = net16.keras_model.layers[1:]  # after the input layer
    assert {layer.compute_dtype for layer in layers} == {"bfloat16"}
    assert all(output.dtype == "bfloat16" for layer in layers for output in [layer.output])
    weights = {w.dtype for w in net16.keras_model.weights}
    assert weights == {"bfloat16"}


def test_bfloat16_blobs_close_to_float32(net, net16):
    image = np.random.default_rng(0).uniform(-100, 100, (97, 173, 3)).astype(np.float32)
    ours, truth = net16.blobs(image, BLOBS), net.blobs(image, BLOBS)
    for blob in BLOBS:
        assert ours[blob].dtype == np.float32  # read back through run_model
        error = np.linalg.norm(ours[blob] - truth[blob]) / np.linalg.norm(truth[blob])
        bar = (rounding_depth(net, blob) + 1) * EPS_BF16
        print(f"{blob}: rel L2 {error:.2e} (bar {bar:.3f})")
        assert error <= bar, blob
        assert error > 0, blob  # really computed in bfloat16, not float32


def test_bfloat16_step_keeps_the_image_and_normalisation_float32(net16):
    """The step's update is the float32 formula applied to the gradient: a normalisation
    in bfloat16 would be off by ~2^-9 of each update value (about 3e-3 here)."""
    rng = np.random.default_rng(1)
    image = tf.constant(rng.uniform(-60, 60, (97, 173, 3)).astype(np.float32))
    dreamer = dreamer_for(net16, L2("inception_4c/output"))
    acts = dreamer.activations(image[None])
    assert acts["inception_4c/output"].dtype == tf.float32
    # Compiled, as in the step: bfloat16 gradients from other kernels (eager ones) differ
    # by far more than the normalisation's rounding.
    grad = tf.function(dreamer.gradient)(image).numpy()
    assert grad.dtype == np.float32
    step_size = 1.5
    out = dreamer.step(
        image, tf.constant([0, 0]), tf.constant(step_size), tf.constant(False), tf.zeros([0, 0])
    )
    assert out.dtype == tf.float32
    update = out.numpy().astype(np.float64) - image.numpy()
    expected = step_size / np.mean(np.abs(grad, dtype=np.float64)) * grad
    # float32 rounding of image + update (|values| < 128: half an ulp is 3.8e-6), twice.
    np.testing.assert_allclose(update, expected, rtol=0, atol=1e-5)


@pytest.fixture()
def image_file(tmp_path):
    path = tmp_path / "in.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (90, 130, 3), dtype=np.uint8)).save(path)
    return path


def _dream(image_file, model, out, capsys, *extra):
    argv = ["dream", image_file, "-o", out, "--model", model, "--octaves", "2", "--steps", "2"]
    code = main([str(a) for a in [*argv, "--quiet", "--seed", "0", *extra]])
    return code, capsys.readouterr().err


def test_cli_dreams_in_bfloat16(image_file, keras_model_file, tmp_path, capsys):
    out16, out32 = tmp_path / "bf16.png", tmp_path / "f32.png"
    code, err = _dream(image_file, keras_model_file, out16, capsys, "--precision", "bfloat16")
    assert code == 0, err
    assert _dream(image_file, keras_model_file, out32, capsys)[0] == 0
    dream16, dream32, original = load_rgb(out16), load_rgb(out32), load_rgb(image_file)
    assert dream16.shape == original.shape
    assert not np.array_equal(dream16, original)  # it dreamed
    assert not np.array_equal(dream16, dream32)  # in another arithmetic than float32's


def test_cli_refuses_an_unknown_precision(image_file, keras_model_file, tmp_path, capsys):
    code, err = _dream(
        image_file, keras_model_file, tmp_path / "o.png", capsys, "--precision", "float16"
    )
    assert code != 0
    assert "--precision" in err and "bfloat16" in err
    assert "Traceback" not in err


def test_note_on_a_cpu_without_bfloat16(
    image_file, keras_model_file, tmp_path, capsys, monkeypatch
):
    """Only the CPU-flag reading is replaced (an AVX2-only CPU's flags): the dream still
    runs, with one note that it will be slow."""
    monkeypatch.setattr(cpu_features, "cpu_flags", lambda: {"avx", "avx2", "fma", "sse4_2"})
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU computes bfloat16 whatever the CPU: no note there")
    code, err = _dream(
        image_file, keras_model_file, tmp_path / "o.png", capsys, "--precision", "bfloat16"
    )
    assert code == 0, err
    assert err.count("no bfloat16 instructions") == 1
    # float32 gets no note, and neither does bfloat16 on a CPU that has the instructions.
    assert slow_precision_note("float32") is None
    monkeypatch.setattr(cpu_features, "cpu_flags", lambda: {"avx2", "avx512_bf16"})
    assert slow_precision_note("bfloat16") is None


def test_zoom_in_bfloat16_never_resumes_a_float32_sequence(
    image_file, keras_model_file, tmp_path, capsys
):
    frames = tmp_path / "frames"
    argv = ["zoom", image_file, "-o", frames, "--model", keras_model_file, "--octaves", "1"]
    argv += ["--steps", "1", "--quiet", "--seed", "0"]
    code = main([str(a) for a in [*argv, "--frames", "1", "--precision", "bfloat16"]])
    assert code == 0, capsys.readouterr().err
    assert (frames / "frame_0000.png").is_file()
    capsys.readouterr()
    code = main([str(a) for a in [*argv, "--frames", "2"]])  # float32 now
    err = capsys.readouterr().err
    assert code == 2, err
    assert "made with other settings" in err and "precision" in err
    assert not (frames / "frame_0001.png").exists()
