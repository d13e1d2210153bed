"""Fixtures of the pytest-benchmark suites (``pytest benchmarks``; never part of make test).

``BENCH_SIZE`` (a name from :data:`benchmarks.suite.SIZES`, default 210x373) and
``BENCH_ROUNDS`` (default 3) choose the image size and the timed rounds.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def model_files(tmp_path_factory):
    """(caffemodel, prototxt) of the synthetic GoogLeNet."""
    from benchmarks.model import write_model_files

    return write_model_files(tmp_path_factory.mktemp("bench-model"))


@pytest.fixture(scope="session")
def net(model_files):
    from benchmarks.model import load_net

    return load_net(model_files[0])


@pytest.fixture(scope="session")
def caffe(model_files):
    """A running Caffe worker (skips when pycaffe is not built)."""
    from benchmarks.caffe_worker import CaffeWorker, caffe_available

    if not caffe_available():
        pytest.skip("pycaffe not built (make caffe)")
    caffemodel, prototxt = model_files
    with CaffeWorker(prototxt, caffemodel) as worker:
        yield worker


@pytest.fixture(scope="session")
def size() -> tuple[int, int]:
    from benchmarks.suite import SIZES

    return SIZES[os.environ.get("BENCH_SIZE", "210x373")]


@pytest.fixture(scope="session")
def rounds() -> int:
    return int(os.environ.get("BENCH_ROUNDS", "3"))


@pytest.fixture(scope="session")
def image(size):
    """A seeded network-input image (H, W, 3) float32 tensor at the benchmark size."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    return tf.constant(rng.uniform(-100, 100, (*size, 3)).astype(np.float32))
