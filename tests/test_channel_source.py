"""Channels of a Concat come from one of its inputs: the atlas renderers run that branch alone
(tf_impl/net/channel_source.py), and of its last convolution only the channels asked for
(``channel_reader``), and must draw exactly the pictures the whole blob gives."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf

from tf_impl.atlas.lucid import LucidRenderer
from tf_impl.atlas.render import ChannelRenderer
from tf_impl.atlas.render_settings import LucidSettings, RenderSettings
from tf_impl.net.channel_source import (
    ChannelSource,
    blob_reader,
    channel_reader,
    channel_source,
)
from tf_impl.net.network import input_blobs

MODULE = "inception_3b/output"


def test_channels_of_one_branch_come_from_that_branch(net):
    branches = input_blobs(net.layer(MODULE))  # 1x1, 3x3, 5x5, pool projection, in order
    widths = [net.channels(b) for b in branches]
    starts = np.cumsum([0, *widths[:-1]]).tolist()
    assert sum(widths) == net.channels(MODULE)
    for branch, start, width in zip(branches, starts, widths, strict=True):
        whole_branch = list(range(start, start + width))
        assert channel_source(net, MODULE, whole_branch) == ChannelSource(branch, start)
        assert channel_source(net, MODULE, [start + width - 1]) == ChannelSource(branch, start)


def test_channels_across_branches_or_of_no_concat_stay_where_they_are(net):
    first_width = net.channels(input_blobs(net.layer(MODULE))[0])
    spanning = [first_width - 1, first_width]
    assert channel_source(net, MODULE, spanning) == ChannelSource(MODULE, 0)
    assert channel_source(net, "conv2/3x3", [5, 6]) == ChannelSource("conv2/3x3", 0)


@pytest.mark.parametrize(
    "make",
    [
        lambda net, whole: ChannelRenderer(
            net, RenderSettings(size=40, octaves=2, steps=2, batch=3), MODULE, whole
        ),
        lambda net, whole: LucidRenderer(
            net,
            replace(LucidSettings(), size=40, steps=3, pad=4, jitter=2, batch=3),
            MODULE,
            whole,
        ),
    ],
    ids=["notebook", "lucid"],
)
def test_a_branch_alone_draws_the_pictures_of_the_whole_blob(net, make):
    """Channels 130-132 lie in the 3x3 branch (channels 128-319): the renderers run that branch
    alone, and of its last convolution only those channels. The other branches add exactly zero
    (bit for bit: the next test); the sliced convolution's input gradient sums 3 output columns
    where the whole one sums 192 (zeros but for one), in another order on CPUs whose stride-1
    input gradients are a convolution with the flipped kernel (3.7e-7 of the largest value,
    measured): an 8-bit picture value on a rounding boundary may move by one level (1 value of
    4800 in the lucid case here). Tolerance: one level, in at most 0.1 % of the values."""
    channels = [130, 131, 132]
    pruned, whole = make(net, False), make(net, True)
    assert channel_source(net, MODULE, channels).blob != MODULE  # the pruned path is taken
    first, second = pruned.pictures(channels), whole.pictures(channels)
    for channel in channels:
        for suffix, picture in first[channel].items():
            difference = np.abs(picture.astype(int) - second[channel][suffix].astype(int))
            assert difference.max() <= 1 and np.mean(difference > 0) <= 1e-3


def test_a_branch_alone_gives_the_whole_blobs_gradient_bit_for_bit(net):
    """The Concat copies the branch's channels: the other branches' gradient is exactly zero and
    adding zero is exact, so the branch computed alone gives the same gradient, bit for bit."""
    images = tf.constant(np.random.default_rng(2).normal(0, 40, (3, 45, 61, 3)), tf.float32)
    branch, start = channel_source(net, MODULE, [130, 131, 132])

    def gradient(read, channels):
        with tf.GradientTape() as tape:
            tape.watch(images)
            columns = read(images, tf.constant(channels, tf.int32))
            score = tf.reduce_sum(tf.linalg.diag_part(tf.reduce_mean(columns, axis=[1, 2])))
        return tape.gradient(score, images).numpy()

    alone = gradient(blob_reader(net, branch), [130 - start, 131 - start, 132 - start])
    np.testing.assert_array_equal(alone, gradient(blob_reader(net, MODULE), [130, 131, 132]))
    assert np.abs(alone).max() > 0


def test_the_diversity_term_keeps_the_whole_blob(net):
    diverse = replace(LucidSettings(), size=40, steps=3, pad=4, jitter=2, batch=3, diversity=2)
    assert LucidRenderer(net, diverse, MODULE).whole_blob


@pytest.mark.parametrize(
    ("blob", "channels"),
    [
        ("inception_3b/relu_3x3", [5, 191, 5]),  # a ReLU of a 3x3 convolution; a repeat
        ("inception_3b/5x5", [0, 40, 95]),  # a 5x5 convolution itself (pre-ReLU)
        ("conv1/relu_7x7", [63, 1, 30]),  # stride 2, padding 3
        ("inception_4a/relu_1x1", [7, 100, 191]),  # a 1x1 convolution
    ],
)
def test_a_convolution_computing_only_the_asked_for_channels_gives_their_values(
    net, blob, channels
):
    """Forward and gradient (of each element's own column's mean, as the renderers ascend it):
    each output channel is its own sum, computed alone here. Tolerance 1e-5 of the largest
    magnitude: the matrix products may group a sum differently for K output columns than for
    all of them (float32 rounding, measured with oneDNN and under AVX2 emulation: values up to
    7.2e-7 of the largest apart, gradients 3.8e-7 where the input gradient is a flipped-kernel
    convolution, identical elsewhere)."""
    reader = channel_reader(net, blob, max_columns=len(channels))
    assert reader.__name__ == "read_selected"  # the convolution's selected outputs, not a gather
    whole = blob_reader(net, blob)
    images = tf.constant(np.random.default_rng(1).normal(0, 40, (3, 67, 83, 3)), tf.float32)
    index = tf.constant(channels, tf.int32)

    def value_and_gradient(read):
        with tf.GradientTape() as tape:
            tape.watch(images)
            columns = read(images, index)
            score = tf.reduce_sum(tf.linalg.diag_part(tf.reduce_mean(columns, axis=[1, 2])))
        return columns.numpy(), tape.gradient(score, images).numpy()

    (got, got_gradient), (want, want_gradient) = (
        value_and_gradient(reader),
        value_and_gradient(whole),
    )
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())
    np.testing.assert_allclose(
        got_gradient, want_gradient, rtol=0, atol=1e-5 * np.abs(want_gradient).max()
    )
    assert np.abs(got_gradient).max() > 0


def test_channel_reader_computes_the_whole_blob_where_slicing_would_not_pay(net):
    """As many columns as the convolution has outputs, or a blob no convolution writes."""
    assert channel_reader(net, "inception_3b/relu_5x5", max_columns=96).__name__ == "read_whole"
    assert channel_reader(net, "pool1/3x3_s2", max_columns=2).__name__ == "read_whole"
