"""``--ray`` on a real Ray cluster on 127.0.0.1, started here with Ray's own ``ray start``
(one node with two workers; not two nodes: tests/ray_helpers.py says why): an
atlas and a batch of dreams written through it are byte for byte the one-process run's, with a
worker SIGKILLed mid-run and with the driver SIGKILLed and the command run again. Plus the bad
inputs that need no cluster: no Ray installed, an address where nothing answers.

The cluster is stopped at the end, even when a test fails (see tests/ray_helpers.py).
"""

from __future__ import annotations

import filecmp
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conversion.model_files import check_model_arguments
from tests.ray_helpers import (
    RUN_TIMEOUT_S,
    command,
    finish_with_error,
    free_port,
    ray_cluster,
    ray_env,
)
from tf_impl.atlas.atlas_dir import group_renderer, plan_atlas, render_atlas
from tf_impl.atlas.render_settings import RenderSettings
from tf_impl.cli import main
from tf_impl.cluster.ray_pool import RayOptions, run_on_ray
from tf_impl.images.files import is_complete_image
from tf_impl.images.sample import sample_image_path
from tf_impl.models.loading import load_net

ATLAS = ["--render", "notebook", "--layer", "inception_3b/output", "--channels", "0-31"]
ATLAS += ["--size", "24"]
ATLAS += ["--octaves", "2", "--steps", "3", "--batch", "4"]
DREAM = ["--octaves", "2", "--steps", "3", "--seed", "7"]


@pytest.fixture(scope="module")
def cluster():
    """HOST:PORT of a Ray cluster on 127.0.0.1 with two workers (4 logical CPUs: a worker
    reserves as many as the TensorFlow threads it runs, the driver's 2), stopped afterwards. This
    process joins it as a driver too, so Ray's settings (ray_env) are in its environment
    before Ray is first imported here: Ray reads some of them at import."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in ray_env().items():
            if name.startswith("RAY_"):
                patch.setenv(name, value)
        pytest.importorskip("ray", reason="the ray extra is not installed (make install has it)")
        with ray_cluster(cpus=4) as address:
            yield address


def _lines_until(process: subprocess.Popen, start: str) -> str:
    """Read the command's stderr up to the first line starting with ``start``."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    for line in process.stderr:
        if line.startswith(start):
            return line
        assert time.monotonic() < deadline, "the command took too long"
    raise AssertionError(f"the command ended (code {process.wait()}) before a '{start}' line")


def _finish(process: subprocess.Popen) -> str:
    rest = process.stderr.read()
    assert process.wait(timeout=RUN_TIMEOUT_S) == 0, rest
    return rest


def _same_tree(one: Path, two: Path) -> None:
    """The two folders hold the same files, byte for byte."""
    names = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    _, differ, errors = filecmp.cmpfiles(one, two, [str(n) for n in names], shallow=False)
    assert not differ and not errors


@pytest.mark.slow
def test_atlas_on_two_workers_with_one_killed(cluster, synthetic_model_file, tmp_path, monkeypatch):
    """The Python API: 32 channels in 8 groups over the two workers; one worker is
    SIGKILLed once the first group is written, its group is retried, and the atlas is the
    command's one-process atlas, byte for byte."""
    model = ["--model", str(synthetic_model_file)]
    assert main(["atlas", *model, *ATLAS, "-o", str(tmp_path / "here"), "--quiet"]) == 0
    settings = RenderSettings(size=24, octaves=2, steps=3, batch=4)
    spec = check_model_arguments(synthetic_model_file)
    net = load_net(spec)
    plan = plan_atlas(net, tmp_path / "ray", ["inception_3b/output"], settings, range(32))
    pids, killed = [], []

    def render_groups(items, on_result):
        def written(index, pictures):
            on_result(index, pictures)
            if not killed:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])

        setup = partial(group_renderer, settings)
        run_on_ray(RayOptions(cluster), spec, setup, items, written, on_workers=_pids_into(pids))

    render_atlas(
        net, settings, tmp_path / "ray", plan, network=spec.identity(), render_groups=render_groups
    )
    assert len(pids) == 2 and killed
    _same_tree(tmp_path / "here", tmp_path / "ray")
    assert len(list((tmp_path / "ray").rglob("channel_*.png"))) == 32


def _pids_into(pids: list[int]):
    return lambda workers: pids.extend(pid for pid, _host in workers)


def _photos(folder: Path, count: int = 6) -> Path:
    """``count`` small photos (crops of the sample photo, 56x72 and up), as PNG."""
    folder.mkdir()
    with Image.open(sample_image_path()) as image:
        rgb = np.asarray(image.convert("RGB"))
    for i in range(count):
        crop = rgb[40 * i : 40 * i + 56 + 4 * i, 30 * i : 30 * i + 72]
        Image.fromarray(crop).save(folder / f"photo{i}.png")
    return folder


@pytest.mark.slow
def test_batch_on_two_workers_with_the_driver_killed(cluster, synthetic_model_file, tmp_path):
    """6 photos dreamed on the two workers; the driver is SIGKILLed after the first dream is
    written: no partial file is left, and the rerun writes the rest, the one-process dreams."""
    photos = _photos(tmp_path / "photos")
    model = ["--model", str(synthetic_model_file)]
    assert main(["dream", str(photos), "-o", str(tmp_path / "here"), *model, *DREAM]) == 0
    out = tmp_path / "ray"
    argv = ["dream", str(photos), "-o", str(out), *model, *DREAM, "--ray", cluster]
    first = command(argv)
    _lines_until(first, "dreams: 1/6")
    first.kill()
    first.wait(timeout=60)
    finished = [p for p in out.glob("*.png")]
    assert len(finished) >= 1 and all(is_complete_image(p) for p in finished)
    rest = _finish(command(argv))
    assert f"({len(finished)} already there)" in rest
    _same_tree(tmp_path / "here", out)


@pytest.mark.slow
def test_a_worker_that_cannot_load_the_model_fails_in_one_line(cluster, tmp_path):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a keras file")
    photos = _photos(tmp_path / "photos", count=1)
    argv = ["dream", str(photos), "-o", str(tmp_path / "out"), "--model", str(broken)]
    run = command([*argv, "--ray", cluster, "--quiet"])
    err = finish_with_error(run)
    assert err.startswith("deepdream: error: a Ray worker on ") and "could not load" in err
    assert not (tmp_path / "out").exists()  # no folder holding a record of no dream


def test_an_address_where_nothing_answers_is_refused_at_once(synthetic_model_file, tmp_path):
    pytest.importorskip("ray", reason="the ray extra is not installed (make install has it)")
    port = free_port()  # closed again: nothing listens there
    argv = ["atlas", "--model", str(synthetic_model_file), *ATLAS, "-o", str(tmp_path / "a")]
    started = time.monotonic()
    run = command([*argv, "--ray", f"127.0.0.1:{port}"])
    err = finish_with_error(run)
    assert time.monotonic() - started < 30
    assert err.startswith(f"deepdream: error: --ray 127.0.0.1:{port}: no Ray head node answers")
    assert not (tmp_path / "a").exists()


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], env=ray_env(), capture_output=True, text=True, timeout=300
    )


def test_ray_is_never_imported_without_the_option(synthetic_model_file, tmp_path):
    out = tmp_path / "a"
    code = (
        "import sys\nfrom tf_impl.cli import main\n"
        f"code = main(['atlas', '--model', {str(synthetic_model_file)!r}, '--layer', "
        f"'inception_3b/output', '--channels', '0', '--render', 'notebook', '--size', '16', "
        "'--octaves', '1', "
        f"'--steps', '1', '--quiet', '-o', {str(out)!r}])\n"
        "print(code, 'ray' in sys.modules)\n"
    )
    done = _python(code)
    assert done.stdout.splitlines()[-1] == "0 False", done.stderr


def test_ray_option_without_the_extra_says_what_to_install(synthetic_model_file, tmp_path):
    code = (
        "import sys\nsys.modules['ray'] = None  # as where the extra is not installed\n"
        "from tf_impl.cli import main\n"
        f"sys.exit(main(['dream', {str(sample_image_path())!r}, '-o', {str(tmp_path)!r}, "
        f"'--model', {str(synthetic_model_file)!r}, '--ray']))\n"
    )
    started = time.monotonic()
    done = _python(code)
    assert done.returncode == 2 and time.monotonic() - started < 30
    assert done.stderr.strip().splitlines() == [
        "deepdream: error: --ray needs Ray, an optional extra of this project: "
        "pip install 'deepdream-tf2[ray]' (make install has it)"
    ]
