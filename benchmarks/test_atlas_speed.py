"""pytest-benchmark (``make bench-atlas``): seconds per channel of both atlas renderers (their
default settings) on ``inception_3b/output``, the notebook's target being <= 1.5 s per channel
on 2 cores (issue 11); the lucid renderer has no target: it is measured (issue 20).

One round renders one whole group (``batch`` channels, each batch element ascending its own
channel); seconds per channel = round time / batch, stored in ``extra_info`` with the CPU
seconds per channel (all threads): on a shared machine the wall time grows with the load,
the CPU time much less, and CPU time / cores bounds the unloaded wall time from below.
The rounds' groups are spread over the blob (a round per group, evenly spaced), so that each
inception branch the renderers run alone (:mod:`tf_impl.net.channel_source`) is timed as an
atlas of the whole blob would meet it; every group is rendered once untimed first (tracing).
``whole`` rows run the whole blob for every group: the renderers' speed before branches.
The batch is the default's (:class:`tf_impl.atlas.render_settings.RenderSettings`,
:class:`~tf_impl.atlas.render_settings.LucidSettings`); ``BENCH_ATLAS_BATCHES=1,4,8,16`` adds
the sweep that chose it, for both renderers.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import replace

import pytest

from tf_impl.atlas.atlas_dir import make_renderer
from tf_impl.atlas.render_settings import LucidSettings, RenderSettings, Settings
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


def _render_group(renderer, group: int) -> dict:
    batch = renderer.settings.batch
    return renderer.pictures(list(range(group * batch, (group + 1) * batch)))


def _spread_groups(net, batch: int, rounds: int) -> list[int]:
    """``rounds`` group indices evenly spaced over BLOB's whole groups."""
    count = net.channels(BLOB) // batch
    return [round(i * (count - 1) / max(rounds - 1, 1)) for i in range(rounds)]


def _seconds_per_channel(
    benchmark, net, settings: Settings, rounds: int, whole_blob: bool = False
) -> None:
    renderer = make_renderer(net, settings, BLOB, whole_blob)
    spread = _spread_groups(net, settings.batch, rounds)
    for group in spread:  # trace and warm up
        _render_group(renderer, group)
    groups = itertools.cycle(spread)
    cpu_start = time.process_time()
    pictures = benchmark.pedantic(lambda: _render_group(renderer, next(groups)), rounds=rounds)
    cpu = (time.process_time() - cpu_start) / (rounds * settings.batch)
    assert len(pictures) == settings.batch
    per_channel = benchmark.stats.stats.mean / settings.batch
    benchmark.extra_info.update(
        batch=settings.batch,
        whole_blob=renderer.whole_blob,
        seconds_per_channel=per_channel,
        cpu_seconds_per_channel=cpu,
    )
    print(
        f"\n{type(settings).__name__}, {BLOB}{' (whole blob)' if renderer.whole_blob else ''}, "
        f"batch {settings.batch}, groups {spread}: "
        f"{per_channel:.3f} s per channel "
        f"({cpu:.3f} CPU s per channel, load average {os.getloadavg()[0]:.1f})"
    )


RENDERERS = [RenderSettings, LucidSettings]


@pytest.mark.parametrize("whole_blob", [False, True], ids=["branches", "whole"])
@pytest.mark.parametrize("kind", RENDERERS, ids=["notebook", "lucid"])
def test_atlas_seconds_per_channel(benchmark, net, rounds, kind, whole_blob):
    _seconds_per_channel(benchmark, net, kind(), rounds, whole_blob)


@pytest.mark.skipif(not SWEEP, reason="set BENCH_ATLAS_BATCHES=1,4,8,16 for the batch sweep")
@pytest.mark.parametrize("kind", RENDERERS, ids=["notebook", "lucid"])
@pytest.mark.parametrize("batch", SWEEP or [0])
def test_atlas_batch_sweep(benchmark, net, rounds, batch, kind):
    _seconds_per_channel(benchmark, net, replace(kind(), batch=batch), rounds)
