"""Issue 23: the nine severe failures a hostile newcomer found, and the CLI's grammar (one
spelling for the model, channel lists and memory sizes). Each test here fails on the code
before the fix: a traceback, a wrong output with exit code 0, or the memory budget ignored."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conversion import caffe_schema_pb2 as pb
from conversion.download import sha1_of
from conversion.errors import DeepDreamError
from conversion.locks import directory_lock
from reference.report import latest_benchmark
from tests.atlas_helpers import BLOB, FAST_RENDER, run_cli, write_images
from tf_impl.cli import build_parser, main
from tf_impl.models.labels import SYNTHETIC_LABEL, weights_label
from tf_impl.models.loading import load_net

FAST = ["--octaves", "1", "--steps", "1", "--quiet", "--seed", "0"]
LAYER = "inception_3b/output"


def _image(path: Path, height: int, width: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path


def _error(argv, capsys) -> str:
    """The one ``deepdream: error:`` line of a refused command (``note:`` lines aside)."""
    code, _, err = run_cli(argv, capsys)
    lines = [line for line in err.splitlines() if not line.startswith("note:")]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("deepdream: error:"), err
    return lines[0]


@pytest.fixture()
def no_model_load(monkeypatch):
    """Loading a model fails the test: the refusal must come before any TensorFlow work."""

    def forbidden(*args, **kwargs):
        raise AssertionError("the model was loaded before the error was found")

    monkeypatch.setattr("tf_impl.models.loading.load_net", forbidden)


# --- 1. Every image that goes through the network is held to the memory budget -----------


@pytest.mark.parametrize("option", ["--guide", "--guide-channels"])
def test_1_guide_larger_than_the_budget_is_scaled_with_a_note(
    option, keras_model_file, tmp_path, capsys
):
    image = _image(tmp_path / "in.png", 90, 120)
    guide = _image(tmp_path / "guide.png", 900, 1200, seed=1)
    out = tmp_path / "o.png"
    argv = ["dream", image, "-o", out, "--model", keras_model_file, "--layer", LAYER]
    code, _, err = run_cli([*argv, option, guide, "--max-memory", "60M", *FAST], capsys)
    assert code == 0, err
    note = next(line for line in err.splitlines() if "was scaled to" in line)
    assert "(900x1200)" in note and "60M" not in note and "0.06 GB" in note
    assert out.is_file()


def test_1_blobs_over_the_budget_are_refused_before_the_pass(keras_model_file, tmp_path, capsys):
    image = _image(tmp_path / "in.png", 400, 600)
    out = tmp_path / "b.npz"
    argv = ["blobs", image, "--model", keras_model_file, "--blob", LAYER, "-o", out]
    line = _error([*argv, "--max-memory", "20M"], capsys)
    assert "budget is 0.02 GB (--max-memory)" in line and "400x600" in line
    assert not out.exists()


def test_1_channels_image_over_the_budget_is_scaled(keras_model_file, tmp_path, capsys):
    image = _image(tmp_path / "in.png", 800, 900)
    argv = ["channels", image, "--model", keras_model_file, "--layer", LAYER, "--top", "3"]
    code, out, err = run_cli([*argv, "--max-memory", "40M"], capsys)
    assert code == 0, err
    assert "was scaled to" in err and "(800x900)" in err
    assert out.count("\n") >= 4  # heading, column names, three ranked channels


# --- 2. atlas --size 3000: estimated first, a batch holds only the channels asked for -------


def test_2_large_atlas_is_estimated_before_rendering(keras_model_file, tmp_path, capsys):
    out = tmp_path / "atlas"
    argv = ["atlas", "--model", keras_model_file, "--layer", BLOB, "-o", out, "--quiet"]
    line = _error(
        [
            *argv,
            "--render",
            "notebook",
            "--size",
            "3000",
            "--channels",
            "0-1",
            "--max-memory",
            "4G",
        ],
        capsys,
    )
    # the default batch is 8, but only 2 channels were asked for
    assert "rendering 2 channel(s)" in line and "5880x5880" in line and "--batch" in line
    assert not out.exists()


# --- 3. --max-memory inf / 1e999 --------------------------------------------------------


@pytest.mark.parametrize("size", ["inf", "1e999", "nan", "0"])
@pytest.mark.parametrize("command", ["dream", "zoom", "atlas", "blobs", "channels"])
def test_3_memory_size_must_be_finite_and_positive(command, size, tmp_path, capsys):
    argv = {
        "dream": ["dream", "in.png", "-o", tmp_path / "o.png"],
        "zoom": ["zoom", "in.png", "-o", tmp_path / "f", "--frames", "1"],
        "atlas": ["atlas", "--layer", BLOB, "-o", tmp_path / "a"],
        "blobs": ["blobs", "in.png", "--blob", BLOB, "-o", tmp_path / "b.npz"],
        "channels": ["channels", "in.png", "--layer", BLOB],
    }[command]
    line = _error([*argv, "--max-memory", size], capsys)
    assert "--max-memory" in line and (f"'{size}'" in line)


# --- 4. A dangling or self-looping link as an output directory ---------------------------


@pytest.mark.parametrize("kind", ["dangling", "loop"])
@pytest.mark.parametrize("command", ["atlas", "zoom"])
def test_4_broken_link_as_output_directory_is_refused(
    command, kind, keras_model_file, tmp_path, capsys, no_model_load
):
    link = tmp_path / "out"
    os.symlink(tmp_path / "missing" if kind == "dangling" else link, link)
    image = _image(tmp_path / "in.png", 90, 120)
    argv = {
        "atlas": ["atlas", "--model", keras_model_file, "--layer", BLOB, "-o", link],
        "zoom": ["zoom", image, "-o", link, "--frames", "1", "--model", keras_model_file],
    }[command]
    line = _error(argv, capsys)
    assert "symbolic link" in line and "does not resolve" in line
    assert link.is_symlink() and not link.exists()


# --- 5, 6. An atlas is of one network, recorded by path and SHA-1 ---------------------------


@pytest.fixture()
def two_networks(keras_model_file, synthetic_model_file, tmp_path):
    """Two different model files of the same name, a/x.keras and b/x.keras."""
    first, second = tmp_path / "a" / "x.keras", tmp_path / "b" / "x.keras"
    first.parent.mkdir()
    second.parent.mkdir()
    shutil.copyfile(keras_model_file, first)
    shutil.copyfile(synthetic_model_file, second)
    return first, second


@pytest.fixture()
def atlas_of_a(two_networks, tmp_path, capsys):
    first, _ = two_networks
    out = tmp_path / "atlas"
    argv = ["atlas", "--model", first, "--layer", BLOB, "-o", out, *FAST_RENDER]
    code, _, err = run_cli([*argv, "--channels", "0-1"], capsys)
    assert code == 0, err
    return out


def test_5_atlas_records_the_model_file_and_its_checksum(atlas_of_a, two_networks):

    network = json.loads((atlas_of_a / "atlas.json").read_text())["network"]
    assert network == {"file": str(two_networks[0].absolute()), "sha1": sha1_of(two_networks[0])}


def test_5_page_refuses_another_model_than_the_atlas_was_made_with(
    atlas_of_a, two_networks, tmp_path, capsys, no_model_load
):
    images = write_images(tmp_path / "photos")
    argv = ["page", atlas_of_a, "--images", images, "--model", two_networks[1]]
    line = _error(argv, capsys)
    assert "is an atlas of" in line and str(two_networks[0].absolute()) in line


def test_5_page_finds_the_recorded_model_from_anywhere(atlas_of_a, tmp_path, capsys, monkeypatch):
    images = write_images(tmp_path / "photos")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copyfile(atlas_of_a.parent / "b" / "x.keras", elsewhere / "x.keras")  # a decoy
    monkeypatch.chdir(elsewhere)
    code, out, err = run_cli(["page", atlas_of_a, "--images", images], capsys)
    assert code == 0, err
    assert "wrote the site" in out


def test_6_atlas_refuses_to_mix_two_networks(atlas_of_a, two_networks, capsys, no_model_load):
    before = (atlas_of_a / "atlas.json").read_bytes()
    argv = ["atlas", "--model", two_networks[1], "--layer", BLOB, "-o", atlas_of_a, *FAST_RENDER]
    line = _error(argv, capsys)
    assert "another network" in line or "is an atlas of" in line
    assert (atlas_of_a / "atlas.json").read_bytes() == before


def test_6_channels_atlas_of_another_network_is_refused(
    atlas_of_a, two_networks, tmp_path, capsys, no_model_load
):
    image = _image(tmp_path / "in.png", 120, 120)
    argv = ["channels", image, "--model", two_networks[1], "--layer", BLOB, "--atlas", atlas_of_a]
    assert "is an atlas of" in _error([*argv, "-o", tmp_path / "t.png"], capsys)


# --- 7. Two atlas runs into one directory at once -------------------------------------------


def test_7_atlas_refuses_a_directory_another_run_is_writing(keras_model_file, tmp_path, capsys):
    out = tmp_path / "atlas"
    out.mkdir()
    argv = ["atlas", "--model", keras_model_file, "--layer", BLOB, "-o", out, *FAST_RENDER]
    with directory_lock(out):  # as another deepdream process holds it
        line = _error([*argv, "--channels", "0"], capsys)
    assert "another deepdream process is writing there" in line
    assert not (out / "atlas.json").exists()


# --- 8. make report's newest benchmark ------------------------------------------------------


def test_8_latest_benchmark_counts_runs_with_mixed_precision_rows(tmp_path):
    old = {"mode": "full", "date": "2026-11-24", "mixed": None}
    new = {"mode": "full", "date": "2026-12-01", "mixed": {"dtype": "bfloat16", "runs": {}}}
    smoke = {"mode": "smoke", "date": "2026-12-02"}
    for name, results in (("old", old), ("new", new), ("smoke", smoke)):
        (tmp_path / f"{name}.json").write_text(json.dumps(results))
    assert latest_benchmark(tmp_path) == tmp_path / "new.json"


# --- 9. Channel lists -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "channels, message",
    [("5-2", "'5-2' runs backwards; write 2-5"), ("3-", "'3-' needs both ends"), ("x", "0-15")],
)
@pytest.mark.parametrize("command", ["atlas", "dream"])
def test_9_backwards_and_open_channel_ranges_are_refused(command, channels, message, capsys):
    argv = {
        "atlas": ["atlas", "--layer", BLOB, "-o", "atlas"],
        "dream": ["dream", "in.png", "-o", "o.png"],
    }[command]
    assert message in _error([*argv, "--channels", channels], capsys)


# --- One grammar across commands, the old spellings kept ------------------------------------


def test_channel_lists_have_one_grammar_and_the_old_one_still_parses(capsys):
    parser = build_parser()
    new = parser.parse_args(["dream", "in.png", "-o", "o.png", "--channels", "12,97,3-4"])
    assert new.channels == [3, 4, 12, 97] and capsys.readouterr().err == ""
    old = parser.parse_args(["dream", "in.png", "-o", "o.png", "--channels", "12", "97"])
    assert old.channels == [12, 97]
    assert capsys.readouterr().err.strip().splitlines() == [
        "note: '--channels 12 97' is deprecated and will go; write '--channels 12,97'"
    ]


def test_the_model_positional_still_works_with_a_deprecation_line(keras_model_file, capsys):
    code, out, err = run_cli(["layers", keras_model_file], capsys)
    assert code == 0 and "inception_4c/output" in out
    assert err.splitlines() == [
        f"note: 'deepdream layers {keras_model_file}' is deprecated and will go; write "
        f"'deepdream layers --model {keras_model_file}'"
    ]
    line = _error(["layers", keras_model_file, "--model", keras_model_file], capsys)
    assert "given twice" in line


@pytest.mark.parametrize(
    "argv",
    [
        ["atlas", "--model", "nope.keras", "--layer", BLOB, "-o", "a", "--size", "4"],
        ["atlas", "--model", "nope.keras", "--layer", BLOB, "-o", "in.png"],
        ["channels", "in.png", "--model", "nope.keras", "--layer", BLOB, "--top", "0"],
        ["channels", "in.png", "--model", "nope.keras", "--layer", BLOB, "--atlas", "."],
        ["page", "no_atlas_here"],
        ["dream", "in.png", "-o", "o.png", "--model", "nope.keras", "--weights", "1", "2"],
    ],
)
def test_atlas_channels_page_check_before_tensorflow(argv, tmp_path, capsys, monkeypatch):
    """Plain argument errors come before any model (and so TensorFlow) work."""
    monkeypatch.chdir(tmp_path)
    _image(tmp_path / "in.png", 60, 60)
    (tmp_path / "nope.keras").write_bytes(b"")
    monkeypatch.setattr("tf_impl.models.loading.load_net", pytest.fail)
    _error(argv, capsys)


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("deepdream ")


def test_progress_is_one_line_per_step_when_stderr_is_not_a_terminal(
    keras_model_file, tmp_path, capsys
):
    image = _image(tmp_path / "in.png", 90, 120)
    argv = ["dream", image, "-o", tmp_path / "o.png", "--model", keras_model_file]
    code, _, err = run_cli([*argv, "--octaves", "2", "--steps", "2", "--layer", LAYER], capsys)
    assert code == 0, err
    steps = [line for line in err.splitlines() if line.startswith("dreaming:")]
    assert steps == [f"dreaming: {n}/4 step (octave {(n + 1) // 2}/2)" for n in (1, 2, 3, 4)]
    assert "\r" not in err
    assert err.splitlines()[-1] == f"wrote {tmp_path / 'o.png'} (90x120)"  # HxW, as --tile


def test_top_without_guide_channels_is_noted(keras_model_file, tmp_path, capsys):
    image = _image(tmp_path / "in.png", 90, 120)
    argv = ["dream", image, "-o", tmp_path / "o.png", "--model", keras_model_file, *FAST]
    code, _, err = run_cli([*argv, "--layer", LAYER, "--top", "3"], capsys)
    assert code == 0 and "note: --top has no effect without --guide-channels" in err


@pytest.mark.parametrize("suffix", [".keras", ".caffemodel"])
def test_synthetic_label_is_read_from_the_file(suffix, tmp_path, capsys):
    """Not only ``--model synthetic``: a synthetic-model file, and a .keras converted from its
    caffemodel, make labelled pictures."""

    model = tmp_path / f"synthetic{suffix}"
    assert main(["synthetic-model", "-o", str(model)]) == 0
    if suffix == ".caffemodel":
        converted = tmp_path / "converted.keras"
        assert main(["convert", "--model", str(model), "-o", str(converted)]) == 0
        assert weights_label(load_net(model)) == SYNTHETIC_LABEL
        model = converted
    assert weights_label(load_net(model)) == SYNTHETIC_LABEL
    capsys.readouterr()


# --- Friction: messages that name the option and the fix -------------------------------------


def test_zoom_resume_refusal_names_the_option_that_differs(keras_model_file, tmp_path, capsys):
    image = _image(tmp_path / "in.png", 90, 120)
    frames = tmp_path / "frames"
    argv = ["zoom", image, "-o", frames, "--model", keras_model_file, "--layer", LAYER]
    fast = ["--octaves", "1", "--quiet", "--seed", "0"]
    code, _, err = run_cli([*argv, *fast, "--steps", "1", "--frames", "2"], capsys)
    assert code == 0, err
    (frames / "frame_0001.png").unlink()  # as if interrupted after the first frame
    line = _error([*argv, *fast, "--steps", "2", "--frames", "2"], capsys)
    assert "--steps was 1, now 2" in line and "iter_n" not in line


def test_zoom_missing_frame_message_counts_what_is_gone(keras_model_file, tmp_path, capsys):
    image = _image(tmp_path / "in.png", 90, 120)
    frames = tmp_path / "frames"
    argv = ["zoom", image, "-o", frames, "--model", keras_model_file, "--layer", LAYER, *FAST]
    assert run_cli([*argv, "--frames", "3"], capsys)[0] == 0
    (frames / "frame_0001.png").unlink()
    line = _error([*argv, "--frames", "4"], capsys)
    assert "frame_0001.png is missing (1 of the 3 finished frames are gone)" in line


def test_convert_refuses_an_image_as_prototxt_without_dumping_it(
    model_files, tmp_path, capsys, no_model_load
):
    photo = _image(tmp_path / "flowers.jpg", 40, 40)
    argv = [
        "convert",
        "--model",
        model_files["V2"],
        "--prototxt",
        photo,
        "-o",
        tmp_path / "o.keras",
    ]
    line = _error(argv, capsys)
    assert "is not a network description" in line and len(line) < 300


def test_export_of_the_synthetic_name_says_how_to_make_a_file(tmp_path, capsys):
    line = _error(["export", "--model", "synthetic", "-o", tmp_path / "s.onnx"], capsys)
    assert "Keras application" not in line and "deepdream synthetic-model" in line


@pytest.mark.parametrize("version", ["V1", "V2"])
def test_caffemodel_cut_between_two_layers_is_refused(
    version, model_files, tmp_path, capsys, no_model_load
):
    """Cut exactly at a layer boundary, a caffemodel is still valid protobuf: it converted as a
    100-layer network with exit code 0."""

    net = pb.NetParameter()
    net.ParseFromString(model_files[version].read_bytes())
    del (net.layers if version == "V1" else net.layer)[100:]
    cut = tmp_path / "cut.caffemodel"
    cut.write_bytes(net.SerializeToString())
    out = tmp_path / "cut.keras"
    code, _, err = run_cli(["convert", "--model", cut, "-o", out], capsys)
    assert code == 2 and "looks cut short" in err and "inception_4d" in err, err
    assert not out.exists()


def test_lapnorm_deeper_than_the_image_is_noted(tmp_path, capsys, monkeypatch):

    def stop(*args, **kwargs):
        raise DeepDreamError("stopped after the checks")

    monkeypatch.setattr("tf_impl.models.loading.load_net", stop)
    image = _image(tmp_path / "in.png", 240, 320)
    code, _, err = run_cli(["dream", image, "-o", tmp_path / "o.png", "--lapnorm", "20"], capsys)
    assert code == 2 and "note: --lapnorm 20 has more levels than a 87 px octave" in err


def test_forced_tiles_say_how_many(keras_model_file, tmp_path, capsys):
    image = _image(tmp_path / "in.png", 90, 120)
    argv = ["dream", image, "-o", tmp_path / "o.png", "--model", keras_model_file, *FAST]
    code, _, err = run_cli([*argv, "--layer", LAYER, "--tile", "1x1"], capsys)
    assert code == 0, err
    assert re.search(r"note: --tile 1x1: \d+ tiles a step", err)
