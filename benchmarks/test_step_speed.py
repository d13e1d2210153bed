"""pytest-benchmark: one forward + backward step to inception_4c/output, TF and Caffe, and
the machine's matmul ceiling. ``extra_info`` carries the step's GFLOP, so GFLOP/s = gflop /
the reported time (seconds)."""

from __future__ import annotations

import pytest

from benchmarks.flops import step_gflop
from benchmarks.tf_workloads import BARE_MODES, bare_gradient, dream_step, matmul_gflops
from tf_impl.dream import DEFAULT_END


@pytest.mark.parametrize("mode", BARE_MODES)
def test_bare_step(benchmark, net, image, size, rounds, mode):
    gradient = bare_gradient(net.submodel([DEFAULT_END]), mode)
    benchmark.extra_info["gflop"] = step_gflop(net, DEFAULT_END, *size)
    result = benchmark.pedantic(lambda: gradient(image).numpy(), rounds=rounds, warmup_rounds=1)
    assert result.shape == (*size, 3)


def test_dream_step(benchmark, net, image, size, rounds):
    step = dream_step(net)
    benchmark.extra_info["gflop"] = step_gflop(net, DEFAULT_END, *size)
    result = benchmark.pedantic(lambda: step(image).numpy(), rounds=rounds, warmup_rounds=1)
    assert result.shape == (*size, 3)


def test_caffe_step(benchmark, caffe, size, rounds, net):
    benchmark.extra_info["gflop"] = step_gflop(net, DEFAULT_END, *size)
    h, w = size
    caffe.request("step", h=h, w=w, end=DEFAULT_END, reps=1)  # warm-up: allocation
    benchmark.pedantic(
        lambda: caffe.request("step", h=h, w=w, end=DEFAULT_END, reps=1), rounds=rounds
    )


def test_matmul_ceiling(benchmark):
    """The 2048^3 float32 matmul rate (GFLOP/s in extra_info) the steps are compared with."""
    rate = benchmark.pedantic(lambda: matmul_gflops(2048, reps=3), rounds=1)
    benchmark.extra_info["gflops"] = rate["gflops"]
    assert rate["gflops"] > 0
