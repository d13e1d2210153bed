"""open_nsfw, a real trained Caffe network, against the stored results of real Caffe.

``reference/data/open_nsfw.npz`` (``make reference``: brocolli-caffe 9.0.2, one OpenBLAS
thread, ``reference/notebook_caffe.py`` with open_nsfw's mean) holds, for the sky photo at the
notebook's octave sizes of 1024x575 and at 157x283, central crops of four blobs and of the
input gradients at two depths, and whole and short dreams of the photo at 144x256. Needs the
open_nsfw fixture (``make open-nsfw``) and ``../shared`` (the photos the inputs are made
from); CI has both. Bars (reasons in ``tests/reference_data.py``):

- blobs and gradients: the float64 rule (``tests/open_nsfw_judge.py``);
- short dreams (4 octaves x 1 step): PSNR >= 50 dB (a wrong step scores ~40 dB);
- whole dreams (4 octaves x 10 steps), replayed with Caffe's offsets: halfway between Caffe
  against one-ulp-nudged Caffe and Caffe with another jitter seed (both stored).
"""

from __future__ import annotations

import numpy as np
import pytest

from reference import open_nsfw_cases as nsfw
from reference.metrics import max_diff, psnr, sha256
from tests import open_nsfw_judge
from tests import reference_data as ref
from tf_impl.dream.deepdream import deepdream
from tf_impl.dream.settings import DreamSettings

SIZE_IDS = [nsfw.size_key(s) for s in nsfw.SIZES]
# The two largest sizes take most of the float64 time (a 575x1024 float64 backward).
SLOW = {(575, 1024), (411, 731)}


@pytest.fixture(scope="module")
def stored(shared):
    arrays, meta = ref.load("open_nsfw")
    return arrays, meta


def test_stored_data_match_this_checkout(stored, open_nsfw_files):
    arrays, meta = stored
    model, prototxt = open_nsfw_files
    assert meta["caffe"].startswith("brocolli-caffe 9.0.2")
    assert meta["weights"]["sha256"] == sha256(model)
    assert meta["weights"]["prototxt_sha256"] == sha256(prototxt)
    assert meta["mean_bgr"] == list(nsfw.MEAN_BGR)
    for size in nsfw.SIZES:
        assert meta["inputs"][nsfw.size_key(size)]["sha256"] == sha256(nsfw.forward_image(size))
    np.testing.assert_array_equal(arrays["image"], nsfw.dream_image())
    np.testing.assert_array_equal(arrays["guide"], nsfw.guide_image())


@pytest.mark.parametrize(
    "size",
    [pytest.param(s, marks=pytest.mark.slow) if s in SLOW else s for s in nsfw.SIZES],
    ids=SIZE_IDS,
)
def test_blobs_and_gradients_judged_by_float64(
    size, stored, open_nsfw_net, open_nsfw_float64, capsys
):
    arrays, _ = stored
    with capsys.disabled():
        print(f"\nopen_nsfw {nsfw.size_key(size)} (TF32, Caffe32 and float64):")
        failures = open_nsfw_judge.forward_failures(
            open_nsfw_net, open_nsfw_float64, size, arrays, []
        )
    assert not failures


@pytest.mark.parametrize("name", list(nsfw.DREAMS))
def test_short_dream_matches_caffe(name, stored, open_nsfw_net, capsys):
    arrays, _ = stored
    end, _, guided = nsfw.DREAMS[name]
    ours = deepdream(
        open_nsfw_net,
        arrays["image"],
        DreamSettings(end=end, iter_n=1),
        offsets=arrays[f"offsets/short/{name}"],
        guide=arrays["guide"] if guided else None,
    )
    theirs = arrays[f"short/{name}"].astype(np.float32)
    value = psnr(ours, theirs)
    with capsys.disabled():
        print(f"\nopen_nsfw short dream {name}: PSNR {value:.2f} dB vs Caffe")
    assert value >= ref.SHORT_DREAM_PSNR


@pytest.mark.slow
@pytest.mark.parametrize("name", list(nsfw.DREAMS))
def test_whole_dream_matches_caffe(name, stored, open_nsfw_net, capsys):
    arrays, meta = stored
    end, _, guided = nsfw.DREAMS[name]
    ours = deepdream(
        open_nsfw_net,
        arrays["image"],
        DreamSettings(end=end),
        offsets=arrays[f"offsets/dream/{name}"],
        guide=arrays["guide"] if guided else None,
    )
    theirs = arrays[f"dream/{name}"].astype(np.float32)
    floor = meta["floors"][f"dream/{name}"]
    value, bar = psnr(ours, theirs), ref.whole_dream_bar(floor)
    with capsys.disabled():
        print(
            f"\nopen_nsfw dream {name}: PSNR {value:.2f} dB (bar {bar:.1f}; Caffe vs nudged "
            f"Caffe {min(floor['nudged_psnr']):.1f}, other jitter "
            f"{floor['other_seed_psnr']:.1f}), max diff {max_diff(ours, theirs):.1f}"
        )
    assert value >= bar
