"""Channels of a Concat come from one of its inputs: the atlas renderers run that branch alone
(tf_impl/net/channel_source.py), and must draw exactly the pictures the whole blob gives."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tf_impl.atlas.lucid import LucidRenderer
from tf_impl.atlas.render import ChannelRenderer
from tf_impl.atlas.render_settings import LucidSettings, RenderSettings
from tf_impl.net.channel_source import ChannelSource, channel_source
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
    """Bit for bit: the other branches add exactly zero to the gradient. Channels 130-132 lie
    in the 3x3 branch (channels 128-319)."""
    channels = [130, 131, 132]
    pruned, whole = make(net, False), make(net, True)
    assert channel_source(net, MODULE, channels).blob != MODULE  # the pruned path is taken
    first, second = pruned.pictures(channels), whole.pictures(channels)
    for channel in channels:
        for suffix, picture in first[channel].items():
            np.testing.assert_array_equal(picture, second[channel][suffix])


def test_the_diversity_term_keeps_the_whole_blob(net):
    diverse = replace(LucidSettings(), size=40, steps=3, pad=4, jitter=2, batch=3, diversity=2)
    assert LucidRenderer(net, diverse, MODULE).whole_blob
