"""``deepdream dream`` and ``deepdream zoom`` end to end on the synthetic GoogLeNet, and the
bad inputs the issue lists: each one clear line, a non-zero exit, no output file."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tf_impl.cli import main
from tf_impl.images.files import load_rgb

FAST = ["--octaves", "2", "--steps", "2", "--quiet", "--seed", "0"]


@pytest.fixture()
def image(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "in.png"
    Image.fromarray(rng.integers(0, 256, (90, 130, 3), dtype=np.uint8)).save(path)
    return path


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err.strip()


def test_dream_writes_same_size_output_and_leaves_input_alone(
    image, keras_model_file, tmp_path, capsys
):
    before = image.read_bytes()
    out = tmp_path / "out.png"
    code, err = _run(["dream", image, "-o", out, "--model", keras_model_file, *FAST], capsys)
    assert code == 0, err
    assert Image.open(out).size == Image.open(image).size
    assert image.read_bytes() == before
    assert not np.array_equal(load_rgb(out), load_rgb(image))  # it dreamed something


def test_dream_is_reproducible_with_a_seed(image, keras_model_file, tmp_path, capsys):
    outs = [tmp_path / "a.png", tmp_path / "b.png"]
    for out in outs:
        assert _run(["dream", image, "-o", out, "--model", keras_model_file, *FAST], capsys)[0] == 0
    np.testing.assert_array_equal(load_rgb(outs[0]), load_rgb(outs[1]))


@pytest.mark.parametrize(
    "extra",
    [
        ["--layer", "inception_3b/5x5_reduce"],
        ["--layer", "inception_4c/output", "--channels", "3", "7"],
        ["--layer", "inception_4b/output", "inception_4c/output", "--weights", "1", "0.5"],
        ["--layer", "inception_4c/output", "--neuron", "6"],
        ["--class", "3", "--octaves", "1"],
        ["--no-clip"],
        ["--lapnorm", "4"],
    ],
    ids=["pre-relu", "channels", "weighted", "neuron", "class", "no-clip", "lapnorm"],
)
def test_dream_objectives(extra, keras_model_file, tmp_path, capsys):
    rng = np.random.default_rng(1)
    path = tmp_path / "big.png"
    Image.fromarray(rng.integers(0, 256, (230, 240, 3), dtype=np.uint8)).save(path)
    out = tmp_path / "out.png"
    argv = ["dream", path, "-o", out, "--model", keras_model_file, *FAST, *extra]
    code, err = _run(argv, capsys)
    assert code == 0, err
    assert out.is_file()


def test_guided_dream(image, keras_model_file, tmp_path, capsys):
    guide = tmp_path / "guide.jpg"
    Image.fromarray(np.full((70, 60, 3), 200, np.uint8)).save(guide)
    out = tmp_path / "out.png"
    argv = ["dream", image, "-o", out, "--model", keras_model_file, "--guide", guide]
    code, err = _run([*argv, "--layer", "inception_3b/output", *FAST], capsys)
    assert code == 0, err


def test_zoom_writes_frames_resumes_and_animates(image, keras_model_file, tmp_path, capsys):
    frames = tmp_path / "frames"
    base = ["zoom", image, "-o", frames, "--model", keras_model_file, *FAST]
    assert _run([*base, "--frames", "2"], capsys)[0] == 0
    first = [(frames / f"frame_{i:04d}.png").read_bytes() for i in range(2)]
    # "Interrupted" after 2 frames: asking for 3 only dreams the third.
    gif, mp4 = tmp_path / "z.gif", tmp_path / "z.mp4"
    code, err = _run([*base, "--frames", "3", "--gif", gif, "--mp4", mp4], capsys)
    assert code == 0, err
    assert [(frames / f"frame_{i:04d}.png").read_bytes() for i in range(2)] == first
    # The resumed run equals an uninterrupted one.
    straight = tmp_path / "straight"
    assert (
        _run(
            ["zoom", image, "-o", straight, "--model", keras_model_file, *FAST, "--frames", "3"],
            capsys,
        )[0]
        == 0
    )
    np.testing.assert_array_equal(
        load_rgb(frames / "frame_0002.png"), load_rgb(straight / "frame_0002.png")
    )
    import imageio.v3 as iio

    assert iio.imread(gif).shape[0] == 3
    assert iio.imread(mp4).shape[0] == 3


def _error(argv, capsys):
    code, err = _run(argv, capsys)
    assert code != 0
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("deepdream: error:"), err
    return lines[0]


def test_missing_input(keras_model_file, tmp_path, capsys):
    line = _error(
        ["dream", tmp_path / "nope.jpg", "-o", tmp_path / "o.png", "--model", keras_model_file],
        capsys,
    )
    assert "no such file" in line


def test_non_image_input(keras_model_file, tmp_path, capsys):
    bogus = tmp_path / "notes.jpg"
    bogus.write_text("not an image")
    line = _error(["dream", bogus, "-o", tmp_path / "o.png", "--model", keras_model_file], capsys)
    assert "not an image" in line


def test_unreadable_input(keras_model_file, tmp_path, capsys):
    directory = tmp_path / "adir.png"
    directory.mkdir()
    line = _error(
        ["dream", directory, "-o", tmp_path / "o.png", "--model", keras_model_file], capsys
    )
    assert "directory" in line


def test_image_too_small_offers_fewer_octaves(keras_model_file, tmp_path, capsys):
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((30, 36, 3), np.uint8)).save(small)
    out = tmp_path / "o.png"
    line = _error(["dream", small, "-o", out, "--model", keras_model_file], capsys)
    assert "too small for 4 octaves" in line and "--octaves" in line
    suggested = int(line.split("--octaves ")[1].split()[0])
    assert suggested < 4
    code, err = _run(
        [
            "dream",
            small,
            "-o",
            out,
            "--model",
            keras_model_file,
            "--octaves",
            suggested,
            "--steps",
            "1",
            "--quiet",
        ],
        capsys,
    )
    assert code == 0, err


def _dream_error(image, model, out, extra, capsys):
    """The one error line of ``deepdream dream IMAGE -o OUT --model MODEL EXTRA...``."""
    return _error(["dream", image, "-o", out, "--model", model, *extra], capsys)


def test_unknown_layer_lists_close_names(image, keras_model_file, tmp_path, capsys):
    extra = ["--layer", "inception_4c/ouput"]
    line = _dream_error(image, keras_model_file, tmp_path / "o.png", extra, capsys)
    assert "did you mean 'inception_4c/output'" in line


def test_channel_out_of_range(image, keras_model_file, tmp_path, capsys):
    extra = ["--channels", "512"]
    line = _dream_error(image, keras_model_file, tmp_path / "o.png", extra, capsys)
    assert "channel 512 is out of range" in line and "0-511" in line


def test_output_directory_missing(image, keras_model_file, tmp_path, capsys):
    line = _error(
        ["dream", image, "-o", tmp_path / "no" / "o.png", "--model", keras_model_file], capsys
    )
    assert "does not exist" in line


def test_output_equal_to_input_is_refused(image, keras_model_file, capsys):
    before = image.read_bytes()
    line = _error(["dream", image, "-o", image, "--model", keras_model_file], capsys)
    assert "is the input file" in line
    assert image.read_bytes() == before


def test_unknown_model_name(image, tmp_path, capsys):
    line = _error(["dream", image, "-o", tmp_path / "o.png", "--model", "bvlc_googlenett"], capsys)
    assert "known names" in line


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16"])
def test_any_pillow_image_mode_is_converted_to_rgb_once(mode, tmp_path, capsys):
    path = tmp_path / f"img_{mode.replace(';', '')}.png"
    rng = np.random.default_rng(2)
    if mode == "I;16":
        Image.fromarray(rng.integers(0, 65535, (20, 30), dtype=np.uint16)).save(path)
    else:
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).convert(mode).save(path)
    rgb = load_rgb(path)
    assert rgb.shape == (20, 30, 3) and rgb.dtype == np.uint8
    assert capsys.readouterr().err.count("converted to 8-bit RGB") == 1


def test_exif_orientation_is_honoured(tmp_path):
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[:, :5] = 255  # a white band on the left
    image = Image.fromarray(rgb)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    shown = load_rgb(path)
    assert shown.shape == (30, 20, 3)
    assert shown[:5].mean() > 200  # the band is now on top
