"""Caffe files as Caffe writes them: Split layers, PoolingParameter field 13 (``round_mode``
in BVLC, ``ceil_mode`` in forks), dilated convolutions, negative ReLU slopes, unreached
layers and clear errors. Live comparisons with real Caffe are in tests/test_fuzz_parity.py."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from conversion import caffe_schema_pb2 as pb
from conversion.caffe_files import build_net_spec, read_caffemodel, read_prototxt
from conversion.errors import DeepDreamError
from conversion.splits import insert_splits
from tf_impl.models.convert import convert_caffemodel


def _net(text: str) -> pb.NetParameter:
    return text_format.Parse(text, pb.NetParameter())


def _with_weights(net: pb.NetParameter, seed: int = 0) -> pb.NetParameter:
    """Gaussian weights for every Convolution of a 3-channel-input V2 net (kernel from
    kernel_size), in place; returns the net."""
    rng = np.random.default_rng(seed)
    channels = {"data": 3}
    for layer in net.layer:
        if layer.type == "Input":
            continue
        c_in = channels[layer.bottom[0]]
        c_out = c_in
        if layer.type == "Convolution":
            p = layer.convolution_param
            c_out, k = p.num_output, p.kernel_size[0]
            w = rng.standard_normal((c_out, c_in // max(p.group, 1), k, k)).astype(np.float32)
            blob = layer.blobs.add()
            blob.shape.dim.extend(w.shape)
            blob.data.extend(w.ravel().tolist())
            if p.bias_term:
                blob = layer.blobs.add()
                blob.shape.dim.append(c_out)
                blob.data.extend(rng.standard_normal(c_out).astype(np.float32).tolist())
        elif layer.type == "Concat":
            c_out = sum(channels[b] for b in layer.bottom)
        for top in layer.top:
            channels[top] = c_out
    return net


INPUT = """layer { name: "data" type: "Input" top: "data"
  input_param { shape { dim: 1 dim: 3 dim: 16 dim: 16 } } }
"""
BRANCHY = (
    INPUT
    + """
layer { name: "c1" type: "Convolution" bottom: "data" top: "c1"
  convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "r1" type: "ReLU" bottom: "c1" top: "c1" }
layer { name: "a" type: "Convolution" bottom: "c1" top: "a"
  convolution_param { num_output: 2 kernel_size: 1 } }
layer { name: "b" type: "Convolution" bottom: "c1" top: "b"
  convolution_param { num_output: 3 kernel_size: 1 } }
layer { name: "cat" type: "Concat" bottom: "a" bottom: "b" bottom: "c1" top: "cat" }
"""
)


def test_splits_where_caffe_puts_them():
    split = insert_splits(_net(BRANCHY))
    layers = {layer.name: layer for layer in split.layer}
    # c1 is last written by the in-place ReLU r1 and read by a, b and cat: one Split.
    s = layers["c1_r1_0_split"]
    assert s.type == "Split" and list(s.bottom) == ["c1"]
    assert list(s.top) == [f"c1_r1_0_split_{k}" for k in range(3)]
    assert list(layers["a"].bottom) == ["c1_r1_0_split_0"]
    assert list(layers["b"].bottom) == ["c1_r1_0_split_1"]
    assert list(layers["cat"].bottom) == ["a", "b", "c1_r1_0_split_2"]
    names = [layer.name for layer in split.layer]
    assert names.index("c1_r1_0_split") == names.index("r1") + 1
    assert sum(layer.type == "Split" for layer in split.layer) == 1


def test_synthetic_files_hold_splits_and_convert_alone(model_files):
    for version in ("V1", "V2"):
        raw = read_caffemodel(model_files[version])
        spec = build_net_spec(model_files[version])
        splits = [layer for layer in spec.layers if layer.type == "Split"]
        # GoogLeNet: a Split in front of each inception module but 3b and 5a (4 readers).
        assert len(splits) >= 7, version
        by_name = {layer.name: layer for layer in spec.layers}
        assert len(by_name["inception_4a/output_inception_4a/output_0_split"].tops) == 4
        assert len(raw.SerializeToString()) > 0
    v2_alone = convert_caffemodel(model_files["V2"])
    v1_alone = convert_caffemodel(model_files["V1"])
    x = np.random.default_rng(0).uniform(-120, 130, (64, 80, 3)).astype(np.float32)
    names = ["pool2/3x3_s2_pool2/3x3_s2_0_split", "inception_4c/output", "prob"]
    a, b = v1_alone.blobs(x, names[:2]), v2_alone.blobs(x, names[:2])
    for name in names[:2]:
        np.testing.assert_array_equal(a[name], b[name])
    # The Split's value is its bottom's.
    pool2 = v2_alone.blobs(x, ["pool2/3x3_s2"])["pool2/3x3_s2"]
    np.testing.assert_array_equal(a[names[0]], pool2)
    assert "prob" in v2_alone.blob_names() and "loss3/classifier" in v1_alone.blob_names()


def test_unreached_layers_stay_addressable(tmp_path):
    net = _with_weights(_net(BRANCHY.replace('bottom: "c1" top: "cat"', 'top: "cat"')))
    # 'b' now leads nowhere: it must still be a blob of the converted net.
    path = tmp_path / "m.caffemodel"
    path.write_bytes(insert_splits(net).SerializeToString())
    dream_net = convert_caffemodel(path)
    assert {"a", "b", "cat", "c1"} <= set(dream_net.blob_names())
    x = np.ones((10, 12, 3), np.float32)
    assert dream_net.blobs(x, ["b"])["b"].shape == (10, 12, 3)


def test_ceil_mode_text_spelling(tmp_path):
    pool = (
        'layer { name: "p" type: "Pooling" bottom: "data" top: "p" '
        "pooling_param { pool: MAX kernel_size: 2 stride: 2 %s } }"
    )
    for spelling, ceil in [
        ("ceil_mode: false", False),
        ("ceil_mode: true", True),
        ("round_mode: FLOOR", False),
        ("round_mode: CEIL", True),
        ("", True),
    ]:
        path = tmp_path / "p.prototxt"
        path.write_text(INPUT + pool % spelling)
        param = read_prototxt(path).layer[1].pooling_param
        assert (param.round_mode == pb.PoolingParameter.CEIL) == ceil, spelling
    path.write_text(INPUT + pool % "ceil_mode: maybe")
    with pytest.raises(DeepDreamError, match="not a boolean"):
        read_prototxt(path)


def test_binary_field13_needs_a_stated_dialect(tmp_path):
    net = _net(
        INPUT + 'layer { name: "p" type: "Pooling" bottom: "data" top: "p" '
        "pooling_param { pool: MAX kernel_size: 2 stride: 2 round_mode: CEIL } }"
    )
    path = tmp_path / "p.caffemodel"
    path.write_bytes(net.SerializeToString())  # field 13 = 0: BVLC CEIL, a fork's floor
    with pytest.raises(DeepDreamError, match="--pooling-field13"):
        convert_caffemodel(path)
    x = tf.zeros([1, 5, 5, 3])
    bvlc = convert_caffemodel(path, field13="round_mode").keras_model(x)
    fork = convert_caffemodel(path, field13="ceil_mode").keras_model(x)
    assert tuple(bvlc.shape[1:3]) == (3, 3) and tuple(fork.shape[1:3]) == (2, 2)


def test_negative_relu_slope_is_caffes(tmp_path):
    net = _with_weights(
        _net(
            INPUT + 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
            "convolution_param { num_output: 2 kernel_size: 1 } }\n"
            'layer { name: "r" type: "ReLU" bottom: "c" top: "c" '
            "relu_param { negative_slope: -0.5 } }"
        )
    )
    path = tmp_path / "m.caffemodel"
    path.write_bytes(net.SerializeToString())
    dream_net = convert_caffemodel(path)
    x = np.random.default_rng(1).normal(size=(4, 5, 3)).astype(np.float32)
    got = dream_net.blobs(x, ["c", "r"])
    expected = np.maximum(got["c"], 0) - 0.5 * np.minimum(got["c"], 0)
    np.testing.assert_array_equal(got["r"], expected)


@pytest.mark.parametrize("channels", [1, 4])
def test_non_colour_input_is_named(tmp_path, channels):
    net = _with_weights(
        _net(
            INPUT + 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
            "convolution_param { num_output: 2 kernel_size: 1 } }"
        )
    )
    w = np.ones((2, channels, 1, 1), np.float32)
    del net.layer[1].blobs[0].shape.dim[:]
    net.layer[1].blobs[0].shape.dim.extend(w.shape)
    del net.layer[1].blobs[0].data[:]
    net.layer[1].blobs[0].data.extend(w.ravel().tolist())
    path = tmp_path / "m.caffemodel"
    path.write_bytes(net.SerializeToString())
    with pytest.raises(DeepDreamError, match=f"{channels} channel"):
        convert_caffemodel(path)


def test_dilated_convolution_has_an_input_gradient(tmp_path):
    net = _with_weights(
        _net(
            INPUT + 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
            "convolution_param { num_output: 2 kernel_size: 3 dilation: 2 pad: 1 } }"
        )
    )
    path = tmp_path / "m.caffemodel"
    path.write_bytes(net.SerializeToString())
    dream_net = convert_caffemodel(path)
    x = tf.constant(np.random.default_rng(2).normal(size=(1, 9, 11, 3)), tf.float32)
    kernel = dream_net.keras_model.get_layer("c").kernel
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = dream_net.keras_model(x)
        loss = tf.reduce_sum(y**2) / 2
    gradient = tape.gradient(loss, x).numpy()
    # Reference: the same dilated convolution as a NumPy sum, and its exact gradient.
    w = kernel.numpy().astype(np.float64)  # (3, 3, 3, 2)
    padded = np.pad(x.numpy()[0].astype(np.float64), [(1, 1), (1, 1), (0, 0)])
    out_h, out_w = 9 + 2 - 5 + 1, 11 + 2 - 5 + 1
    ref = np.zeros((out_h, out_w, 2))
    for i in range(3):
        for j in range(3):
            ref += padded[2 * i : 2 * i + out_h, 2 * j : 2 * j + out_w] @ w[i, j]
    bias = dream_net.keras_model.get_layer("c").bias.numpy()
    ref += bias
    np.testing.assert_allclose(y.numpy()[0], ref, rtol=1e-5, atol=1e-4)
    grad_padded = np.zeros_like(padded)
    for i in range(3):
        for j in range(3):
            grad_padded[2 * i : 2 * i + out_h, 2 * j : 2 * j + out_w] += ref @ w[i, j].T
    np.testing.assert_allclose(gradient[0], grad_padded[1:-1, 1:-1], rtol=1e-4, atol=1e-3)
