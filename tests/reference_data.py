"""Shared by the reference parity tests: the stored Caffe results, the measures, the bars.

Blobs and input gradients are judged by a float64 ground truth (``tests/float64_judge.py``:
the project's network in double precision, same weights), against which our float32 result
and Caffe's are both measured; TF32-vs-Caffe32 is reported beside them.

- blobs: max relative error ``max|x - f64| / max|f64|``; ours may be at most ``MARGIN`` times
  Caffe's (measured ratios 0.5-1.75: both are float32 summations in different orders). Our
  distance to Caffe's values is reported, not judged: where Caffe's float32 is the inaccurate
  one (a strong LRN, alpha = 1: Caffe 2.4e-5 from float64, ours 1.3e-6), it exceeds 1e-5;
- input gradients: see :func:`gradient_failures` (branch decisions; rounding and a median
  pixel error no worse than Caffe's within ``MARGIN``, both against float64 along our own
  branches, which near-tie flips may change);
- dreams: PSNR (peak 255, ``reference.metrics.psnr``) on the float images, and max |difference|.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reference.metrics import max_rel, median_rel, rel_l2

DATA_DIR = Path(__file__).resolve().parent.parent / "reference" / "data"

# Float32 summation order alone moves a blob by ~1e-6 of its largest value (measured 0.4-2e-6
# for ours and Caffe's against float64, and Caffe against itself on other BLAS kernels).
BLOB_MAX_REL = 1e-5
# How much farther from float64 than Caffe's float32 ours may be (blob max-rel; gradient
# median where no unit flips). Correct float32 kernels differ here: TF's Eigen kernels (AVX2
# CPUs) measured up to 1.14x Caffe's; oneDNN's (TF's default on AVX-512 CPUs; its 3x3
# convolutions accumulate 1.5-2.2x Eigen's rounding, measured layer by layer) up to 1.75x for a
# blob (inception_4c/output at 97x173: 9.5e-7 vs 5.4e-7, i.e. 8 float32 ulps vs 5); Caffe
# against itself on other OpenBLAS kernels: up to 1.25x. A wrong rule is 10x+ off
# (tests/test_float64_judge.py).
MARGIN = 2.5
# Below a few float32 ulps of the scale (small nets, short sums) the order of a summation is
# all that differs: ratios of such errors mean nothing, so the margin never asks for less.
FLOAT32_FLOOR = 4 * float(np.finfo(np.float32).eps)
# Float32 rounding of a whole backward pass through GoogLeNet against float64, where no branch
# flips: measured 4.8e-7 to 6.2e-7 (ours and Caffe's); 1e-5 leaves 16x.
ROUNDING_REL_L2 = 1e-5
# Median pixel error against float64 of a float32 gradient (Caffe's on other kernels, the
# PyTorch peer's against ours): measured 3.8e-7 to 1.4e-6 (the last with 49 near-tie flips,
# each moving a patch). One flip whose patch is most of the image can pass it (ours, oneDNN,
# 224x224, inception_4c/output: 1.16e-5), which is why ours are judged along their branches.
ROUNDING_MEDIAN = 1e-5
# Short dreams (4 octaves x 1 step): one step moves the image by ~1.5 pixel units on average,
# so a wrong step scores at most ~38-42 dB against the right one; measured 58.8 dB or better.
SHORT_DREAM_PSNR = 50.0
# Whole dreams (40 steps) and zoom frames: see whole_dream_bar.
WHOLE_DREAM_PSNR = 40.0

MISSING = "stored reference data missing ({}); run `make reference` (needs `make caffe`)"


def load(name: str) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, metadata) of ``reference/data/NAME.npz``; skips the test when it is missing."""
    path = DATA_DIR / f"{name}.npz"
    if not path.is_file():
        pytest.skip(MISSING.format(path))
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files if k != "metadata"}
        metadata = json.loads(str(data["metadata"]))
    return arrays, metadata


def blob_failures(
    name: str, ours, caffe, truth, computed_at: float | None = None
) -> tuple[str, list[str]]:
    """(a report line, what fails) for one blob: ours and Caffe's float32 against float64.

    ``computed_at``: the largest magnitude the blob's values were rounded at, where that
    exceeds the blob's own (a ReLU output: its input's max |value|, as the exact ReLU passes
    its input's rounding through unchanged but drops the larger negative half); the float32
    floor is that many ulps of this scale. None: the blob's own max |value|."""
    e_ours, e_caffe, e_pair = max_rel(ours, truth), max_rel(caffe, truth), max_rel(ours, caffe)
    line = f"{name}: TF32-f64 {e_ours:.2e}, Caffe32-f64 {e_caffe:.2e}, TF32-Caffe32 {e_pair:.2e}"
    bad = _nan_failures(name, ours, caffe)
    own_scale = float(np.max(np.abs(truth))) if np.size(truth) else 0.0
    floor = FLOAT32_FLOOR
    if computed_at is not None and own_scale > 0:
        floor *= max(1.0, computed_at / own_scale)
    if e_ours > max(MARGIN * e_caffe, floor):
        bad.append(f"{name}: TF32 {e_ours:.2e} from float64, > {MARGIN} x Caffe's {e_caffe:.2e}")
    return line, bad


def _nan_failures(name: str, ours, caffe) -> list[str]:
    """NaN where Caffe has a number (or the reverse): the max-rel and rel-L2 measures, NaN
    then, would compare false against any bar and so pass."""
    ours_nan, caffe_nan = np.isnan(np.asarray(ours)), np.isnan(np.asarray(caffe))
    if np.array_equal(ours_nan, caffe_nan):
        return []
    return [f"{name}: NaN at {int(ours_nan.sum())} values, Caffe's at {int(caffe_nan.sum())}"]


def gradient_failures(ours, caffe, truth, branches) -> tuple[str, list[str]]:
    """(a report line, what fails) for an input gradient (H, W, 3): ours and Caffe's float32
    against float64; ``branches`` (:class:`tests.float64_judge.Branches`) says where our
    float32 forward took another ReLU / max-pool branch than float64, and holds float64's
    gradient along our branches, which ours is judged by."""
    along = truth if branches.along is None else branches.along
    rel = {"TF32": rel_l2(ours, along), "Caffe32": rel_l2(caffe, truth)}
    med = {"TF32": median_rel(ours, along), "Caffe32": median_rel(caffe, truth)}
    line = (
        f"rel L2 TF32-f64 {rel_l2(ours, truth):.2e}, Caffe32-f64 {rel['Caffe32']:.2e}, "
        f"TF32-Caffe32 {rel_l2(ours, caffe):.2e}; median TF32-f64 {median_rel(ours, truth):.2e}, "
        f"Caffe32-f64 {med['Caffe32']:.2e}; TF32 branch flips {branches.flips} (outside "
        f"near-ties {branches.wide})"
    )
    if branches.along is not None:
        line += f"; TF32-f64 along its branches: rel L2 {rel['TF32']:.2e}, median {med['TF32']:.2e}"
    bad = _nan_failures("gradient", ours, caffe)
    if branches.wide:
        bad.append(f"{branches.wide} ReLU/max-pool decisions differ from float64 beyond a near-tie")
    # Along our own branches the error is rounding: small, unless the objective itself is ill
    # conditioned (0.5 * sum(p^2) of a saturated softmax loses ~1e-3 to cancellation in any
    # float32), which Caffe's float32 error shows, so it calibrates the bar.
    rounding_bar = max(ROUNDING_REL_L2, MARGIN * rel["Caffe32"])
    if rel["TF32"] > rounding_bar:
        bad.append(f"rel L2 {rel['TF32']:.2e} from float64 along our branches > {rounding_bar:.2e}")
    # The median pixel error: no worse than Caffe's (whose own flips only raise its median).
    if med["TF32"] > max(MARGIN * med["Caffe32"], FLOAT32_FLOOR):
        bad.append(f"median {med['TF32']:.2e} > {MARGIN} x Caffe's {med['Caffe32']:.2e}")
    return line, bad


def whole_dream_bar(floor: dict) -> float:
    """PSNR bar for a whole dream or zoom frame, from its stored floor (see reference.generate).

    A 40-step dream amplifies any float32 difference (a near-tie taking the other branch moves
    a patch by several pixel units; later steps build on it) until the fine detail no longer
    matches pixel for pixel. Two Caffe runs bracket what to expect: Caffe against itself from an
    input moved by one ulp per value (``nudged_psnr``: ~25 dB for whole dreams, 25.6 / 22.5 /
    20.7 dB for zoom frames 0-2), the best a float32 reimplementation can hope for, and Caffe
    with a different jitter seed (``other_seed_psnr``: 22-24 dB; 23.8 / 20.8 / 19.2 dB), what
    a run that ignored the offsets would get. Bar: halfway between the two (capped at 40 dB),
    so a pass says "replayed the same jitter, rounding aside".
    """
    nudged, other = min(floor["nudged_psnr"]), floor["other_seed_psnr"]
    return min(WHOLE_DREAM_PSNR, (nudged + other) / 2)
