"""Reading Caffe files (V1 and V2), building the net, saving/loading, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from conversion import caffe_schema_pb2 as pb
from conversion.caffe_files import build_net_spec, read_caffemodel
from conversion.errors import DeepDreamError
from conversion.googlenet import googlenet_deploy
from conversion.synthetic import synthetic_googlenet
from tf_impl.models.convert import convert_caffemodel
from tf_impl.net.naming import caffe_name, keras_name
from tf_impl.net.network import load_dreamnet


def _write(path, net: pb.NetParameter):
    path.write_bytes(net.SerializeToString())
    return path


def test_v1_file_is_legacy_format_and_train_val(model_files):
    raw = read_caffemodel(model_files["V1"])
    assert raw.layers and not raw.layer
    types = {pb.V1LayerParameter.LayerType.Name(layer.type) for layer in raw.layers}
    assert {"DATA", "SOFTMAX_LOSS", "ACCURACY"} <= types
    conv1 = next(layer for layer in raw.layers if layer.name == "conv1/7x7_s2")
    bias = conv1.blobs[1]
    assert (bias.num, bias.channels, bias.height) == (1, 1, 1) and not bias.HasField("shape")


def test_training_only_layers_are_dropped(model_files):
    spec = build_net_spec(model_files["V1"])
    types = {layer.type for layer in spec.layers}
    assert spec.input_blob == "data" and spec.source_format == "V1"
    assert not types & {"Data", "SoftmaxWithLoss", "Accuracy"}
    assert "loss3/classifier" in {layer.name for layer in spec.layers}


def test_v1_and_v2_files_give_identical_nets(nets):
    x = np.random.default_rng(0).uniform(-120, 130, (64, 80, 3)).astype(np.float32)
    names = ["conv1/7x7_s2", "inception_4c/output"]
    v1, v2 = nets["V1"].blobs(x, names), nets["V2"].blobs(x, names)
    for name in names:
        np.testing.assert_array_equal(v1[name], v2[name])


def test_keras_file_round_trip(net, keras_model_file):
    loaded = load_dreamnet(keras_model_file)
    assert loaded.blob_names() == net.blob_names()
    assert loaded.mean == net.mean and loaded.channel_order == "BGR"
    x = np.random.default_rng(1).uniform(-120, 130, (97, 173, 3)).astype(np.float32)
    a = net.blobs(x, ["inception_4c/output"])["inception_4c/output"]
    b = loaded.blobs(x, ["inception_4c/output"])["inception_4c/output"]
    np.testing.assert_array_equal(a, b)


def test_only_needed_layers_run(net):
    sub = net.submodel(["inception_4c/output"])
    names = {layer.name for layer in sub.layers}
    assert "inception_4c.output" in names
    assert not names & {"pool5.7x7_s1", "loss3.classifier", "inception_4d.1x1"}
    # 97x173 is too small for pool5 (3x6 input to a 7x7 window), yet 4c works.
    x = np.zeros((97, 173, 3), np.float32)
    assert net.blobs(x, ["inception_4c/output"])["inception_4c/output"].shape == (6, 10, 512)


def test_prototxt_weights_matched_by_name_and_extra_weights_ignored(model_files, tmp_path):
    deploy = googlenet_deploy()
    # Cut the prototxt after inception_3a: the caffemodel's later weights go unused.
    last = [layer.name for layer in deploy.layer].index("inception_3a/output")
    del deploy.layer[last + 1 :]
    net = convert_caffemodel(model_files["V1"], deploy)
    assert net.blob_names()[-1] == "inception_3a/output"


def test_missing_weights_name_the_layer(model_files, tmp_path):
    deploy = googlenet_deploy()
    deploy.layer[1].name = "conv1/renamed"
    with pytest.raises(DeepDreamError, match=r"'conv1/renamed'.*no weight"):
        convert_caffemodel(model_files["V1"], deploy)


def test_truncated_caffemodel(model_files, tmp_path):
    data = model_files["V2"].read_bytes()
    path = tmp_path / "truncated.caffemodel"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DeepDreamError, match=r"truncated or not a .caffemodel"):
        read_caffemodel(path)


@pytest.mark.parametrize(
    "content", [b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, b"name: 'not binary'\n"]
)
def test_non_protobuf_file(tmp_path, content):
    path = tmp_path / "bogus.caffemodel"
    path.write_bytes(content)
    with pytest.raises(DeepDreamError, match=r"not a|no Caffe layers"):
        read_caffemodel(path)


def test_both_formats_in_one_file_is_an_error(tmp_path):
    net = synthetic_googlenet(version="V2")
    net.layers.add(name="legacy", type=pb.V1LayerParameter.RELU)
    with pytest.raises(DeepDreamError, match="both V2 'layer' and V1 'layers'"):
        read_caffemodel(_write(tmp_path / "both.caffemodel", net))


def test_unknown_layer_type_names_layer_and_type(tmp_path):
    net = synthetic_googlenet(version="V2")
    net.layer[2].type = "Swish"
    path = _write(tmp_path / "swish.caffemodel", net)
    with pytest.raises(DeepDreamError, match=r"layer 'conv1/relu_7x7' has type 'Swish'"):
        convert_caffemodel(path)


def test_wrong_weight_shape(tmp_path):
    net = synthetic_googlenet(version="V2")
    blob = net.layer[1].blobs[0]
    del blob.shape.dim[:]
    blob.shape.dim.extend([64, 3, 49, 1])
    path = _write(tmp_path / "badshape.caffemodel", net)
    with pytest.raises(
        DeepDreamError, match=r"'conv1/7x7_s2'.*shape \(64, 3, 49, 1\).*\(64, 3, 7, 7\)"
    ):
        convert_caffemodel(path)


def test_unknown_blob_suggests_close_names(net):
    with pytest.raises(DeepDreamError, match="did you mean 'inception_4c/output'"):
        net.submodel(["inception_4c/outptu"])


@pytest.mark.parametrize(
    "name", ["inception_4c/output", "loss3/top-1", "a.b/c", "x>y", "conv 1:ü", "plain_name"]
)
def test_keras_names_are_valid_and_reversible(name):
    import re

    escaped = keras_name(name)
    assert re.fullmatch(r"[A-Za-z0-9_.>-]+", escaped) and "/" not in escaped
    assert caffe_name(escaped) == name
