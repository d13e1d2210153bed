"""Every example in README.md runs, so none can rot: each shell block line by line (in one
scratch directory, in order, as a user would type them), the Python block in a fresh process
that must print nothing on stderr (no TensorFlow log line on a CPU machine).

Where the README names the real weights (``bvlc_googlenet``, or no ``--model``), the synthetic
model stands in. To stay quick, dreams get ``--octaves 1 --steps 1`` and the atlas a tiny
renderer appended (argparse keeps the last value given; the notebook renderer its own);
nothing else is changed. ``make`` lines are checked to name a Makefile target (they install or
download), ``source`` lines are skipped (the test already runs in the project's environment).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tf_impl.cli import main
from tf_impl.images.sample import sample_image_path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
README = PROJECT_ROOT / "README.md"
REAL_WEIGHTS = ("bvlc_googlenet", "bvlc_googlenet.caffemodel")
MODEL_COMMANDS = {"dream", "zoom", "video", "atlas", "channels", "layers", "blobs"}
QUICK = {
    "dream": ["--octaves", "1", "--steps", "1", "--quiet"],
    "zoom": ["--octaves", "1", "--steps", "1", "--quiet"],
    "video": ["--octaves", "1", "--steps", "1", "--quiet"],
    "atlas": ["--size", "40", "--steps", "2", "--pad", "4", "--jitter", "2", "--quiet"],
}
QUICK_NOTEBOOK = ["--size", "40", "--octaves", "2", "--steps", "2", "--batch", "3", "--quiet"]
ATLAS_CHANNELS = ["--channels", "0-2"]


def _blocks(language: str) -> list[str]:
    text = README.read_text()
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.M | re.S)


def _shell_lines() -> list[str]:
    """Every command line of the README's shell blocks, continuations joined."""
    lines = []
    for block in _blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                lines.append(line.strip())
    return lines


def _substitute_model(argv: list[str], synthetic: Path) -> list[str]:
    if argv[0] not in MODEL_COMMANDS:
        return argv
    if "--model" not in argv:
        return [*argv, "--model", str(synthetic)]
    at = argv.index("--model") + 1
    if Path(argv[at]).name in REAL_WEIGHTS:
        argv = [*argv[:at], str(synthetic), *argv[at + 1 :]]
    return argv


def _quick(argv: list[str]) -> list[str]:
    extra = QUICK.get(argv[0], [])
    if argv[0] == "atlas" and "notebook" in argv:
        extra = QUICK_NOTEBOOK
    if argv[0] == "atlas" and "--channels" in argv:
        extra = [*extra, *ATLAS_CHANNELS]
    return [*argv, *extra]


def test_readme_has_the_two_commands_first_and_examples_to_run():
    head = README.read_text().splitlines()[:6]
    assert "make dream" in "\n".join(head) and "make test" in "\n".join(head)
    assert len(_shell_lines()) >= 10 and len(_blocks("python")) == 1


@pytest.mark.slow
def test_every_shell_example_runs(synthetic_model_file, tmp_path, monkeypatch, capsys):
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    monkeypatch.chdir(tmp_path)
    variables = {"IMG": str(sample_image_path())}
    ran = 0
    for line in _shell_lines():
        words = shlex.split(line, comments=True)
        if words[0] == "make":
            assert re.search(rf"^{words[1]}:", makefile, flags=re.M), line
            continue
        if words[0] == "source":
            continue
        assignment = re.fullmatch(r'(\w+)="\$\((.*)\)"(?:\s+#.*)?', line)
        if assignment:
            name, command = assignment.groups()
            assert command == "python -m tf_impl.images.sample", line  # the only one: add here
            assert variables[name] == str(sample_image_path())
            continue
        assert words[0] == "deepdream", f"README line not understood by this test: {line}"
        argv = shlex.split(line.replace('"$IMG"', shlex.quote(variables["IMG"])), comments=True)
        argv = _quick(_substitute_model(argv[1:], synthetic_model_file))
        if argv[0] == "synthetic-model" and argv[-1].endswith(".keras"):
            shutil.copyfile(synthetic_model_file, tmp_path / argv[-1])  # the same file, faster
            continue
        code = main(argv)
        captured = capsys.readouterr()
        assert code == 0, f"{line}\n{captured.err}"
        ran += 1
    assert ran >= 10


@pytest.mark.slow
def test_the_python_example_runs_quietly(synthetic_model_file, tmp_path):
    (code,) = _blocks("python")
    code = code.replace('load_net("synthetic")', f"load_net({str(synthetic_model_file)!r})")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "DEEPDREAM"))}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no TensorFlow banner, no CUDA probe line
    assert (tmp_path / "dream.png").is_file()


def _quiet_run(argv: list[str]) -> subprocess.CompletedProcess:
    """``deepdream argv`` in a fresh process, TensorFlow's own logging left at its defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "DEEPDREAM"))}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "tf_impl.cli", *argv], env=env, capture_output=True, text=True
    )


@pytest.mark.slow
def test_a_command_prints_no_tensorflow_line(synthetic_model_file, tmp_path):
    """A whole TensorFlow command in a fresh process: stderr holds only the command's own
    line."""
    out = tmp_path / "d.png"
    argv = ["dream", str(sample_image_path()), "-o", str(out), "--model", str(synthetic_model_file)]
    done = _quiet_run([*argv, *QUICK["dream"]])
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [f"wrote {out} (600x512)"]


@pytest.mark.slow
def test_atlas_prints_no_tensorflow_line(synthetic_model_file, tmp_path):
    """The atlas's checks read its directory's index without loading TensorFlow, so that the
    quiet import is the first: stderr holds only the progress line."""
    out = tmp_path / "atlas"
    argv = ["atlas", "--model", str(synthetic_model_file), "--layer", "inception_3b/output"]
    done = _quiet_run([*argv, "-o", str(out), *ATLAS_CHANNELS, *QUICK["atlas"]])
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
