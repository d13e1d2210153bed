"""Where some channels of a blob are computed: the Concat input (an inception module's branch)
that holds them, so that an objective on those channels alone runs only that branch.

A Concat along channels copies each input into a range of its output's channels, so channels
``a .. b`` of ``inception_3b/output`` that all come from one input, say
``inception_3b/relu_3x3`` (channels 128 .. 319), are that input's channels ``a - 128 .. b - 128``,
and their gradient flows back through that branch only: the other branches' forward and
backward passes give nothing an objective on those channels reads (their gradient is exactly
zero, and adding zero is exact). Running the branch alone gives the same values, and saves
the other branches' convolutions (at ``inception_3b/output`` a step is ~1.4x faster; a
channel's atlas picture is unchanged).

The same holds one layer further down: each output channel of a convolution is its own sum, so
a few channels of a branch's last convolution (and the ReLU after it) need only those columns
of its kernel (:func:`channel_reader`; a batch of 8 channels of the 192 of
``inception_3b/relu_3x3`` skips 184/192 of that layer's work).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import keras
import tensorflow as tf

from tf_impl.net.layers import CaffeConvolution, CaffeLeakyReLU
from tf_impl.net.network import DreamNet, input_blobs


class ChannelSource(NamedTuple):
    """Channels ``c`` of the asked-for blob are channels ``c - offset`` of ``blob``."""

    blob: str
    offset: int


def channel_source(net: DreamNet, blob: str, channels: Sequence[int]) -> ChannelSource:
    """The smallest blob that computes ``channels`` (indices into ``blob``'s last axis) of
    ``blob``: descending through channel Concats while one input holds all of them; ``blob``
    itself (offset 0) when it is no Concat or the channels span several inputs. Raises
    DeepDreamError for an unknown blob."""
    source = ChannelSource(blob, 0)
    low, high = min(channels), max(channels)
    while _is_channel_concat(layer := net.layer(source.blob)):
        start = source.offset
        for bottom in input_blobs(layer):
            end = start + net.channels(bottom)
            if start <= low and high < end:
                source = ChannelSource(bottom, start)
                break
            start = end
        else:
            return source
    return source


def _is_channel_concat(layer: keras.layers.Layer) -> bool:
    return isinstance(layer, keras.layers.Concatenate) and layer.axis in (-1, 3)


ChannelReader = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def channel_reader(net: DreamNet, blob: str, max_columns: int) -> ChannelReader:
    """``read(images, channels)``: the activations of ``channels`` ((K,) int32 indices into
    ``blob``'s channels, repeats allowed, K <= ``max_columns``) for (N, H, W, 3) network-input
    images, as (N, h, w, K) in the net's dtype: column k is channel ``channels[k]``.

    When ``blob`` is a convolution with one group, or a ReLU of one, with more channels than
    ``max_columns``, only the K asked-for output channels are computed, from the convolution's
    input (:meth:`~tf_impl.net.layers.CaffeConvolution.selected_outputs`); otherwise it is
    :func:`blob_reader`. The same sums either way, rounded differently: the matrix products
    group a sum by the number of output columns (measured: values 7.2e-7, input gradients
    3.8e-7 of the largest apart; an atlas picture one 8-bit level in 1 value of 4800, or none:
    tests/test_channel_source.py)."""
    layer = net.layer(blob)
    activation = layer if isinstance(layer, keras.layers.ReLU | CaffeLeakyReLU) else None
    convolution = net.layer(input_blobs(layer)[0]) if activation is not None else layer
    if not (
        isinstance(convolution, CaffeConvolution)
        and convolution.groups == 1
        and max_columns < convolution.filters
    ):
        return blob_reader(net, blob)
    below = net.submodel([input_blobs(convolution)[0]])

    def read_selected(images, channels):
        outputs = convolution.selected_outputs(below(images, training=False), channels)
        return outputs if activation is None else activation(outputs)

    return read_selected


def blob_reader(net: DreamNet, blob: str) -> ChannelReader:
    """:func:`channel_reader`'s ``read`` computing the whole of ``blob`` and gathering."""
    model = net.submodel([blob])

    def read_whole(images, channels):
        return tf.gather(model(images, training=False), channels, axis=-1)

    return read_whole
