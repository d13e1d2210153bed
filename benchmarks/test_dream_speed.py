"""pytest-benchmark: a small full dream (2 octaves x 2 steps), and the no-retrace check."""

from __future__ import annotations

from benchmarks.model import dream_image
from tf_impl.dream import DEFAULT_END, deepdream, dreamer_for
from tf_impl.objectives import L2


def test_small_dream(benchmark, net, rounds):
    image, _ = dream_image(150, 266)
    deepdream(net, image, octave_n=2, iter_n=1, seed=0)  # warm-up: trace
    result = benchmark.pedantic(
        lambda: deepdream(net, image, octave_n=2, iter_n=2, seed=0), rounds=rounds
    )
    assert result.shape == image.shape


def test_second_size_adds_no_trace(net):
    first, _ = dream_image(150, 266)
    second, _ = dream_image(170, 230)
    deepdream(net, first, octave_n=2, iter_n=1, seed=0)
    dreamer = dreamer_for(net, L2(DEFAULT_END))
    before = dreamer.trace_count
    deepdream(net, second, octave_n=2, iter_n=1, seed=0)
    assert dreamer.trace_count == before
