"""Every command on open_nsfw, a real trained Caffe ResNet-50 (BatchNorm, Scale, Eltwise), at
small sizes: dream (L2 at the default layer, guided, --guide-channels, channels, neuron,
several layers, bfloat16, tiled), zoom, atlas, channels, page, export, layers, blobs, and the
model by name. Tiling through the residual branches is exact (rel L2 <= 1e-5, as in
tests/test_tiling.py: only the order of float32 sums differs)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from tests.atlas_helpers import run_cli
from tests.test_tiling import check_tiled_gradient, noise
from tf_impl.dream.deepdream import dreamer_for
from tf_impl.dream.objectives import L2, Channels, Guided, Neuron, WeightedSum
from tf_impl.dream.tiling import TilePolicy
from tf_impl.images.files import load_rgb
from tf_impl.net.receptive_field import receptive_field

FAST = ["--octaves", "2", "--steps", "2", "--quiet", "--seed", "0"]
STAGE1, STAGE2 = "eltwise_stage1_block3", "eltwise_stage2_block2"


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A 120x160 seeded random RGB photo (PNG)."""
    path = tmp_path_factory.mktemp("photo") / "in.png"
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture()
def by_name(open_nsfw_files, tmp_path, monkeypatch):
    """A cache holding open_nsfw's two files (as `make open-nsfw` leaves them), nothing else."""
    cache = tmp_path / "cache"
    cache.mkdir()
    for path in open_nsfw_files:
        os.symlink(path, cache / path.name)
    monkeypatch.setenv("DEEPDREAM_CACHE", str(cache))
    return cache


def _dream(photo, model, out, capsys, *extra):
    code, _, err = run_cli(["dream", photo, "-o", out, "--model", model, *FAST, *extra], capsys)
    assert code == 0, err
    assert Image.open(out).size == Image.open(photo).size
    assert not np.array_equal(load_rgb(out), load_rgb(photo))
    return err


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--layer", STAGE1, "--channels", "3", "100"],
        ["--layer", STAGE1, "--neuron", "7"],
        ["--layer", STAGE1, STAGE2, "--weights", "1", "0.5"],
        ["--precision", "bfloat16"],
        ["--tile", "64x64"],
    ],
    ids=["default-layer", "channels", "neuron", "several-layers", "bfloat16", "tiled"],
)
def test_dream(extra, photo, open_nsfw_keras, tmp_path, capsys):
    _dream(photo, open_nsfw_keras, tmp_path / "out.png", capsys, *extra)


def test_default_layer_is_the_tables(open_nsfw_net):
    assert open_nsfw_net.metadata["default_layer"] == STAGE1
    assert open_nsfw_net.mean == (104.0, 117.0, 123.0) and open_nsfw_net.channel_order == "BGR"


def test_guided_dreams(photo, open_nsfw_keras, tmp_path, capsys):
    guide = tmp_path / "guide.png"
    rng = np.random.default_rng(4)
    Image.fromarray(rng.integers(0, 256, (90, 110, 3), dtype=np.uint8)).save(guide)
    _dream(photo, open_nsfw_keras, tmp_path / "g.png", capsys, "--guide", guide)
    err = _dream(
        photo, open_nsfw_keras, tmp_path / "c.png", capsys, "--guide-channels", guide, "--top", 4
    )
    line = next(x for x in err.splitlines() if x.startswith("guide channels of"))
    assert len(line.split(":")[1].split()) == 4


def test_zoom(photo, open_nsfw_keras, tmp_path, capsys):
    frames, gif = tmp_path / "frames", tmp_path / "z.gif"
    argv = ["zoom", photo, "-o", frames, "--model", open_nsfw_keras, *FAST, "--frames", "2"]
    code, _, err = run_cli([*argv, "--gif", gif], capsys)
    assert code == 0, err
    assert sorted(p.name for p in frames.glob("frame_*.png")) == [
        "frame_0000.png",
        "frame_0001.png",
    ]
    assert gif.is_file()


def test_atlas_channels_and_page(photo, open_nsfw_keras, tmp_path, capsys):
    atlas = tmp_path / "atlas"
    argv = ["atlas", "--model", open_nsfw_keras, "--layer", STAGE1, "-o", atlas]
    argv += [
        "--channels",
        "0-2",
        "--render",
        "notebook",
        "--size",
        "48",
        "--octaves",
        "2",
        "--steps",
        "2",
        "--quiet",
    ]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    assert len(list(atlas.rglob("*.png"))) >= 4  # three channels and a sheet
    code, out, err = run_cli(
        ["channels", photo, "--model", open_nsfw_keras, "--layer", STAGE1, "--top", "3"], capsys
    )
    assert code == 0, err
    assert len([line for line in out.splitlines() if line.strip()]) >= 3
    code, _, err = run_cli(["page", atlas], capsys)
    assert code == 0, err
    assert list(atlas.rglob("*.html"))


def test_layers_blobs_and_export(photo, open_nsfw_files, open_nsfw_keras, tmp_path, capsys):
    code, out, err = run_cli(["layers", open_nsfw_keras, "--size", "120x160"], capsys)
    assert code == 0, err
    table = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert table["conv_1"][1:] == ["CaffeConvolution", "64", "60x80"]
    assert table["bn_1"][1] == "CaffeBatchNorm" and table["scale_1"][1] == "CaffeScale"
    assert table[STAGE1][1:] == ["CaffeEltwise", "256", "15x20"]
    npz = tmp_path / "b.npz"
    code, _, err = run_cli(["blobs", open_nsfw_keras, photo, "-o", npz, "--blob", STAGE1], capsys)
    assert code == 0, err
    assert np.load(npz)[STAGE1].shape == (1, 256, 15, 20)
    onnx_file = tmp_path / "n.onnx"
    model, prototxt = open_nsfw_files
    argv = ["export", model, "--prototxt", prototxt, "-o", onnx_file, "--outputs", STAGE1]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    assert onnx_file.is_file()


def test_model_by_name(by_name, photo, tmp_path, capsys):
    code, out, err = run_cli(["layers", "open_nsfw"], capsys)
    assert code == 0, err
    assert STAGE1 in out
    assert (by_name / "open_nsfw.keras").is_file()  # converted once, cached
    _dream(photo, "open_nsfw", tmp_path / "out.png", capsys)
    code, _, err = run_cli(["export", "open_nsfw", "-o", tmp_path / "n.onnx"], capsys)
    assert code == 0, err


def test_receptive_fields_run_through_the_residual_branches(open_nsfw_net):
    """Strides 4, 8, 16 at pool1 and stages 1 and 2; fields grow through the blocks."""
    fields = {b: receptive_field(open_nsfw_net, b) for b in ("pool1", STAGE1, STAGE2)}
    assert [f.jump for f in fields.values()] == [(4, 4), (8, 8), (16, 16)]
    rf = {b: f.rf[0] for b, f in fields.items()}
    assert rf["pool1"] == 7 + (3 - 1) * 2  # conv 7x7/2, then 3x3 pooling at stride 2
    assert rf[STAGE1] > rf["pool1"] and rf[STAGE2] > rf[STAGE1]


OBJECTIVES = {
    "L2": L2(STAGE1),
    "channels": Channels(STAGE1, (1, 5, 100)),
    "neuron": Neuron(STAGE1, 7),
    "several layers": WeightedSum(((L2("eltwise_stage0_block2"), 1.0), (L2(STAGE2), 0.5))),
}


@pytest.mark.parametrize("name", OBJECTIVES)
def test_tiled_gradient_is_exact(open_nsfw_net, name):
    check_tiled_gradient(
        open_nsfw_net, OBJECTIVES[name], noise((150, 200)), policy=TilePolicy(tile=(64, 64))
    )


def test_tiled_gradient_is_exact_for_the_guided_objective(open_nsfw_net):
    objective = Guided(STAGE1)
    guide = dreamer_for(open_nsfw_net, objective).guide_features(noise((90, 120), seed=1))
    check_tiled_gradient(open_nsfw_net, objective, noise((150, 200)), guide)
