"""A Ray cluster whose node lacks this project: ``--ray`` refuses it in one line, naming the
node and what to install, within seconds and before any dream (a real one-node cluster on
127.0.0.1 whose workers find stand-ins of the project's packages first; see ray_helpers)."""

from __future__ import annotations

import time

import pytest

from tests.ray_helpers import command, finish_with_error, ray_cluster, ray_env
from tf_impl.images.sample import sample_image_path


@pytest.fixture(scope="module")
def cluster_without_the_project(tmp_path_factory):
    pytest.importorskip("ray", reason="the ray extra is not installed (make install has it)")
    elsewhere = tmp_path_factory.mktemp("not-the-project")
    for name in ("tf_impl", "conversion"):  # modules, not the packages: not this project
        (elsewhere / f"{name}.py").write_text("")
    with ray_cluster(pythonpath=elsewhere) as address:
        yield address


@pytest.mark.slow
def test_a_node_without_the_project_is_refused(cluster_without_the_project, tmp_path):
    out = tmp_path / "dreams"
    argv = ["dream", str(sample_image_path()), "-o", str(out), "--model", "synthetic"]
    started = time.monotonic()
    env = ray_env()
    run = command([*argv, "--ray", cluster_without_the_project], env=env, cwd=tmp_path)
    line = finish_with_error(run)
    assert time.monotonic() - started < 60
    assert line.startswith("deepdream: error: the Ray node at 127.0.0.1 cannot import this project")
    assert "pip install 'deepdream-tf2[ray]'" in line
    assert not out.exists()
