"""Issue 13: what a hostile new user found. Each class of bug has a test here that fails on
the code before the fix: lost or overwritten files, wrong images with exit 0, tracebacks,
memory blow-ups and unhelpful messages. Every error is one ``deepdream: error:`` line with
exit code 2 and leaves no output behind."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conversion.synthetic import write_synthetic_caffemodel
from tf_impl.cli import build_parser, main
from tf_impl.dream.objectives import class_objective
from tf_impl.host.memory import available_memory
from tf_impl.images.files import load_rgb, save_rgb
from tf_impl.net.network import load_dreamnet
from tf_impl.net.step_memory import step_memory_needed

FAST = ["--octaves", "1", "--steps", "1", "--quiet", "--seed", "0"]
ZOOM_FAST = [*FAST, "--layer", "inception_3b/output"]
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _write_image(path: Path, height: int, width: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture()
def image(tmp_path):
    return _write_image(tmp_path / "in.png", 90, 130)


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err.strip()


def _error(argv, capsys) -> str:
    code, err = _run(argv, capsys)
    lines = [line for line in err.splitlines() if not line.startswith("note:")]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("deepdream: error:"), err
    return lines[0]


def _no_tensorflow_work(monkeypatch):
    """Make loading a model fail the test: the error must come before any model work."""

    def forbidden(*args, **kwargs):
        raise AssertionError("the model was loaded before the error was found")

    monkeypatch.setattr("tf_impl.models.loading.load_net", forbidden)


# --- An input is never an output, for every command -------------------------------------


def test_convert_refuses_to_overwrite_its_input(model_files, tmp_path, capsys):
    disguised = tmp_path / "m.keras"  # a caffemodel that happens to be named .keras
    shutil.copy(model_files["V1"], disguised)
    before = disguised.read_bytes()
    line = _error(["convert", "--model", disguised, "-o", disguised], capsys)
    assert "is the input file" in line
    assert disguised.read_bytes() == before


def test_convert_refuses_the_prototxt_as_output(model_files, tmp_path, capsys):
    proto = tmp_path / "deploy.keras"
    shutil.copy(model_files["prototxt"], proto)
    line = _error(
        ["convert", "--model", model_files["V2"], "--prototxt", proto, "-o", proto], capsys
    )
    assert "is the input file" in line


@pytest.mark.parametrize("which", ["guide", "link to input", "model"])
def test_dream_refuses_any_input_as_output(which, image, model_files, tmp_path, capsys):
    guide = _write_image(tmp_path / "guide.png", 40, 40, seed=3)
    weights = tmp_path / "weights.png"  # a caffemodel with an image's name
    shutil.copy(model_files["V1"], weights)
    out = {"guide": guide, "model": weights, "link to input": tmp_path / "link.png"}[which]
    if which == "link to input":
        out.symlink_to(image)
    before = {p: p.read_bytes() for p in (image, guide, weights)}
    argv = ["dream", image, "-o", out, "--model", weights, "--guide", guide]
    assert "is the input file" in _error(argv, capsys)
    assert {p: p.read_bytes() for p in (image, guide, weights)} == before


def test_blobs_refuses_the_image_as_output(keras_model_file, tmp_path, capsys):
    disguised = tmp_path / "picture.npz"  # Pillow reads images by content, not by name
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(disguised, format="PNG")
    argv = [
        "blobs",
        disguised,
        "--model",
        keras_model_file,
        "--blob",
        "conv1/7x7_s2",
        "-o",
        disguised,
    ]
    assert "is the input file" in _error(argv, capsys)


def test_zoom_refuses_an_input_as_animation(image, keras_model_file, tmp_path, capsys):
    guide = tmp_path / "guide.gif"
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(guide)
    argv = ["zoom", image, "-o", tmp_path / "f", "--frames", "1", "--model", keras_model_file]
    line = _error([*argv, "--guide", guide, "--gif", guide], capsys)
    assert "is the input file" in line
    assert not (tmp_path / "f").exists()


# --- Outputs are checked for writability before any work; a failing write is one line ---


@pytest.mark.parametrize("command", ["dream", "convert"])
def test_output_that_is_a_directory_is_refused_first(
    command, image, model_files, tmp_path, capsys, monkeypatch
):
    _no_tensorflow_work(monkeypatch)
    out = tmp_path / ("o.png" if command == "dream" else "o.keras")
    out.mkdir()
    argv = {
        "dream": ["dream", image, "-o", out, "--model", model_files["V1"]],
        "convert": ["convert", "--model", model_files["V1"], "-o", out],
    }[command]
    assert "is a directory" in _error(argv, capsys)


def test_missing_output_directory_is_refused_first(image, model_files, tmp_path, capsys):
    out = tmp_path / "nowhere" / "o.keras"
    assert "does not exist" in _error(["convert", "--model", model_files["V1"], "-o", out], capsys)


def _refuse_writes_in(monkeypatch, directory: Path, error: int):
    """Simulate a read-only or full directory at the OS level: creating files there fails
    (the tests run as root in CI, where permission bits do not stop writes)."""
    real_open = os.open

    def fake_open(path, flags, *args, **kwargs):
        if Path(os.fspath(path)).parent == directory and flags & os.O_CREAT:
            raise OSError(error, os.strerror(error), os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)


@pytest.mark.parametrize("error", [errno.EACCES, errno.EROFS])
def test_unwritable_output_directory_is_refused_before_work(
    error, image, keras_model_file, tmp_path, capsys, monkeypatch
):
    _no_tensorflow_work(monkeypatch)
    locked = tmp_path / "locked"
    locked.mkdir()
    _refuse_writes_in(monkeypatch, locked, error)
    argv = ["dream", image, "-o", locked / "o.png", "--model", keras_model_file]
    line = _error(argv, capsys)
    assert f"cannot write in {locked}" in line and os.strerror(error) in line


def test_dream_whose_final_write_fails_says_so_in_one_line(
    image, keras_model_file, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "out.png"
    real_replace = os.replace

    def full_disk(src, dst, *args, **kwargs):  # the disk fills up during the dream
        if Path(dst) == out:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full_disk)
    line = _error(["dream", image, "-o", out, "--model", keras_model_file, *FAST], capsys)
    assert "could not be written (No space left on device)" in line
    assert list(tmp_path.iterdir()) == [image]  # no output, no temporary file


def test_symlinked_output_is_written_through_and_keeps_its_mode(tmp_path):

    target = tmp_path / "real.png"
    _write_image(target, 10, 10)
    target.chmod(0o600)
    link = tmp_path / "link.png"
    link.symlink_to(target)
    rgb = np.full((10, 10, 3), 7, np.uint8)
    save_rgb(link, rgb)
    assert link.is_symlink()
    assert np.array_equal(load_rgb(target), rgb)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


# --- zoom: resume only what matches, clean up, never a mixed sequence ------------------


def _zoom(image, out, model, capsys, *extra):
    return _run(["zoom", image, "-o", out, "--model", model, *ZOOM_FAST, *extra], capsys)


@pytest.mark.parametrize("changed", ["input contents", "guide contents"])
def test_zoom_refuses_to_resume_with_changed_input_files(
    changed, image, keras_model_file, tmp_path, capsys
):
    guide = _write_image(tmp_path / "guide.png", 60, 60, seed=4)
    frames = tmp_path / "frames"
    code, err = _zoom(image, frames, keras_model_file, capsys, "--frames", "1", "--guide", guide)
    assert code == 0, err
    _write_image(image if changed == "input contents" else guide, 90, 130, seed=9)
    argv = ["zoom", image, "-o", frames, "--model", keras_model_file, *ZOOM_FAST]
    line = _error([*argv, "--frames", "2", "--guide", guide], capsys)
    assert "made with other settings" in line and changed.split()[0] in line
    assert not (frames / "frame_0001.png").exists()


def test_zoom_removes_its_stale_temporary_files(image, keras_model_file, tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    stale = [frames / ".frame_0000.k3j_x9a2.png", frames / ".zoom_state.ab12cd34.npz"]
    mine = frames / ".frame_0000.notes.txt"  # not of our naming: kept
    for path in [*stale, mine]:
        path.write_bytes(b"half-written")
    code, err = _zoom(image, frames, keras_model_file, capsys, "--frames", "1")
    assert code == 0, err
    assert not any(p.exists() for p in stale)
    assert mine.exists()


def test_zoom_with_a_deleted_frame_says_so(image, keras_model_file, tmp_path, capsys):
    frames = tmp_path / "frames"
    code, err = _zoom(image, frames, keras_model_file, capsys, "--frames", "2")
    assert code == 0, err
    (frames / "frame_0000.png").unlink()
    gif = tmp_path / "z.gif"
    argv = ["zoom", image, "-o", frames, "--model", keras_model_file, *ZOOM_FAST]
    line = _error([*argv, "--frames", "2", "--gif", gif], capsys)
    assert "frame_0000.png is missing" in line
    assert not gif.exists()


def test_zoom_output_that_is_a_file_is_refused(image, keras_model_file, tmp_path, capsys):
    existing = tmp_path / "notes.txt"
    existing.write_text("keep me")
    argv = ["zoom", image, "-o", existing, "--frames", "1", "--model", keras_model_file]
    assert "is not a directory" in _error(argv, capsys)
    assert existing.read_text() == "keep me"


# --- Numbers: non-finite, out of range, absurd ------------------------------------------


def _float_options():
    """(command, option) for every option of every subcommand that takes a float."""
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    for command, parser in subparsers.choices.items():
        for action in parser._actions:
            name = getattr(action.type, "__name__", "")
            if action.option_strings and name in ("float", "finite_float", "positive_float"):
                yield command, action.option_strings[-1], name


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
@pytest.mark.parametrize("command, option", [(c, o) for c, o, _ in _float_options()])
def test_non_finite_numbers_are_refused_with_the_option_name(
    command, option, value, image, tmp_path, capsys
):
    argv = [command, image, "-o", tmp_path / "o", "--frames", "1", f"{option}={value}"]
    if command == "dream":
        argv = [command, image, "-o", tmp_path / "o.png", f"{option}={value}"]
    line = _error(argv, capsys)
    assert option in line and value.lower() in line.lower()


@pytest.mark.parametrize("command", ["dream", "zoom"])
@pytest.mark.parametrize("value", ["-1", "4294967296"])
def test_seed_out_of_range_is_refused_before_work(command, value, image, tmp_path, capsys):
    out = tmp_path / ("o.png" if command == "dream" else "frames")
    argv = [command, image, "-o", out, "--seed", value]
    if command == "zoom":
        argv += ["--frames", "1"]
    assert "--seed" in _error(argv, capsys)
    assert not out.exists()


@pytest.mark.parametrize("fps", ["0", "-5"])
def test_zoom_fps_must_be_positive(fps, image, tmp_path, capsys):
    out = tmp_path / "frames"
    line = _error(["zoom", image, "-o", out, "--frames", "1", "--fps", fps], capsys)
    assert "--fps" in line and not out.exists()


def test_absurd_octave_count_is_refused_at_once(image, tmp_path, capsys, monkeypatch):
    _no_tensorflow_work(monkeypatch)
    start = time.perf_counter()
    line = _error(["dream", image, "-o", tmp_path / "o.png", "--octaves", "100000000"], capsys)
    assert "--octaves 100000000" in line and "at most" in line
    assert time.perf_counter() - start < 5  # it used to run 45 s building the octave list


# --- Images: bit depths by their real range, truncated files, bombs --------------------


def test_32_bit_integer_tiff_is_scaled_by_its_range_not_wrapped(tmp_path, capsys):
    values = np.linspace(0, 70000, 200 * 300).reshape(200, 300).astype(np.int32)
    path = tmp_path / "i32.tif"
    Image.fromarray(values, "I").save(path)
    grey = load_rgb(path)[..., 0].astype(int)
    assert np.all(np.diff(grey[:, 0]) >= 0)  # monotone: no wrap-around
    assert grey.max() == 255 and grey.min() == 0
    assert "values 0-70000 scaled to 0-255" in capsys.readouterr().err


def test_float_tiff_in_0_1_is_scaled_and_outside_is_refused(tmp_path, capsys):
    path = tmp_path / "f.tif"
    Image.fromarray(np.full((20, 30), 0.5, np.float32), "F").save(path)
    assert abs(int(load_rgb(path)[0, 0, 0]) - 128) <= 1  # was black
    Image.fromarray(np.full((20, 30), -3.0, np.float32), "F").save(path)
    line = _error(["dream", path, "-o", tmp_path / "o.png"], capsys)
    assert "32-bit float image" in line and "-3" in line


def _png_with_rows(path: Path, width: int, height: int, rows: int) -> Path:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + b"\x80" * width * 3 for _ in range(rows))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def test_truncated_png_is_an_error(tmp_path, capsys):
    path = _png_with_rows(tmp_path / "cut.png", 300, 2000, 10)
    line = _error(["dream", path, "-o", tmp_path / "o.png"], capsys)
    assert "truncated PNG" in line and "10 of 2000 rows" in line
    whole = _png_with_rows(tmp_path / "whole.png", 30, 20, 20)
    assert load_rgb(whole).shape == (20, 30, 3)


def test_decompression_bomb_is_one_line(tmp_path, capsys):
    path = _png_with_rows(tmp_path / "bomb.png", 60000, 60000, 1)
    line = _error(["dream", path, "-o", tmp_path / "o.png"], capsys)
    assert "3,600,000,000 pixels" in line and "decompression bomb" in line


# --- Objectives: dead units, sizes, classes ---------------------------------------------


@pytest.fixture(scope="module")
def big_image(tmp_path_factory):
    return _write_image(tmp_path_factory.mktemp("big") / "big.png", 230, 240, seed=1)


def test_dead_neuron_says_the_gradient_is_zero(big_image, keras_model_file, tmp_path, capsys):
    out = tmp_path / "o.png"
    argv = ["dream", big_image, "-o", out, "--model", keras_model_file, *FAST]
    line = _error([*argv, "--layer", "inception_4c/output", "--neuron", "5"], capsys)
    assert "gradient is zero" in line and "--neuron" in line
    assert not out.exists()


def test_zoom_on_a_dead_neuron_says_so_and_writes_no_frame(
    big_image, keras_model_file, tmp_path, capsys
):
    out = tmp_path / "frames"
    argv = ["zoom", big_image, "-o", out, "--frames", "2", "--model", keras_model_file, *FAST]
    line = _error([*argv, "--layer", "inception_4c/output", "--neuron", "5"], capsys)
    assert "gradient is zero" in line and "--neuron" in line and "frame" in line
    assert not out.exists()


def test_fully_connected_layer_says_which_sizes_work(keras_model_file, tmp_path, capsys):
    path = _write_image(tmp_path / "wide.png", 300, 400)
    argv = ["dream", path, "-o", tmp_path / "o.png", "--model", keras_model_file, *FAST]
    line = _error([*argv, "--layer", "loss3/classifier"], capsys)
    assert "from 223x223 to 254x254" in line and "300x400" in line
    small = _write_image(tmp_path / "small.png", 100, 100)
    argv[1] = small
    line = _error([*argv, "--layer", "loss3/classifier"], capsys)
    assert "image too small for this layer" in line and "at least 223x223" in line


def test_blobs_and_layers_at_a_size_the_classifier_cannot_take(keras_model_file, tmp_path, capsys):
    path = _write_image(tmp_path / "wide.png", 300, 400)
    out = tmp_path / "b.npz"
    argv = ["blobs", path, "--model", keras_model_file, "--blob", "loss3/classifier", "-o", out]
    assert "from 223x223 to 254x254" in _error(argv, capsys)
    assert main(["layers", "--model", str(keras_model_file), "--size", "300x400"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert rows["loss3/classifier"].endswith("wrong size")
    assert rows["pool5/7x7_s1"].endswith("3x6")


def test_tiny_guide_is_one_line(image, keras_model_file, tmp_path, capsys):
    guide = _write_image(tmp_path / "dot.png", 1, 1)
    argv = ["dream", image, "-o", tmp_path / "o.png", "--model", keras_model_file, *FAST]
    line = _error([*argv, "--guide", guide, "--layer", "inception_3b/output"], capsys)
    assert "image too small for this layer: the guide image is 1x1" in line


@pytest.mark.slow
def test_class_works_on_the_notebooks_image_size(keras_model_file, tmp_path, capsys):
    sky_sized = _write_image(tmp_path / "sky.png", 575, 1024)  # sky1024px.jpg's size
    out = tmp_path / "o.png"
    argv = ["dream", sky_sized, "-o", out, "--model", keras_model_file, "--class", "1"]
    code, err = _run([*argv, "--steps", "1", "--quiet", "--seed", "0"], capsys)  # 4 octaves
    assert code == 0, err
    assert out.is_file()


def test_class_logit_at_the_trained_size_is_the_networks_logit(net):
    import tensorflow as tf

    objective = class_objective(net, 7)
    rgb = np.random.default_rng(5).integers(0, 256, (224, 224, 3)).astype(np.float32)
    batch = tf.constant(net.preprocess(rgb)[None])
    blobs = net.submodel([objective.blob, "loss3/classifier"])(batch)
    ours = float(objective({objective.blob: blobs[0]}, tf.zeros([0, 0])))
    np.testing.assert_allclose(ours, float(blobs[1][0, 7]), rtol=1e-4)  # float32 sums


# --- Memory ------------------------------------------------------------------------------


def test_step_memory_estimate_matches_the_measured_rate(net):

    # Measured on TF 2.21 CPU: one step at 1 megapixel grows the process by 0.68-0.71 GB.
    per_megapixel = step_memory_needed(net, ["inception_4c/output"], 1000, 1000) / 1e9
    assert 0.6 < per_megapixel < 0.8
    four = step_memory_needed(net, ["inception_4c/output"], 2000, 2000) / 1e9
    assert 3.5 < four / per_megapixel < 4.5


def test_image_too_large_for_memory_is_refused_with_the_figures(
    image, keras_model_file, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr("tf_impl.cli.limits.available_memory", lambda: (1_000_000, "MemAvailable"))
    line = _error(["dream", image, "-o", tmp_path / "o.png", "--model", keras_model_file], capsys)
    assert "needs about 0.01 GB per step" in line and "0.00 GB is available (MemAvailable)" in line


def test_available_memory_reads_the_machine():

    available, source = available_memory()
    if not Path("/proc/meminfo").exists():
        pytest.skip("no /proc/meminfo (not Linux)")
    assert available > 0 and source in ("MemAvailable", "cgroup memory limit")


# --- Messages ----------------------------------------------------------------------------


def test_classifier_size_mismatch_names_the_real_difference(model_files, tmp_path, capsys):

    places = write_synthetic_caffemodel(tmp_path / "places.caffemodel", 0, "V2", 205)
    argv = [
        "convert",
        "--model",
        places,
        "--prototxt",
        model_files["prototxt"],
        "-o",
        tmp_path / "p.keras",
    ]
    line = _error(argv, capsys)
    assert "has 205 outputs" in line and "asks for 1000" in line
    assert "209" not in line


def test_prototxt_given_as_model_suggests_prototxt(image, model_files, tmp_path, capsys):
    argv = ["dream", image, "-o", tmp_path / "o.png", "--model", model_files["prototxt"]]
    assert "--prototxt" in _error(argv, capsys)


def test_help_is_wrapped_and_shows_the_fps_default(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        main(["zoom", "--help"])
    text = capsys.readouterr().out
    assert "(default: 10)" in text
    description = text.split("\n\n")[1]
    assert max(len(line) for line in description.splitlines()) <= 80


# --- The 8-bit rule, model loading, offline trial -----------------------------------------


def test_api_and_cli_save_with_the_notebooks_truncation(tmp_path):

    values = np.array([[[0.4, 0.6, 254.99], [-3.0, 255.7, 128.5]]], np.float32)
    save_rgb(tmp_path / "x.png", values)
    expected = np.uint8(np.clip(values, 0, 255))  # the notebook's rule
    np.testing.assert_array_equal(load_rgb(tmp_path / "x.png"), expected)


def test_loading_a_keras_file_does_not_unpack_it(keras_model_file, tmp_path, monkeypatch):
    import tempfile

    # A temporary directory that cannot be created (as on a full disk): Keras' load_model
    # unpacked the whole file there (and removed it afterwards) on every load.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no" / "such" / "dir"))
    net = load_dreamnet(keras_model_file)
    assert "inception_4c/output" in net.blob_names()


def test_synthetic_model_command_writes_a_labelled_model(image, tmp_path, capsys):
    model = tmp_path / "synthetic.keras"
    assert main(["synthetic-model", "-o", str(model)]) == 0
    assert "synthetic GoogLeNet" in capsys.readouterr().err

    net = load_dreamnet(model)
    assert net.metadata["synthetic"] is True and "random" in net.metadata["source"]
    out = tmp_path / "d.png"
    assert main(["dream", str(image), "-o", str(out), "--model", str(model), *FAST]) == 0
    caffemodel = tmp_path / "synthetic.caffemodel"
    assert main(["synthetic-model", "-o", str(caffemodel)]) == 0
    assert main(["convert", "--model", str(caffemodel), "-o", str(tmp_path / "c.keras")]) == 0


# --- Processes: no TensorFlow for bad arguments, pipes, Ctrl-C -----------------------------


def _python(code: str, *args, background: bool = False, **kwargs):
    """Run Python ``code`` with the project importable: finished, or started (Popen)."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-c", code, *args]
    if background:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    return subprocess.run(command, env=env, capture_output=True, text=True, **kwargs)


def test_bad_arguments_are_refused_without_importing_tensorflow(tmp_path):
    code = (
        "import sys\n"
        "from tf_impl.cli import main\n"
        "rc = main(sys.argv[1:])\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
        "sys.exit(rc)\n"
    )
    result = _python(code, "dream", str(tmp_path / "missing.png"), "-o", "o.png", timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"deepdream: error: {tmp_path / 'missing.png'}: no such file"


@pytest.mark.slow
def test_layers_into_a_closed_pipe_is_quiet(keras_model_file):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-m", "tf_impl.cli", "layers", str(keras_model_file)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as p:
        first = p.stdout.readline()  # then close the pipe, as `| head -1` does
        p.stdout.close()
        err = p.stderr.read().decode()
        p.wait(timeout=120)
    assert first.startswith(b"data")
    assert "Traceback" not in err and "BrokenPipe" not in err


@pytest.mark.slow
def test_ctrl_c_while_tensorflow_imports_is_one_line(image, keras_model_file, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-m", "tf_impl.cli", "dream", str(image)]
    command += ["-o", str(tmp_path / "o.png"), "--model", str(keras_model_file)]
    with subprocess.Popen(command, stderr=subprocess.PIPE, env=env, text=True) as process:
        time.sleep(1.5)  # arguments checked; TensorFlow's import takes several seconds
        process.send_signal(signal.SIGINT)
        err = process.stderr.read()
        code = process.wait(timeout=120)
    assert code == 130, err
    assert err.strip() == "deepdream: interrupted"


class _InterruptedImport:
    """A meta-path finder for ``tensorflow`` that fails as a C extension's initialisation does
    when Ctrl-C lands inside it: ImportError raised from the KeyboardInterrupt."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow":
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as interrupt:
                raise ImportError("initialization failed") from interrupt


def test_ctrl_c_inside_an_extension_while_importing_is_an_interrupt(
    image, keras_model_file, tmp_path, monkeypatch, capsys
):
    monkeypatch.delitem(sys.modules, "tensorflow")
    monkeypatch.setattr(sys, "meta_path", [_InterruptedImport(), *sys.meta_path])
    argv = ["dream", image, "-o", tmp_path / "o.png", "--model", keras_model_file]
    code, err = _run(argv, capsys)
    assert code == 130 and err == "deepdream: interrupted"


def test_zoom_refuses_a_directory_another_process_is_writing(
    image, keras_model_file, tmp_path, capsys
):
    frames = tmp_path / "frames"
    frames.mkdir()
    holder = _python(
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True); time.sleep(60)\n",
        str(frames),
        background=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, err = _zoom(image, frames, keras_model_file, capsys, "--frames", "1")
    finally:
        holder.kill()
        holder.wait()
    assert code == 2 and "another deepdream process is writing there" in err
    assert not (frames / "frame_0000.png").exists()
