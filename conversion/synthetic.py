"""Seeded synthetic GoogLeNet weights, written as real ``.caffemodel`` files (V1 or V2).

The real ``bvlc_googlenet.caffemodel`` cannot be downloaded everywhere, so parity with Caffe
is established on these: He-scaled Gaussian weights (std sqrt(2 / fan_in)) keep activations
at a steady scale through the ReLUs, so pixel-scale (0-255) inputs exercise LRN as real
weights do. V1 files mimic the 2014 file: a train_val net (a DATA layer with 'data' and
'label' tops, a SOFTMAX_LOSS and a TEST-phase ACCURACY) with legacy 4-D blobs; V2 files hold
the deploy net with ``BlobShape`` blobs. Both hold Caffe's Split layers wherever a blob feeds
several layers, as every file Caffe saves does (see :mod:`conversion.splits`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conversion import caffe_schema_pb2 as pb
from conversion.caffe_files import LayerSpec
from conversion.googlenet import googlenet_deploy, googlenet_deploy_prototxt
from conversion.layer_params import caffe_conv_size, caffe_pooled_size, conv_geometry, pool_geometry
from conversion.outputs import atomic_output
from conversion.splits import insert_splits

SYNTHETIC_NET_NAME = "synthetic GoogLeNet"
"""How the Caffe net name of a ``deepdream synthetic-model`` file begins: a model converted
from it keeps the name (metadata ``net_name``), so what it makes is labelled as synthetic."""

_V1_TYPES = {
    "Convolution": "CONVOLUTION",
    "ReLU": "RELU",
    "Pooling": "POOLING",
    "LRN": "LRN",
    "Concat": "CONCAT",
    "InnerProduct": "INNER_PRODUCT",
    "Dropout": "DROPOUT",
    "Softmax": "SOFTMAX",
}
_PARAM_FIELDS = {
    "Convolution": "convolution_param",
    "Pooling": "pooling_param",
    "LRN": "lrn_param",
    "Concat": "concat_param",
    "InnerProduct": "inner_product_param",
    "Dropout": "dropout_param",
    "ReLU": "relu_param",
    "Softmax": "softmax_param",
}


def _sized(rule, size: int | None, *geometry):
    """``rule(size, *geometry)``, or None for an unknown (None) length."""
    return None if size is None else rule(size, *geometry)


def synthetic_weights(
    net: pb.NetParameter, seed: int = 0, input_hw: tuple[int, int] | None = None
) -> dict[str, list[np.ndarray]]:
    """He-scaled Gaussian weights (float32, Caffe layout) for every Convolution and
    InnerProduct layer of a V2 deploy ``net`` with a 3-channel input; biases N(0, 1).
    BatchNorm: its three blobs (running sums of a N(0, 1) mean and a U(0.25, 4) variance
    times a U(1, 1000) moving-average factor, which Caffe divides out); Scale: N(1, 0.25)
    scales and N(0, 1) biases; Bias: N(0, 1); per channel, or scalars for ``num_axes: 0``.

    Handles non-square kernels, groups and layers without bias. An InnerProduct reads all of
    C*H*W: its input's height and width follow from ``input_hw`` (the one input size such a
    net accepts); without it they are taken as 1x1 (GoogLeNet's classifier after pool5).
    """
    rng = np.random.default_rng(seed)
    h0, w0 = input_hw if input_hw is not None else (None, None)
    shapes = {"data": (3, h0, w0)}
    weights = {}
    for layer in net.layer:
        if layer.type == "Input":
            continue
        c_in, h, w = shapes[layer.bottom[0]]
        out = (c_in, h, w)
        spec = LayerSpec(layer.name, layer.type, tuple(layer.bottom), tuple(layer.top), layer)
        if layer.type == "Convolution":
            p = layer.convolution_param
            g = conv_geometry(spec)
            (kh, kw), (sh, sw), (ph, pw), (dh, dw) = g.kernel, g.stride, g.pad, g.dilation
            fan_in = c_in // p.group * kh * kw
            shape = (p.num_output, c_in // p.group, kh, kw)
            arrays = [(rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)]
            if p.bias_term:
                arrays.append(rng.standard_normal(p.num_output).astype(np.float32))
            weights[layer.name] = arrays
            out = (p.num_output, _sized(caffe_conv_size, h, kh, sh, ph, dh))
            out = (*out, _sized(caffe_conv_size, w, kw, sw, pw, dw))
        elif layer.type == "Pooling":
            g = pool_geometry(spec)
            if g.global_pooling:
                out = (c_in, 1, 1)
            else:
                (kh, kw), (sh, sw), (ph, pw) = g.kernel, g.stride, g.pad
                ceil, padded = g.ceil_mode, bool(ph or pw)
                out = (
                    c_in,
                    _sized(caffe_pooled_size, h, kh, sh, ph, ceil, padded),
                    _sized(caffe_pooled_size, w, kw, sw, pw, ceil, padded),
                )
        elif layer.type == "Concat":
            out = (sum(shapes[b][0] for b in layer.bottom), h, w)
        elif layer.type == "InnerProduct":
            p = layer.inner_product_param
            features = c_in * (h or 1) * (w or 1)
            arrays = [
                (rng.standard_normal((p.num_output, features)) * np.sqrt(2.0 / features)).astype(
                    np.float32
                )
            ]
            if p.bias_term:
                arrays.append(rng.standard_normal(p.num_output).astype(np.float32))
            weights[layer.name] = arrays
            out = (p.num_output, 1, 1)
        elif layer.type == "BatchNorm":
            # Running sums as Caffe stores them: statistics times the moving-average factor.
            factor = np.float32(rng.uniform(1.0, 1000.0))
            mean = rng.standard_normal(c_in) * factor
            variance = rng.uniform(0.25, 4.0, c_in) * factor
            weights[layer.name] = [
                mean.astype(np.float32),
                variance.astype(np.float32),
                np.array([factor], np.float32),
            ]
        elif layer.type in ("Scale", "Bias"):
            p = layer.scale_param if layer.type == "Scale" else layer.bias_param
            shape = () if p.num_axes == 0 else (c_in,)
            arrays = [(1 + 0.5 * rng.standard_normal(shape)).astype(np.float32)]
            if layer.type == "Bias":
                arrays = [rng.standard_normal(shape).astype(np.float32)]
            elif p.bias_term:
                arrays.append(rng.standard_normal(shape).astype(np.float32))
            weights[layer.name] = arrays
        for top in layer.top:
            shapes[top] = out
    return weights


def _fill_blob(blob: pb.BlobProto, array: np.ndarray, legacy_shape: tuple[int, ...] | None):
    if legacy_shape is None:
        blob.shape.dim.extend(array.shape)
    else:
        blob.num, blob.channels, blob.height, blob.width = legacy_shape
    blob.data.extend(array.ravel().tolist())


def _legacy_shape(array: np.ndarray) -> tuple[int, int, int, int]:
    """V1's 4-D shape: a bias (N,) as 1x1x1xN, an InnerProduct weight (M,N) as 1x1xMxN."""
    return tuple([1] * (4 - array.ndim) + list(array.shape))


def synthetic_googlenet(
    seed: int = 0, version: str = "V1", num_classes: int = 1000
) -> pb.NetParameter:
    """A GoogLeNet NetParameter with seeded weights, in V1 (train_val) or V2 (deploy) form,
    with Split layers where Caffe puts them when it saves a net."""
    deploy = googlenet_deploy(num_classes)
    weights = synthetic_weights(deploy, seed)
    if version == "V2":
        for layer in deploy.layer:
            for array in weights.get(layer.name, []):
                _fill_blob(layer.blobs.add(), array, None)
        return insert_splits(deploy)
    if version != "V1":
        raise ValueError(f"version must be 'V1' or 'V2', got {version!r}")
    net = pb.NetParameter(name=deploy.name)
    data = net.layers.add(name="data", type=pb.V1LayerParameter.DATA)
    data.top.extend(["data", "label"])
    for layer in deploy.layer:
        if layer.type in ("Input", "Softmax"):
            continue
        v1 = net.layers.add(name=layer.name)
        v1.type = pb.V1LayerParameter.LayerType.Value(_V1_TYPES[layer.type])
        v1.bottom.extend(layer.bottom)
        v1.top.extend(layer.top)
        field = _PARAM_FIELDS[layer.type]
        if layer.HasField(field):
            getattr(v1, field).CopyFrom(getattr(layer, field))
        for array in weights.get(layer.name, []):
            _fill_blob(v1.blobs.add(), array, _legacy_shape(array))
    loss = net.layers.add(name="loss3/loss3", type=pb.V1LayerParameter.SOFTMAX_LOSS)
    loss.bottom.extend(["loss3/classifier", "label"])
    loss.top.append("loss3/loss3")
    accuracy = net.layers.add(name="loss3/top-1", type=pb.V1LayerParameter.ACCURACY)
    accuracy.bottom.extend(["loss3/classifier", "label"])
    accuracy.top.append("loss3/top-1")
    accuracy.include.add(phase=pb.TEST)
    return insert_splits(net)


def write_synthetic_caffemodel(
    path: str | Path, seed: int = 0, version: str = "V1", num_classes: int = 1000
) -> Path:
    """Write :func:`synthetic_googlenet` as a binary ``.caffemodel`` (atomically); return path."""
    path = Path(path)
    data = synthetic_googlenet(seed, version, num_classes).SerializeToString()
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return path


def write_synthetic_model(
    directory: str | Path, seed: int = 0, version: str = "V1", stem: str = "synthetic"
) -> tuple[Path, Path]:
    """(caffemodel, prototxt): :func:`write_synthetic_caffemodel` as ``<stem>.caffemodel`` and
    the GoogLeNet deploy prototxt as ``deploy.prototxt``, both in ``directory``: the model that
    the tests, the reference data and the benchmarks share (Caffe loads the same two files)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    prototxt = directory / "deploy.prototxt"
    prototxt.write_text(googlenet_deploy_prototxt())
    caffemodel = write_synthetic_caffemodel(directory / f"{stem}.caffemodel", seed, version)
    return caffemodel, prototxt
