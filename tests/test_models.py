"""Loading models by name: the caffemodel is found, converted once, and cached as .keras."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import tf_impl.models.convert
from conversion import registry
from conversion.download import sha1_of
from tf_impl.models.loading import load_net


@pytest.fixture()
def named_model(model_files, tmp_path, monkeypatch):
    """A model table entry for the synthetic V1 file, put in the cache as a user would."""
    info = registry.ModelInfo(
        name="synthetic_googlenet",
        caffemodel_file="synthetic_googlenet.caffemodel",
        url=None,
        sha1=sha1_of(model_files["V1"]),
        num_classes=1000,
        description="seeded synthetic GoogLeNet (tests)",
        license="test data",
    )
    monkeypatch.setitem(registry.MODELS, info.name, info)
    monkeypatch.setenv("DEEPDREAM_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    shutil.copyfile(model_files["V1"], tmp_path / "cache" / info.caffemodel_file)
    return info


def test_named_model_is_converted_once_and_cached(named_model, net, tmp_path):
    first = load_net(named_model.name)
    cached = tmp_path / "cache" / "synthetic_googlenet.keras"
    assert cached.is_file()
    stamp = cached.stat().st_mtime_ns
    second = load_net(named_model.name)
    assert cached.stat().st_mtime_ns == stamp  # loaded, not converted again
    x = np.random.default_rng(0).uniform(-100, 100, (67, 91, 3)).astype(np.float32)
    for loaded in (first, second):
        np.testing.assert_array_equal(
            loaded.blobs(x, ["inception_4c/output"])["inception_4c/output"],
            net.blobs(x, ["inception_4c/output"])["inception_4c/output"],
        )


def test_stale_cached_conversion_is_redone(named_model, tmp_path, monkeypatch):

    load_net(named_model.name)
    monkeypatch.setattr(tf_impl.models.convert, "CONVERTER_VERSION", 999)
    net = load_net(named_model.name)
    assert net.metadata["converter_version"] == 999
