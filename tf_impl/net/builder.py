"""Build a Keras (TensorFlow) model from a neutral :class:`~conversion.caffe_files.NetSpec`.

The model takes one NHWC float32 input of any height and width (BGR, mean-subtracted, 0-255
scale, as Caffe's GoogLeNet expects) and has one Keras layer per Caffe layer, named after it
(see :mod:`tf_impl.net.naming`). Caffe's in-place layers (a ReLU whose top is its bottom) become
their
own Keras layers, so both values stay reachable: the convolution's name gives the pre-ReLU
blob and the ReLU layer's name the post-ReLU blob, exactly as ``net.forward(end=NAME)`` leaves
``net.blobs`` in pycaffe.
"""

from __future__ import annotations

import keras
import numpy as np

from conversion import caffe_schema_pb2 as pb
from conversion.caffe_files import LayerSpec, NetSpec
from conversion.errors import DeepDreamError
from conversion.layer_params import (
    LAYER_TYPES,
    batch_norm_stats,
    bias_weights,
    check_concat_channels,
    conv_geometry,
    eltwise_op,
    fit_blob,
    inner_product_weights,
    pool_geometry,
    power_op,
    scale_weights,
)
from tf_impl.net import layers as caffe_layers
from tf_impl.net.naming import keras_name

SUPPORTED = LAYER_TYPES


def _convolution(layer: LayerSpec, in_channels: int):
    p = layer.param.convolution_param
    geometry = conv_geometry(layer)
    kernel = geometry.kernel
    if in_channels % p.group or p.num_output % p.group:
        raise DeepDreamError(f"layer '{layer.name}': group {p.group} does not divide the channels")
    keras_layer = caffe_layers.CaffeConvolution(
        filters=p.num_output,
        kernel_size=kernel,
        strides=geometry.stride,
        padding=geometry.pad,
        dilation=geometry.dilation,
        groups=p.group,
        use_bias=p.bias_term,
        name=keras_name(layer.name),
    )
    w = fit_blob(layer, 0, (p.num_output, in_channels // p.group, *kernel), "weight")
    weights = [np.transpose(w, (2, 3, 1, 0))]  # Caffe OIHW -> TF HWIO
    if p.bias_term:
        weights.append(fit_blob(layer, 1, (p.num_output,), "bias"))
    return keras_layer, weights


def _pooling(layer: LayerSpec):
    geometry = pool_geometry(layer)
    return caffe_layers.CaffePooling(
        method=geometry.method,
        kernel_size=geometry.kernel,
        strides=geometry.stride,
        padding=geometry.pad,
        global_pooling=geometry.global_pooling,
        ceil_mode=geometry.ceil_mode,
        name=keras_name(layer.name),
    )


def _lrn(layer: LayerSpec):
    p = layer.param.lrn_param
    if p.norm_region != pb.LRNParameter.ACROSS_CHANNELS:
        raise DeepDreamError(
            f"layer '{layer.name}': LRN WITHIN_CHANNEL is not supported (only ACROSS_CHANNELS)"
        )
    return caffe_layers.CaffeLRN(
        local_size=p.local_size, alpha=p.alpha, beta=p.beta, k=p.k, name=keras_name(layer.name)
    )


def _inner_product(layer: LayerSpec):
    weight, bias = inner_product_weights(layer)
    units, features = weight.shape
    weights = [weight.T] if bias is None else [weight.T, bias]
    keras_layer = caffe_layers.CaffeInnerProduct(
        units=units, features=features, use_bias=bias is not None, name=keras_name(layer.name)
    )
    return keras_layer, weights


def _concat_axis(layer: LayerSpec) -> int:
    check_concat_channels(layer)
    return -1


def _relu(layer: LayerSpec):
    """Caffe ReLU: max(x, 0) + negative_slope * min(x, 0), any slope (negative too). In place
    with a negative slope, Caffe's backward differs from the derivative (CaffeLeakyReLU)."""
    slope = float(layer.param.relu_param.negative_slope)
    if slope >= 0:
        return keras.layers.ReLU(negative_slope=slope, name=keras_name(layer.name))
    in_place = layer.tops[0] in layer.bottoms
    return caffe_layers.CaffeLeakyReLU(slope, in_place=in_place, name=keras_name(layer.name))


def _batch_norm(layer: LayerSpec, channels: int):
    stats = batch_norm_stats(layer, channels)
    keras_layer = caffe_layers.CaffeBatchNorm(eps=stats.eps, name=keras_name(layer.name))
    return keras_layer, [stats.mean, stats.variance, stats.factor]


def _scale(layer: LayerSpec, channels: int, rank: int):
    scale, bias = scale_weights(layer, channels, rank)
    keras_layer = caffe_layers.CaffeScale(
        channels=channels if scale.ndim else None,
        use_bias=bias is not None,
        name=keras_name(layer.name),
    )
    return keras_layer, [scale] if bias is None else [scale, bias]


def _bias(layer: LayerSpec, channels: int, rank: int):
    bias = bias_weights(layer, channels, rank)
    keras_layer = caffe_layers.CaffeBias(
        channels=channels if bias.ndim else None, name=keras_name(layer.name)
    )
    return keras_layer, [bias]


def _eltwise(layer: LayerSpec, bottoms: list):
    op = eltwise_op(layer)
    channels = [int(b.shape[-1]) for b in bottoms]
    ranks = [len(b.shape) for b in bottoms]
    if len(set(channels)) > 1 or len(set(ranks)) > 1:
        shapes = " and ".join(
            "x".join("?" if d is None else str(d) for d in b.shape[1:]) for b in bottoms
        )
        raise DeepDreamError(
            f"layer '{layer.name}' (Eltwise {op.operation}) combines blobs of shapes {shapes} "
            "(h x w x channels); Caffe needs one shape: fix the prototxt"
        )
    return caffe_layers.CaffeEltwise(
        op.operation, op.coeffs, op.stable_prod_grad, name=keras_name(layer.name)
    )


def _power(layer: LayerSpec):
    op = power_op(layer)
    return caffe_layers.CaffePower(op.power, op.scale, op.shift, name=keras_name(layer.name))


def _check_input_channels(layer: LayerSpec, channels: int) -> None:
    """The first layer must read a 3-channel (BGR) image; say so when the weights disagree."""
    if layer.type != "Convolution" or not layer.blobs:
        return
    weight = layer.blobs[0]
    group = max(layer.param.convolution_param.group, 1)
    expected = weight.shape[-3] * group if weight.ndim >= 3 else channels
    if expected != channels:
        raise DeepDreamError(
            f"layer '{layer.name}' reads the input image with {expected} channel(s); only "
            "3-channel (BGR colour) networks can be converted and dreamed"
        )


def build_keras_model(spec: NetSpec, dtype: str = "float32") -> keras.Model:
    """A Keras functional model computing every Caffe layer of ``spec``.

    Input: (N, H, W, 3) ``dtype``, BGR, mean-subtracted 0-255 pixels, any H and W. ``dtype``
    "float64" builds the same network in double precision (the weights are the file's
    float32 values, exactly): the ground truth the parity tests judge float32 results by.
    Outputs: every blob no other layer reads (the last layer's first), so that every layer
    stays in the model and addressable; use :func:`tf_impl.net.network.DreamNet.submodel` for
    others. A Split layer (Caffe's fan-out of a blob to several readers) becomes one identity
    layer named after it; all its tops are that value. Raises DeepDreamError naming the layer
    for unsupported types or mismatched weights.
    """
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)
    try:
        return _build(spec, dtype)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _build(spec: NetSpec, dtype: str) -> keras.Model:
    inputs = keras.Input(shape=(None, None, 3), dtype=dtype, name=keras_name(spec.input_blob))
    blobs = {spec.input_blob: inputs}
    pending_weights = []
    produced, read = [], set()  # every layer output; ids of the outputs some layer reads
    for layer in spec.layers:
        missing = [b for b in layer.bottoms if b not in blobs]
        if missing:
            raise DeepDreamError(
                f"layer '{layer.name}' reads blob '{missing[0]}', which no earlier layer makes"
            )
        if len(layer.tops) != 1 and layer.type != "Split":
            raise DeepDreamError(
                f"layer '{layer.name}' ({layer.type}) has {len(layer.tops)} tops; "
                "only single-output layers are supported"
            )
        if spec.input_blob in layer.bottoms:
            _check_input_channels(layer, 3)
        read.update(id(blobs[b]) for b in layer.bottoms)
        bottom = blobs[layer.bottoms[0]] if layer.bottoms else None
        weights = []
        name = keras_name(layer.name)
        if layer.type == "Convolution":
            keras_layer, weights = _convolution(layer, int(bottom.shape[-1]))
        elif layer.type == "ReLU":
            keras_layer = _relu(layer)
        elif layer.type == "Pooling":
            keras_layer = _pooling(layer)
        elif layer.type == "LRN":
            keras_layer = _lrn(layer)
        elif layer.type == "Concat":
            keras_layer = keras.layers.Concatenate(axis=_concat_axis(layer), name=name)
        elif layer.type == "InnerProduct":
            keras_layer, weights = _inner_product(layer)
        elif layer.type in ("Dropout", "Split"):
            keras_layer = caffe_layers.CaffeIdentity(name=name)
        elif layer.type == "Softmax":
            if layer.param.softmax_param.axis != 1:
                raise DeepDreamError(f"layer '{layer.name}': Softmax axis must be 1 (channels)")
            keras_layer = caffe_layers.CaffeSoftmax(name=name)
        elif layer.type == "BatchNorm":
            keras_layer, weights = _batch_norm(layer, int(bottom.shape[-1]))
        elif layer.type == "Scale":
            keras_layer, weights = _scale(layer, int(bottom.shape[-1]), len(bottom.shape))
        elif layer.type == "Bias":
            keras_layer, weights = _bias(layer, int(bottom.shape[-1]), len(bottom.shape))
        elif layer.type == "Eltwise":
            keras_layer = _eltwise(layer, [blobs[b] for b in layer.bottoms])
        elif layer.type == "Power":
            keras_layer = _power(layer)
        else:
            raise DeepDreamError(
                f"layer '{layer.name}' has type '{layer.type}', which the converter does not "
                f"support (supported: {', '.join(SUPPORTED)})"
            )
        merges = layer.type in ("Concat", "Eltwise")
        args = [blobs[b] for b in layer.bottoms] if merges else bottom
        output = keras_layer(args)
        if weights:
            pending_weights.append((keras_layer, weights))
        for top in layer.tops:
            blobs[top] = output
        produced.append(output)
    # Layer outputs no layer reads (an in-place ReLU reads its convolution's), last first.
    outputs = [t for t in reversed(produced) if id(t) not in read] or [inputs]
    model = keras.Model(inputs, outputs, name=keras_name(spec.name or "caffe_net"))
    for keras_layer, weights in pending_weights:
        keras_layer.set_weights(weights)
    return model
