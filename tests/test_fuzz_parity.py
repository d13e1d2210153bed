"""Small architectures beyond GoogLeNet (``reference/fuzz.py``) against stored real-Caffe
results (``reference/data/fuzz.npz``, made by ``make reference``), judged by float64
(``tests/float64_judge.py``), and the caffemodel files Caffe itself saved for them: they hold
Split layers exactly where ``conversion.splits`` puts them, and convert alone."""

from __future__ import annotations

import numpy as np
import pytest

from conversion.caffe_files import read_caffemodel, read_prototxt, v2_layers
from conversion.splits import insert_splits
from reference import cases, fuzz
from reference.metrics import sha256
from tests import fuzz_judge
from tests import reference_data as ref
from tf_impl.models.convert import convert_caffemodel

NAMES = [net.name for net in fuzz.NETS]


@pytest.fixture(scope="module")
def stored():
    return ref.load("fuzz")


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _net(name: str) -> fuzz.FuzzNet:
    return next(net for net in fuzz.NETS if net.name == name)


def _arrays(stored, name: str) -> dict[str, np.ndarray]:
    arrays, _ = stored
    prefix = f"{name}/"
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}


@pytest.mark.parametrize("name", NAMES)
def test_fuzz_net_judged_by_float64(name, stored, fuzz_dir, capsys):
    net = _net(name)
    _, meta = stored
    dream_net, judge, model = fuzz_judge.converted(net, fuzz_dir)
    assert meta["fuzz"]["nets"][name]["caffemodel_sha256"] == sha256(model), (
        "the fuzz nets changed since the reference data were made: `make reference`"
    )
    with capsys.disabled():
        print(f"\nfuzz {name} vs stored Caffe:")
        bad = fuzz_judge.failures(net, dream_net, judge, _arrays(stored, name))
    assert not bad


@pytest.mark.parametrize("name", NAMES)
def test_caffe_saved_file_has_our_splits_and_converts_alone(name, stored, fuzz_dir):
    net = _net(name)
    saved = fuzz_dir / f"{name}.caffe-saved.caffemodel"
    saved.write_bytes(_arrays(stored, name)["saved"].tobytes())
    prototxt = fuzz_dir / f"{name}.prototxt"
    prototxt.write_text(net.prototxt())
    caffe_layers = [(layer.name, tuple(layer.bottom), tuple(layer.top))
                    for layer in v2_layers(read_caffemodel(saved))]  # fmt: skip
    ours = [(layer.name, tuple(layer.bottom), tuple(layer.top))
            for layer in insert_splits(read_prototxt(prototxt)).layer]  # fmt: skip
    assert caffe_layers == ours
    # brocolli-caffe writes its ceil_mode bool in field 13: say so, and the file converts.
    alone = convert_caffemodel(saved, field13="ceil_mode")
    with_prototxt = convert_caffemodel(saved, prototxt)
    for size in net.sizes:
        image = alone.preprocess(fuzz.input_image(size))
        a, b = alone.blobs(image, list(net.blobs)), with_prototxt.blobs(image, list(net.blobs))
        for blob in net.blobs:
            np.testing.assert_array_equal(
                a[blob], b[blob], err_msg=f"{cases.size_key(size)} {blob}"
            )
