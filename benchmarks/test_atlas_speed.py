"""pytest-benchmark (``make bench-atlas``): seconds per channel of the atlas renderer (default
settings) on ``inception_3b/output``, the issue's target being <= 1.5 s per channel on 2 cores.

One round renders one whole group (``batch`` channels, each batch element ascending its own
channel); seconds per channel = round time / batch, stored in ``extra_info`` with the CPU
seconds per channel (all threads): on a shared machine the wall time grows with the load,
the CPU time much less, and CPU time / cores bounds the unloaded wall time from below.
The batch is the default's (:class:`tf_impl.atlas.render_settings.RenderSettings`);
``BENCH_ATLAS_BATCHES=1,4,8,16`` adds the sweep that chose it.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import replace

import pytest

from tf_impl.atlas.render import ChannelRenderer
from tf_impl.atlas.render_settings import RenderSettings
from tf_impl.models.loading import load_net

BLOB = "inception_3b/output"
SWEEP = [int(b) for b in os.environ.get("BENCH_ATLAS_BATCHES", "").split(",") if b]


@pytest.fixture(scope="module")
def net():
    """The synthetic GoogLeNet (speed does not depend on the weights)."""

    return load_net("synthetic")


@pytest.fixture(scope="module")
def rounds() -> int:
    """Timed rounds: ``BENCH_ROUNDS`` (default 3)."""
    return int(os.environ.get("BENCH_ROUNDS", "3"))


def _seconds_per_channel(benchmark, net, settings: RenderSettings, rounds: int) -> None:
    renderer = ChannelRenderer(net, settings, BLOB)
    renderer.render_group(0)  # trace and warm up
    groups = itertools.count(1)
    cpu_start = time.process_time()
    pictures = benchmark.pedantic(lambda: renderer.render_group(next(groups)), rounds=rounds)
    cpu = (time.process_time() - cpu_start) / (rounds * settings.batch)
    assert len(pictures) == settings.batch
    per_channel = benchmark.stats.stats.mean / settings.batch
    benchmark.extra_info.update(
        batch=settings.batch, seconds_per_channel=per_channel, cpu_seconds_per_channel=cpu
    )
    print(
        f"\n{BLOB}, batch {settings.batch}: {per_channel:.3f} s per channel "
        f"({cpu:.3f} CPU s per channel, load average {os.getloadavg()[0]:.1f})"
    )


def test_atlas_seconds_per_channel(benchmark, net, rounds):
    _seconds_per_channel(benchmark, net, RenderSettings(), rounds)


@pytest.mark.skipif(not SWEEP, reason="set BENCH_ATLAS_BATCHES=1,4,8,16 for the batch sweep")
@pytest.mark.parametrize("batch", SWEEP or [0])
def test_atlas_batch_sweep(benchmark, net, rounds, batch):
    _seconds_per_channel(benchmark, net, replace(RenderSettings(), batch=batch), rounds)
