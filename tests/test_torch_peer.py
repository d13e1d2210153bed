"""The PyTorch peer of ``make bench PEER=torch`` (benchmarks/torch_peer.py) is the project's
network and dream step: same blobs, same gradient, same step. Skipped without PyTorch, an
optional install (the ``peer`` extra)."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch is the benchmark's optional peer (make bench PEER=torch installs it)"
)

from benchmarks import torch_peer  # noqa: E402 (needs PyTorch)
from benchmarks.tf_workloads import STEP_OFFSET, dream_step  # noqa: E402
from benchmarks.workers import torch_worker  # noqa: E402
from conversion.caffe_files import build_net_spec  # noqa: E402
from conversion.errors import DeepDreamError  # noqa: E402
from conversion.layer_params import caffe_pooled_size  # noqa: E402
from reference import cases  # noqa: E402
from reference.metrics import psnr  # noqa: E402
from tests import reference_data as ref  # noqa: E402
from tf_impl.dream.deepdream import DEFAULT_END, input_gradient  # noqa: E402
from tf_impl.dream.settings import NOTEBOOK  # noqa: E402

# An odd size (no axis divides the network's total stride of 16): every ceil-mode pool keeps
# a partial last window, so a wrong pooling rule changes shapes or values.
SIZE = (97, 173)
# Both float32, summed in different orders: measured 1.4e-6 at worst (AVX-512 and AVX2), as
# ours and Caffe's against float64 (0.4-2e-6; tests/reference_data.py). A wrong LRN alpha or
# pooling rule is 1e-3 or more off.
BLOB_MAX_REL = 2e-6


@pytest.fixture(scope="module")
def spec(model_files):
    return build_net_spec(model_files["V1"])


@pytest.fixture(scope="module")
def image(net):
    return net.preprocess(cases.pixel_image(SIZE))


def _nchw(image: np.ndarray):
    return torch.from_numpy(image.copy()).permute(2, 0, 1)[None]


def test_blobs_match_ours(spec, net, image):
    names = [layer.name for layer in spec.layers]
    upto = names[: names.index(DEFAULT_END) + 1]
    peer = torch_peer.TorchCaffeNet(spec, upto)(_nchw(image))
    ours = net.blobs(image, upto)
    errors = {}
    for name in upto:
        theirs = peer[name][0].permute(1, 2, 0).numpy()
        assert theirs.shape == ours[name].shape, name
        errors[name] = ref.max_rel(theirs, ours[name])
    worst = max(errors, key=errors.get)
    assert errors[worst] <= BLOB_MAX_REL, f"{worst}: {errors[worst]:.2e} from ours"


def test_gradient_matches_ours(spec, net, image):
    """Median pixel error, not rel L2: where a unit sits within float32 rounding of a ReLU kink
    or a max-pool tie, either framework may take the other branch and move a whole patch
    (tests/float64_judge.py); the median is what rounding alone sets. Bar: the project's
    ROUNDING_MEDIAN for any correct float32 gradient (measured here 6e-7 between the two)."""
    lower, upper = net.input_bounds()
    step = torch_peer.TorchDreamStep(spec, DEFAULT_END, lower, upper, net.scale)
    theirs = step.gradient(torch.from_numpy(image.copy())).numpy()
    ours = input_gradient(net, image)
    assert ref.median_rel(theirs, ours) <= ref.ROUNDING_MEDIAN


def test_step_matches_ours(spec, net, image):
    """The whole timed step (roll, gradient, normalise, unroll, clip), judged as the project
    judges one step per octave against Caffe (SHORT_DREAM_PSNR: a wrong step scores ~40 dB)."""
    lower, upper = net.input_bounds()
    step = torch_peer.TorchDreamStep(spec, DEFAULT_END, lower, upper, net.scale)
    theirs = step(torch.from_numpy(image.copy()), STEP_OFFSET, NOTEBOOK.step_size, NOTEBOOK.clip)
    ours = dream_step(net)(image).numpy()
    assert psnr(net.deprocess(theirs.numpy()), net.deprocess(ours)) >= ref.SHORT_DREAM_PSNR


def test_lrn_backward_is_the_gradient_of_its_forward():
    """Caffe's analytic LRN backward against PyTorch's numerical gradient, in float64."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, 7, 3, 4, dtype=torch.float64, generator=generator) * 3
    index = torch.arange(7)
    band = ((index[:, None] - index[None, :]).abs() <= 2).double()
    for beta in (0.75, 0.6):
        x.requires_grad_(True)
        assert torch.autograd.gradcheck(
            lambda t, b=beta: torch_peer.CaffeLRN.apply(t, band, 1.0, 0.3, b), (x,)
        )


def test_pooled_sizes_are_caffes():
    """PyTorch's ceil/floor pooled sizes equal Caffe's rule (caffe_pooled_size) on every
    geometry the peer accepts: kernels 1-4, strides 1-3, pads up to half the kernel."""
    for k, s, p, ceil in itertools.product(range(1, 5), range(1, 4), range(3), (True, False)):
        if p > k // 2 or (ceil and p == 0 and k < s):
            continue
        for size in range(max(k - 2 * p, 1), 24):
            x = torch.zeros(1, 1, size, size)
            y = torch.nn.functional.max_pool2d(x, k, s, p, ceil_mode=ceil)
            assert y.shape[-1] == caffe_pooled_size(size, k, s, p, ceil, p > 0), (k, s, p, size)


def test_refuses_what_pytorch_pools_differently(spec):
    """A ceil-mode pool with kernel < stride and no padding: PyTorch drops a last window
    that Caffe keeps, so the peer refuses it rather than differ."""
    layers = list(spec.layers)
    at = next(i for i, layer in enumerate(layers) if layer.type == "Pooling")
    param = type(layers[at].param)()
    param.CopyFrom(layers[at].param)
    param.pooling_param.kernel_size, param.pooling_param.stride = 1, 2
    param.pooling_param.pad = 0
    layers[at] = dataclasses.replace(layers[at], param=param)
    broken = dataclasses.replace(spec, layers=tuple(layers))
    with pytest.raises(DeepDreamError, match="kernel"):
        torch_peer.TorchCaffeNet(broken, [layers[at].name])


def test_worker_process_times_the_step(model_files, net):
    """The peer's timing worker (what `make bench PEER=torch` interleaves with TF): a process of
    its own that never loads TensorFlow, runs the thread count it is given and answers timed
    steps at an odd size."""
    lower, upper = net.input_bounds()
    settings = {
        "lower": np.asarray(lower).tolist(),
        "upper": np.asarray(upper).tolist(),
        "pixel_scale": net.scale,
        "offset": list(STEP_OFFSET),
        "step_size": NOTEBOOK.step_size,
        "clip": NOTEBOOK.clip,
        "threads": 1,
        "compiled": False,
    }
    with torch_worker(model_files["V1"], None, settings) as worker:
        info = worker.request("info")
        answer = worker.request("step", h=SIZE[0], w=SIZE[1], end=DEFAULT_END, reps=2)
        with pytest.raises(RuntimeError, match=r"PyTorch worker, step: .*unknown layer"):
            worker.request("step", h=SIZE[0], w=SIZE[1], end="no_such_blob", reps=1)
    assert info["intra_op"] == 1 and info["tensorflow_loaded"] is False
    assert len(answer["times_s"]) == 2 and all(t > 0 for t in answer["times_s"])
    assert answer["peak_rss_mb"] >= answer["rss_before_mb"] > 0
