"""``deepdream atlas``: channel pictures, resume, determinism, labels, and bad input."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conversion.errors import DeepDreamError
from tests.atlas_helpers import BLOB, FAST_RENDER, run_cli, tree_bytes, write_images
from tf_impl.atlas.atlas_dir import AtlasDir, plan_atlas, render_atlas
from tf_impl.atlas.render import ChannelRenderer
from tf_impl.atlas.render_settings import RenderSettings
from tf_impl.cli import main
from tf_impl.models.labels import SYNTHETIC_LABEL, weights_label
from tf_impl.models.loading import load_net
from tf_impl.net.network import main_blobs

SMALL = RenderSettings(size=40, octaves=2, steps=2, batch=3)


def _atlas(argv_model, out, capsys, *extra):
    argv = ["atlas", "--model", argv_model, "--layer", BLOB, "-o", out, *FAST_RENDER, *extra]
    return run_cli(argv, capsys)


@pytest.fixture(scope="module")
def full_atlas(synthetic_model_file, tmp_path_factory):
    """An uninterrupted atlas of channels 0-7 of BLOB (CLI), and its files."""

    out = tmp_path_factory.mktemp("full") / "atlas"
    argv = ["atlas", "--model", synthetic_model_file, "--layer", BLOB, "-o", out]
    assert main([str(a) for a in [*argv, *FAST_RENDER, "--channels", "0-7"]]) == 0
    return out


def test_one_picture_per_channel_and_a_sheet(full_atlas):
    atlas = AtlasDir(full_atlas)
    side = SMALL.sizes()[-1]
    for channel in range(8):
        with Image.open(atlas.channel_png(BLOB, channel)) as image:
            assert image.size == (side, side)
    assert not atlas.channel_png(BLOB, 8).exists()
    pictures = [np.asarray(Image.open(atlas.channel_png(BLOB, c))) for c in range(8)]
    assert len({p.tobytes() for p in pictures}) == 8  # each channel its own picture
    assert atlas.sheet(BLOB).is_file()
    index = json.loads((full_atlas / "atlas.json").read_text())
    assert index["settings"] == SMALL.as_dict()
    assert index["weights_label"] == SYNTHETIC_LABEL


def _red_text_pixels(sheet: Path) -> int:
    """Pixels of the sheet's header in the warning colour (the synthetic-weights label)."""
    header = np.asarray(Image.open(sheet))[:60].astype(int)
    return int(np.sum((header[..., 0] > 150) & (header[..., 1] < 60) & (header[..., 2] < 60)))


def test_sheet_of_synthetic_weights_carries_the_label(
    full_atlas, keras_model_file, tmp_path, capsys
):
    assert _red_text_pixels(AtlasDir(full_atlas).sheet(BLOB)) > 50
    plain = tmp_path / "plain"  # a model whose metadata does not say synthetic: no label
    code, _, err = _atlas(keras_model_file, plain, capsys, "--channels", "0-2")
    assert code == 0, err
    assert _red_text_pixels(AtlasDir(plain).sheet(BLOB)) == 0


def test_interrupted_and_damaged_atlas_resumes_to_identical_bytes(
    full_atlas, synthetic_model_file, tmp_path, capsys
):

    out = tmp_path / "atlas"
    net = load_net(synthetic_model_file)
    plan = plan_atlas(net, out, [BLOB], SMALL, range(8))
    groups_done = []

    def interrupt(count):
        groups_done.append(count)
        if len(groups_done) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_atlas(net, SMALL, out, plan, on_channels=interrupt)
    atlas = AtlasDir(out)
    assert sorted(p.name for p in atlas.blob_dir(BLOB).glob("*.png")) == [
        f"channel_{c:04d}.png" for c in range(6)
    ]
    kept = atlas.channel_png(BLOB, 0)
    kept_stat = kept.stat()
    damaged = atlas.channel_png(BLOB, 4)  # a half-written file (as after a crash or copy)
    damaged.write_bytes(damaged.read_bytes()[: len(damaged.read_bytes()) // 2])
    code, _, err = _atlas(synthetic_model_file, out, capsys, "--channels", "0-7")
    assert code == 0, err
    assert tree_bytes(out) == tree_bytes(full_atlas)
    assert kept.stat().st_mtime_ns == kept_stat.st_mtime_ns  # a finished channel was skipped


def test_batch_element_is_independent_of_its_batch(net):
    renderer = ChannelRenderer(net, SMALL, BLOB)
    together = renderer.render([3, 4, 5])
    alone = renderer.render([4])
    np.testing.assert_array_equal(together[1], alone[0])


def test_settings_changes_are_refused_on_an_existing_atlas(full_atlas, synthetic_model_file):

    net = load_net(synthetic_model_file)
    with pytest.raises(DeepDreamError, match="other renderer settings"):
        plan_atlas(net, full_atlas, [BLOB], replace(SMALL, seed=1))


def _assert_refused(code, err, out: Path, *words):
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("deepdream: error:")
    for word in words:
        assert word in err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--layer", "inception_3a/nope"], ["unknown blob", "inception_3a/"]),
        (["--channels", "0-16"], ["channel 16 is out of range", "0-15"]),
        (["--batch", "0"], ["--batch"]),
    ],
    ids=["unknown-layer", "channel-out-of-range", "bad-setting"],
)
def test_bad_atlas_arguments(extra, words, synthetic_model_file, tmp_path, capsys):
    out = tmp_path / "atlas"
    code, _, err = _atlas(synthetic_model_file, out, capsys, *extra)
    _assert_refused(code, err, out, *words)


def test_empty_images_folder_is_refused(synthetic_model_file, tmp_path, capsys):
    out, images = tmp_path / "atlas", tmp_path / "empty"
    images.mkdir()
    code, _, err = _atlas(synthetic_model_file, out, capsys, "--html", "--images", images)
    _assert_refused(code, err, out, "empty")


def test_folder_without_a_readable_image_is_refused(synthetic_model_file, tmp_path, capsys):
    out, images = tmp_path / "atlas", tmp_path / "junk"
    images.mkdir()
    (images / "notes.jpg").write_text("not an image")
    code, _, err = _atlas(synthetic_model_file, out, capsys, "--html", "--images", images)
    assert code == 2
    assert "warning: skipped" in err and "notes.jpg" in err
    assert err.splitlines()[-1].startswith("deepdream: error:")
    assert not out.exists()


def test_unreadable_image_is_skipped_with_a_warning(synthetic_model_file, tmp_path, capsys):
    out = tmp_path / "atlas"
    images = write_images(tmp_path / "photos", count=1)
    (images / "broken.png").write_bytes(b"\x89PNG broken")
    extra = ("--channels", "0-2", "--html", "--images", images)
    code, _, err = _atlas(synthetic_model_file, out, capsys, *extra)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "broken.png" in warnings[0]
    page = (AtlasDir(out).blob_dir(BLOB) / "channel_0001.html").read_text()
    assert "photo_0.png" in page and "broken.png" not in page


def test_unwritable_output_directory_is_refused(synthetic_model_file, tmp_path, capsys):
    if os.geteuid() == 0:  # root writes anywhere chmod allows nothing; sysfs refuses even root
        parent = Path("/sys/kernel")
        if not parent.is_dir():
            pytest.skip("no unwritable directory available to root here")
    else:
        parent = tmp_path / "locked"
        parent.mkdir()
        parent.chmod(0o555)
    out = parent / "atlas"
    code, _, err = _atlas(synthetic_model_file, out, capsys)
    _assert_refused(code, err, out, "cannot write in")


def test_synthetic_model_name_loads_labelled_weights(net):

    synthetic = load_net("synthetic")
    assert weights_label(synthetic) == SYNTHETIC_LABEL
    assert weights_label(net) is None  # a converted file says nothing about its weights
    # the same seeded weights as the test fixtures' synthetic caffemodel
    for mine, theirs in zip(synthetic.keras_model.weights, net.keras_model.weights, strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_layer_all_is_every_module_output_and_the_stem(net):
    """``--layer all``: GoogLeNet's twelve main blobs, 5,808 channels (docs/cluster.md)."""
    blobs = main_blobs(net)
    stem = ["conv1/7x7_s2", "conv2/3x3_reduce", "conv2/3x3"]
    modules = ["3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]
    assert blobs == [*stem, *(f"inception_{m}/output" for m in modules)]
    assert sum(net.channels(b) for b in blobs) == 5808
