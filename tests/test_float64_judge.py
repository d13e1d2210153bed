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
from tests.float64_judge import Float64Net
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
