"""The convert, layers and blobs subcommands, end to end on the synthetic V1 file."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tf_impl.cli import main


def test_convert_then_layers_with_sizes(model_files, tmp_path, capsys):
    out = tmp_path / "g.keras"
    assert main(["convert", "--model", str(model_files["V1"]), "-o", str(out)]) == 0
    assert out.is_file()
    assert main(["layers", "--model", str(out), "--size", "97x173"]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = {
        line.split()[0]: line.split() for line in lines if line and not line.startswith("wrote")
    }
    assert table["inception_4c/output"][2:] == ["512", "6x10"]
    assert table["conv1/7x7_s2"][2:] == ["64", "49x87"]
    assert table["pool5/7x7_s1"][-2:] == ["too", "small"]


def test_blobs_saves_nchw_float32(model_files, keras_model_file, net, tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (61, 83, 3), dtype=np.uint8)
    image = tmp_path / "in.png"
    Image.fromarray(rgb).save(image)
    out = tmp_path / "blobs.npz"
    args = ["blobs", str(image), "--model", str(keras_model_file), "-o", str(out)]
    assert main([*args, "--blob", "inception_3b/5x5_reduce", "--blob", "pool1/norm1"]) == 0
    saved = np.load(out)
    expected = net.blobs(net.preprocess(rgb), ["inception_3b/5x5_reduce"])
    assert saved["inception_3b/5x5_reduce"].dtype == np.float32
    assert saved["inception_3b/5x5_reduce"].shape == (1, 32, 7, 10)
    np.testing.assert_allclose(
        saved["inception_3b/5x5_reduce"][0].transpose(1, 2, 0),
        expected["inception_3b/5x5_reduce"],
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "argv_tail, message",
    [
        (["--blob", "inception_4x/output"], "unknown blob 'inception_4x/output'; did you mean"),
        (["--blob", "pool5/7x7_s1"], "image too small for this layer: the image is 61x83"),
    ],
)
def test_blobs_bad_names(keras_model_file, tmp_path, capsys, argv_tail, message):
    image = tmp_path / "in.png"
    Image.fromarray(np.zeros((61, 83, 3), np.uint8)).save(image)
    out = tmp_path / "b.npz"
    code = main(["blobs", str(image), "--model", str(keras_model_file), "-o", str(out), *argv_tail])
    err = capsys.readouterr().err.strip()
    assert code != 0 and message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_cli_error_is_one_line_without_traceback(tmp_path):
    bogus = tmp_path / "bogus.caffemodel"
    bogus.write_bytes(b"\x00\x01garbage" * 10)
    out = tmp_path / "out.keras"
    result = subprocess.run(
        [sys.executable, "-m", "tf_impl.cli", "convert", str(bogus), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("deepdream:")]
    assert len(errors) == 1 and str(bogus) in errors[0]
    assert not out.exists()
