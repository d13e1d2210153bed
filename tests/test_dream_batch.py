"""The batch form of ``dream`` in one process: several images or a folder in, a folder out;
each dream is the single-image command's, a rerun resumes, other settings are refused naming
the option, and what cannot work is refused before any dream."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tf_impl.cli import main
from tf_impl.images.sample import sample_image_path

QUICK = ["--octaves", "1", "--steps", "1", "--quiet"]


@pytest.fixture
def photos(tmp_path):
    """Two small photos (crops of the sample photo) in a folder."""
    folder = tmp_path / "photos"
    folder.mkdir()
    with Image.open(sample_image_path()) as image:
        rgb = np.asarray(image.convert("RGB"))
    Image.fromarray(rgb[100:140, 100:148]).save(folder / "a.png")
    Image.fromarray(rgb[300:344, 200:240]).save(folder / "b.jpg")
    return folder


def _dream(argv, capsys) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_a_batch_is_the_single_dreams_and_resumes(photos, synthetic_model_file, tmp_path, capsys):
    model = ["--model", synthetic_model_file]
    out = tmp_path / "dreams"
    code, err = _dream(["dream", photos, "-o", out, *model, *QUICK], capsys)
    assert code == 0 and "wrote 2 dreams" in err, err
    for name in ("a.png", "b.jpg"):
        single = tmp_path / f"single-{name}.png"
        assert (
            _dream(["dream", photos / name, "-o", single, *model, *QUICK, "--seed", "0"], capsys)[0]
            == 0
        )
        assert (out / f"{name.split('.')[0]}.png").read_bytes() == single.read_bytes()
    before = (out / "b.png").read_bytes()
    (out / "a.png").unlink()
    code, err = _dream(
        ["dream", photos / "a.png", photos / "b.jpg", "-o", out, *model, *QUICK], capsys
    )
    assert code == 0 and "wrote 1 dreams" in err and "(1 already there)" in err, err
    assert (out / "b.png").read_bytes() == before


def test_other_settings_are_refused_naming_the_option(
    photos, synthetic_model_file, tmp_path, capsys
):
    model = ["--model", synthetic_model_file]
    out = tmp_path / "dreams"
    assert _dream(["dream", photos, "-o", out, *model, *QUICK], capsys)[0] == 0
    code, err = _dream(["dream", photos, "-o", out, *model, *QUICK, "--steps", "2"], capsys)
    assert code == 2
    assert err.strip() == (
        f"deepdream: error: {out} holds dreams made with other settings (--steps was 1, now 2); "
        "use another directory, or delete it to start over"
    )


@pytest.mark.parametrize(
    ("layout", "words"),
    [
        ("same stem", "would both be dreamed into"),
        ("output file", "is dreamed into a folder"),
        ("empty folder", "is a directory with no image file"),
    ],
)
def test_what_cannot_work_is_refused_first(
    layout, words, photos, synthetic_model_file, tmp_path, capsys
):
    inputs, out = [photos], tmp_path / "dreams"
    if layout == "same stem":
        other = tmp_path / "other"
        other.mkdir()
        (other / "a.jpg").write_bytes((photos / "b.jpg").read_bytes())
        inputs = [photos, other]
    elif layout == "output file":
        out = tmp_path / "dream.png"
    else:
        inputs = [tmp_path / "empty"]
        inputs[0].mkdir()
    code, err = _dream(["dream", *inputs, "-o", out, "--model", synthetic_model_file], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and words in err, err
    assert not out.exists()
