"""The dream settings: the notebook's values, written once, and one check for CLI and API."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conversion.errors import DeepDreamError
from tf_impl.atlas.render_settings import RenderSettings
from tf_impl.cli import build_parser, main
from tf_impl.dream.deepdream import deepdream
from tf_impl.dream.settings import NOTEBOOK, DreamSettings, ZoomSettings, flag
from tf_impl.dream.tiling import TilePolicy

# (setting, CLI value, API value): each out of its range.
BAD = [
    ("iter_n", "-1", -1),
    ("octave_n", "0", 0),
    ("octave_scale", "1.0", 1.0),
    ("octave_scale", "0.7", 0.7),
    ("octave_scale", "nan", float("nan")),
    ("step_size", "0", 0.0),
    ("step_size", "-1.5", -1.5),
    ("step_size", "inf", float("inf")),
    ("jitter", "-3", -3),
    ("lapnorm", "-1", -1),
]


def test_notebook_values():
    """The original notebook's deepdream() and make_step() defaults."""
    assert (
        DreamSettings(
            iter_n=10,
            octave_n=4,
            octave_scale=1.4,
            step_size=1.5,
            jitter=32,
            clip=True,
            end="inception_4c/output",
        )
        == NOTEBOOK
    )


def test_cli_defaults_are_the_settings():
    args = build_parser().parse_args(["dream", "in.jpg", "-o", "out.png"])
    assert DreamSettings.pick(vars(args)) == NOTEBOOK
    assert not args.layer  # the model's default layer, else NOTEBOOK.end


@pytest.mark.parametrize(("name", "cli_value", "api_value"), BAD)
def test_cli_and_api_refuse_the_same_values(name, cli_value, api_value, net, tmp_path, capsys):
    rgb = np.zeros((40, 40, 3), np.uint8)
    with pytest.raises(DeepDreamError) as api:
        deepdream(net, rgb, NOTEBOOK.replace(**{name: api_value}), seed=0)
    assert flag(name) in str(api.value)

    image = tmp_path / "in.png"
    Image.fromarray(rgb).save(image)
    code = main(["dream", str(image), "-o", str(tmp_path / "o.png"), flag(name), cli_value])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"deepdream: error: {api.value}"]
    assert not (tmp_path / "o.png").exists()


def test_zero_steps_are_accepted_alike(net, tmp_path, capsys):
    """0 steps per octave: the image back (the API always allowed it; now the CLI too)."""
    rgb = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    np.testing.assert_array_equal(deepdream(net, rgb, DreamSettings(iter_n=0), seed=0), rgb)
    image = tmp_path / "in.png"
    Image.fromarray(rgb).save(image)
    out = tmp_path / "o.png"
    model = ["--model", str(tmp_path / "net.keras")]
    net.save(tmp_path / "net.keras")
    assert main(["dream", str(image), "-o", str(out), "--steps", "0", "--quiet", *model]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(out)), rgb)


@pytest.mark.parametrize(("frames", "s"), [(0, 0.05), (3, 0.0), (3, 0.5), (3, float("nan"))])
def test_zoom_options_are_checked(frames, s):
    with pytest.raises(DeepDreamError):
        ZoomSettings(frames, s)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("size", 0),
        ("octaves", 0),
        ("octave_scale", 0.5),
        ("steps", -1),
        ("step_size", 0.0),
        ("lapnorm", 1.5),
        ("noise", float("nan")),
        ("seed", -1),
        ("batch", 0),
        ("contrast", float("inf")),
    ],
)
def test_render_settings_check_themselves(name, value):
    with pytest.raises(DeepDreamError, match=f"^--{name.replace('_', '-')} must be"):
        RenderSettings(**{name: value})
    RenderSettings()  # the defaults pass


@pytest.mark.parametrize(
    "policy", [{"max_memory": 0}, {"max_memory": 1.5e9}, {"tile": (0, 64)}, {"tile": (64,)}]
)
def test_tile_policies_check_themselves(policy):
    with pytest.raises(DeepDreamError, match=r"^--(max-memory|tile) must be"):
        TilePolicy(**policy)
