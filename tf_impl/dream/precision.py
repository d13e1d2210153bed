"""The precision a dream's network computes in: float32 (Caffe's, the default) or bfloat16.

bfloat16 keeps float32's 8-bit exponent and has 8 significant bits (machine epsilon 2^-8,
about 2.4 decimal digits). A bfloat16 net (:func:`bfloat16_net`) runs every layer in
bfloat16: its weights are rounded to bfloat16 once, and convolutions, pooling, ReLU, LRN and
concatenation take and give bfloat16 tensors, so no casts happen between layers (oneDNN runs
the convolutions on AMX-BF16 / AVX512-BF16, accumulating in float32). The dream keeps the
image, the objective's reduction and the step's normalisation (mean |g|, the update, the
clip) in float32: :func:`tf_impl.net.network.run_model` casts at the network's input and outputs.

Only CPUs with bfloat16 instructions (:func:`tf_impl.host.cpu_features.cpu_has_bfloat16`) gain:
elsewhere TensorFlow emulates bfloat16 and is slower than float32.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from conversion.errors import DeepDreamError
from tf_impl.dream.settings import PRECISIONS
from tf_impl.host.cpu_features import cpu_has_bfloat16
from tf_impl.net.network import DreamNet


def net_in_dtype(net: DreamNet, dtype: str) -> DreamNet:
    """A copy of ``net`` whose every layer computes and stores its weights in ``dtype``
    ('bfloat16', 'float64'), input layer included; same preprocessing, metadata plus
    ``precision``. Its blobs are in ``dtype``; read them through
    :func:`tf_impl.net.network.run_model` (as :class:`~tf_impl.dream.deepdream.Dreamer` and
    :meth:`DreamNet.blobs` do) to get float32."""

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        return layer.__class__.from_config({**layer.get_config(), "dtype": dtype})

    source = net.keras_model.inputs[0]
    inputs = keras.Input(batch_shape=source.shape, dtype=dtype, name=source.name)
    return net.cloned(clone, inputs, precision=dtype)  # weights cast here, once


def bfloat16_net(net: DreamNet) -> DreamNet:
    """:func:`net_in_dtype` of ``net`` (float32) in bfloat16: the ``--precision bfloat16`` net."""
    return net_in_dtype(net, "bfloat16")


def with_precision(net: DreamNet, precision: str) -> DreamNet:
    """``net`` computing in ``precision`` (one of :data:`PRECISIONS`): itself for float32,
    :func:`bfloat16_net` of it for bfloat16. DeepDreamError for other names."""
    if precision not in PRECISIONS:
        raise DeepDreamError(
            f"precision must be one of {', '.join(PRECISIONS)} (got {precision!r})"
        )
    return net if precision == PRECISIONS[0] else bfloat16_net(net)


def slow_precision_note(precision: str) -> str | None:
    """A one-line note when ``precision`` will run slower than float32 here: bfloat16 on a
    CPU without bfloat16 instructions and no GPU for TensorFlow. None otherwise."""
    if precision != "bfloat16" or cpu_has_bfloat16() or tf.config.list_physical_devices("GPU"):
        return None
    return (
        "note: this CPU has no bfloat16 instructions (AVX512-BF16 or AMX-BF16), so "
        "--precision bfloat16 is emulated and slower than float32 here"
    )
