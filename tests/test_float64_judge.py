"""The float64 judge can fail: networks with one Caffe rule broken (LRN's alpha not divided by
local_size; an average pool where one inception module has a max pool) are caught by it, against
the same stored Caffe results the real network passes with."""

from __future__ import annotations

import dataclasses

import pytest

from conversion.caffe_files import build_net_spec
from conversion.caffe_schema_pb2 import LayerParameter
from reference import cases
from tests import reference_data as ref
from tests.float64_judge import Branches, Float64Net
from tf_impl.dream.deepdream import input_gradient
from tf_impl.net.builder import build_keras_model
from tf_impl.net.network import DreamNet

SIZE = (97, 173)


def _broken(spec, layer_name: str, change) -> object:
    layers = []
    for layer in spec.layers:
        if layer.name == layer_name:
            param = LayerParameter()
            param.CopyFrom(layer.param)
            change(param)
            layer = dataclasses.replace(layer, param=param)
        layers.append(layer)
    return dataclasses.replace(spec, layers=tuple(layers))


def _lrn_alpha_undivided(param):
    param.lrn_param.alpha *= param.lrn_param.local_size


def _average_pool(param):
    param.pooling_param.pool = param.pooling_param.AVE


@pytest.mark.parametrize(
    "layer,change",
    [("pool1/norm1", _lrn_alpha_undivided), ("inception_3a/pool", _average_pool)],
    ids=["lrn-alpha", "pool-method"],
)
def test_judge_catches_a_broken_rule(layer, change, model_files, float64_net):
    arrays, _ = ref.load("forward")
    spec = build_net_spec(model_files["V1"])
    broken = DreamNet(build_keras_model(_broken(spec, layer, change)))
    judge = Float64Net(spec, broken.keras_model)  # float64 of the real net, float32 broken
    key = cases.size_key(SIZE)
    image = broken.preprocess(cases.pixel_image(SIZE))
    ours, truth = broken.blobs(image, cases.BLOBS), judge.blobs(image, cases.BLOBS)
    blob_bad = []
    for name in cases.BLOBS:
        if name == "pool1/norm1" and layer != "pool1/norm1":
            continue  # upstream of the broken layer
        _, bad = ref.blob_failures(name, ours[name], arrays[f"{key}/blob/{name}"], truth[name])
        blob_bad += bad
    gradient = input_gradient(broken, image, cases.GRADIENT_END)
    _, gradient_bad = ref.gradient_failures(
        gradient,
        arrays[f"{key}/gradient"],
        judge.gradient(image, cases.GRADIENT_END),
        judge.branches(image, cases.GRADIENT_END),
    )
    assert blob_bad and gradient_bad


def test_along_our_own_branches_is_float64_where_none_flips(net, float64_net):
    """The branch-following float64 forward rebuilds the float64 net: with the branches our
    float32 takes at this image (none flipped here) it is float64's own gradient."""
    image = net.preprocess(cases.pixel_image(SIZE))
    end = cases.GRADIENT_END
    assert float64_net.branches(image, end).flips == 0
    along, truth = float64_net.gradient_along(image, end), float64_net.gradient(image, end)
    assert ref.rel_l2(along, truth) < 1e-12


def test_our_gradient_fails_along_branches_it_did_not_take(net, float64_net):
    """Judged along the branches of another image (so many units on the other side), our
    correct gradient is far off: what the judge compares with is not met by any gradient."""
    image = net.preprocess(cases.pixel_image(SIZE))
    other = net.preprocess(cases.pixel_image(SIZE)[::-1])
    end = cases.GRADIENT_END
    ours = input_gradient(net, image, end)
    truth = float64_net.gradient(image, end)
    wrong = Branches(1, 0, float64_net.gradient_along(image, end, branch_image=other))
    _, bad = ref.gradient_failures(ours, ours, truth, wrong)
    assert any("along our branches" in b for b in bad)
    _, fine = ref.gradient_failures(ours, ours, truth, Branches(0, 0))
    assert not fine
