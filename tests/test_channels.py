"""``deepdream channels`` and ``dream --guide-channels`` against activations computed
independently: NumPy statistics of the ``blobs`` command's NCHW arrays.

Tolerance for mean/max: 1e-5 relative. Both come from the same float32 blob; the command
averages in float64 as NumPy does here, so only the float32 JSON round trip differs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.atlas_helpers import run_cli
from tf_impl.atlas.overlay import activation_overlay
from tf_impl.dream.objectives import guide_channels_objective
from tf_impl.models.labels import SYNTHETIC_LABEL
from tf_impl.net.channel_stats import blob_activations

LAYER = "inception_3b/output"


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    rng = np.random.default_rng(11)
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    Image.fromarray(rng.integers(0, 256, (160, 190, 3), dtype=np.uint8)).save(path)
    return path


def _numpy_stats(model, image, tmp_path, capsys):
    """(means, maxes) per channel of LAYER for ``image`` from ``deepdream blobs``' .npz."""
    npz = tmp_path / f"{image.stem}.npz"
    code, _, err = run_cli(["blobs", image, "--model", model, "--blob", LAYER, "-o", npz], capsys)
    assert code == 0, err
    blob = np.load(npz)[LAYER][0]  # (C, h, w)
    return blob.mean(axis=(1, 2), dtype=np.float64), blob.max(axis=(1, 2))


def _expected_top(values: np.ndarray, k: int) -> list[int]:
    return sorted(range(len(values)), key=lambda c: (-values[c], c))[:k]


@pytest.mark.parametrize("by", ["mean", "max"])
def test_top_channels_agree_with_numpy_from_blobs(
    by, photo, synthetic_model_file, tmp_path, capsys
):
    means, maxes = _numpy_stats(synthetic_model_file, photo, tmp_path, capsys)
    out_json, out_png = tmp_path / "top.json", tmp_path / "top.png"
    argv = ["channels", photo, "--model", synthetic_model_file, "--layer", LAYER, "--top", 7]
    code, stdout, err = run_cli([*argv, "--by", by, "--json", out_json, "-o", out_png], capsys)
    assert code == 0, err
    record = json.loads(out_json.read_text())
    chosen = [entry["channel"] for entry in record["channels"]]
    assert chosen == _expected_top(means if by == "mean" else maxes, 7)
    for entry in record["channels"]:
        np.testing.assert_allclose(entry["mean"], means[entry["channel"]], rtol=1e-5)
        np.testing.assert_allclose(entry["max"], maxes[entry["channel"]], rtol=1e-5)
    assert record["weights_label"] == SYNTHETIC_LABEL
    table = [line.split() for line in stdout.splitlines() if line.split()[:1] == ["1"]]
    assert table and int(table[0][1]) == chosen[0]
    assert SYNTHETIC_LABEL in stdout
    assert Image.open(out_png).size[0] > 200


def test_overlay_puts_the_atlas_picture_beside(photo, synthetic_model_file, tmp_path, capsys):
    alone, beside, top = tmp_path / "alone.png", tmp_path / "beside.png", tmp_path / "top.json"
    base = ["channels", photo, "--model", synthetic_model_file, "--layer", LAYER, "--top", 2]
    assert run_cli([*base, "-o", alone, "--json", top], capsys)[0] == 0
    chosen = ",".join(str(e["channel"]) for e in json.loads(top.read_text())["channels"])
    atlas = tmp_path / "atlas"
    argv = ["atlas", "--model", synthetic_model_file, "--layer", LAYER, "-o", atlas]
    argv += [
        "--render",
        "notebook",
        "--size",
        "40",
        "--octaves",
        "1",
        "--steps",
        "1",
        "--channels",
        chosen,
        "--quiet",
    ]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    assert run_cli([*base, "-o", beside, "--atlas", atlas], capsys)[0] == 0
    # two tiles per row (overlay, atlas picture) instead of two overlays side by side
    assert Image.open(beside).size[1] > Image.open(alone).size[1]


def test_bad_channels_arguments(photo, synthetic_model_file, tmp_path, capsys):
    base = ["channels", photo, "--model", synthetic_model_file]
    for extra, words in (
        (["--layer", "inception_3b/outptu"], "did you mean 'inception_3b/output'"),
        (["--layer", LAYER, "--top", "481"], "--top must be between 1 and 480"),
        (["--layer", "loss3/classifier"], "no spatial positions"),
        (["--layer", LAYER, "--atlas", tmp_path], "no atlas there"),
    ):
        code, _, err = run_cli([*base, *extra, "--json", tmp_path / "x.json"], capsys)
        assert code == 2 and words in err and len(err.splitlines()) == 1, err
        assert not (tmp_path / "x.json").exists()


def test_guide_channels_ascend_exactly_the_guides_top_channels(
    photo, synthetic_model_file, tmp_path, capsys
):
    rng = np.random.default_rng(5)
    guide = tmp_path / "guide.png"
    Image.fromarray(rng.integers(0, 256, (130, 150, 3), dtype=np.uint8)).save(guide)
    means, _ = _numpy_stats(synthetic_model_file, guide, tmp_path, capsys)
    out = tmp_path / "out.png"
    argv = ["dream", photo, "-o", out, "--model", synthetic_model_file, "--layer", LAYER]
    argv += ["--guide-channels", guide, "--top", 5, "--octaves", 2, "--steps", 1, "--quiet"]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    line = next(x for x in err.splitlines() if x.startswith("guide channels of"))
    assert [int(c) for c in line.split(":")[1].split()] == _expected_top(means, 5)
    assert out.is_file()


def test_guide_channels_objective_from_python(net):

    rng = np.random.default_rng(6)
    guide = rng.integers(0, 256, (120, 140, 3), dtype=np.uint8)
    objective = guide_channels_objective(net, guide, LAYER, 4)
    means = blob_activations(net, guide, LAYER).mean(axis=(0, 1), dtype=np.float64)
    assert objective.blob == LAYER
    assert list(objective.channels) == _expected_top(means, 4)


def test_overlay_lights_the_image_where_the_channel_is_strong():

    rgb = np.full((80, 80, 3), 200, np.uint8)
    activation = np.zeros((4, 4), np.float32)
    activation[0, 0] = 5.0  # strong in the top-left unit only
    out = activation_overlay(rgb, activation).astype(int)
    assert out[0, 0, 0] > 150  # kept where strong
    assert out[-1, -1, 0] == 40  # 20 % of 200 where the map is at its minimum
    flat = activation_overlay(rgb, np.ones((4, 4), np.float32))
    assert (flat == 40).all()  # a constant map lights nothing
