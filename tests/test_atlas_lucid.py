"""The lucid renderer (``deepdream atlas --render lucid``): the Fourier parameterisation and the
colour matrix as stated, determinism, diversity, negatives, resume to identical bytes, and
bad input refused before anything is written."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.atlas_helpers import BLOB, FAST_LUCID, run_cli, tree_bytes
from tf_impl.atlas.atlas_dir import AtlasDir, plan_atlas, render_atlas
from tf_impl.atlas.fourier import (
    COLOUR_COVARIANCE,
    COLOUR_EIGENVALUES,
    COLOUR_SQRT,
    FourierImage,
)
from tf_impl.atlas.lucid import LucidRenderer
from tf_impl.atlas.render_settings import LucidSettings
from tf_impl.models.loading import load_net

SMALL = LucidSettings(size=40, steps=3, pad=4, jitter=2, batch=3)  # = FAST_LUCID


@pytest.mark.parametrize("side", [32, 31])
def test_fourier_parameterisation_round_trips_an_image(side):
    param = FourierImage(side, decay=1.0)
    rgb = np.random.default_rng(side).uniform(2, 253, (2, side, side, 3))
    back = param.to_rgb(tf.constant(param.from_rgb(rgb))).numpy()
    # float32 rounding, amplified at most 255 / (2 * 253 * 2 / 255) ~ 64 times by the sigmoid
    assert np.abs(back - rgb).max() < 255 * 2e-5


def test_spectrum_is_scaled_by_one_over_frequency():
    param = FourierImage(64, decay=1.0)
    scale = param.scale.numpy()
    assert scale[0, 4] / scale[0, 8] == pytest.approx(2.0, rel=1e-5)  # f doubles: half
    assert scale[0, 0] == pytest.approx(scale[0, 1], rel=1e-5)  # the mean: the lowest f's


def test_colour_matrix_decorrelates_as_stated():
    sqrt = COLOUR_SQRT.astype(np.float64)
    largest = COLOUR_EIGENVALUES[0]
    np.testing.assert_allclose(sqrt @ sqrt.T, COLOUR_COVARIANCE / largest, atol=1e-6)
    rng = np.random.default_rng(0)
    # ImageNet-coloured samples, decorrelated: uncorrelated, each of variance l_1
    rgb = rng.multivariate_normal(np.zeros(3), COLOUR_COVARIANCE, 200_000)
    decorrelated = rgb @ np.linalg.inv(sqrt).T
    np.testing.assert_allclose(np.cov(decorrelated.T), largest * np.eye(3), atol=0.02 * largest)
    # and correlated again: ImageNet's covariance
    np.testing.assert_allclose(np.cov((decorrelated @ sqrt.T).T), COLOUR_COVARIANCE, atol=3e-3)


def test_same_seed_same_pictures_and_independent_of_the_batch(net):
    renderer = LucidRenderer(net, SMALL, BLOB)
    together = renderer.pictures([3, 4, 5])
    again = renderer.pictures([3, 4, 5])
    alone = renderer.pictures([4])
    np.testing.assert_array_equal(together[4][""], again[4][""])
    np.testing.assert_array_equal(together[4][""], alone[4][""])
    other = LucidRenderer(net, LucidSettings(**{**vars(SMALL), "seed": 1}), BLOB).pictures([4])
    assert not np.array_equal(other[4][""], alone[4][""])


def _channel_means(renderer, pictures: list[np.ndarray], channel: int) -> np.ndarray:
    rgb = tf.constant(np.asarray(pictures, np.float32))
    return renderer.activations(rgb).numpy().mean(axis=(1, 2))[:, channel]


def test_negatives_inhibit_and_diversity_differs(net):
    settings = LucidSettings(size=40, steps=12, pad=4, jitter=2, diversity=2, negatives=True)
    renderer = LucidRenderer(net, settings, BLOB)
    pictures = renderer.pictures([2])[2]
    assert set(pictures) == {"", "_v1", "_neg", "_neg_v1"}
    grey = np.full((40, 40, 3), 128, np.uint8)
    up, down, flat = _channel_means(renderer, [pictures[""], pictures["_neg"], grey], 2)
    assert up > flat > down
    difference = np.abs(pictures[""].astype(int) - pictures["_v1"].astype(int)).mean()
    assert difference > 5  # 0-255 levels: two pictures, not one twice


def test_interrupted_lucid_atlas_resumes_to_identical_bytes(synthetic_model_file, tmp_path, capsys):
    extra = ["--channels", "0-5", "--negatives", "--diversity", "2"]
    base = ["atlas", "--model", synthetic_model_file, "--layer", BLOB, *FAST_LUCID, *extra]
    full = tmp_path / "full"
    code, _, err = run_cli([*base, "-o", full], capsys)
    assert code == 0, err
    settings = LucidSettings(**{**vars(SMALL), "diversity": 2, "negatives": True})
    assert json.loads((full / "atlas.json").read_text())["settings"] == settings.as_dict()

    out = tmp_path / "atlas"
    net = load_net(synthetic_model_file)
    plan = plan_atlas(net, out, [BLOB], settings, range(6))

    def interrupt(count):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_atlas(net, settings, out, plan, on_channels=interrupt)
    atlas = AtlasDir(out)
    assert len(list(atlas.blob_dir(BLOB).glob("*.png"))) == 3 * 4  # one group of 3 channels
    damaged = atlas.channel_png(BLOB, 1, "_neg_v1")  # half-written: the channel is redone
    damaged.write_bytes(damaged.read_bytes()[:100])
    code, _, err = run_cli([*base, "-o", out], capsys)
    assert code == 0, err
    assert tree_bytes(out) == tree_bytes(full)
    with Image.open(atlas.channel_png(BLOB, 5, "_neg")) as picture:
        assert picture.size == (40, 40)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--render", "deepest"], ["invalid choice: 'deepest'", "lucid"]),
        (["--render", "lucid", "--diversity", "0"], ["--diversity", ">= 1"]),
        (["--render", "lucid", "--lapnorm", "2"], ["--lapnorm", "--render notebook"]),
        (["--render", "notebook", "--diversity", "2"], ["--diversity", "--render lucid"]),
        (["--render", "lucid", "--scale", "1.5"], ["--scale", "below 1"]),
        (
            ["--render", "lucid", "--layer", "loss3/classifier"],
            ["no spatial positions", "classifier", "global pooling", "convolutional blob"],
        ),
    ],
    ids=["unknown-renderer", "diversity-0", "foreign-option", "diversity-notebook", "scale",
         "classifier"],
)  # fmt: skip
def test_bad_lucid_arguments(extra, words, synthetic_model_file, tmp_path, capsys):
    out = tmp_path / "atlas"
    argv = ["atlas", "--model", synthetic_model_file, "--layer", BLOB, "-o", out, "--quiet"]
    code, _, err = run_cli([*argv, *extra], capsys)
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("deepdream: error:")
    for word in words:
        assert word in err
    assert not out.exists()


def test_tensor_preprocessing_is_the_nets_own(net):
    rgb = np.random.default_rng(3).uniform(0, 255, (2, 9, 7, 3)).astype(np.float32)
    np.testing.assert_array_equal(
        net.preprocess_tensor(tf.constant(rgb)).numpy(), net.preprocess(rgb)
    )
