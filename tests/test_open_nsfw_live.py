"""open_nsfw against live pycaffe (``make parity``; skipped unless DEEPDREAM_LIVE_CAFFE=1).

- At a size no other test uses (199x341), whole blobs and whole input gradients: blobs within
  1e-5 max-rel of Caffe's (``BLOB_MAX_REL``: float32 summation order alone) and by the
  float64 rule, gradients by the float64 rule (Caffe on other BLAS kernels moved a gradient
  of this net by rel L2 1.7e-2: near-tie flips, which only float64 can referee).
- The stored data recomputed on Caffe now: blobs within 1e-5 of the stored ones, offsets
  exactly, short dreams >= 50 dB of each other.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from reference import open_nsfw_cases as nsfw
from reference.caffe_job import caffe_available, run_caffe_job
from reference.generate import open_nsfw_dream_job, open_nsfw_forward_job, store_open_nsfw_forward
from reference.metrics import max_rel, psnr
from tests import open_nsfw_judge
from tests import reference_data as ref

pytestmark = [
    pytest.mark.caffe,
    pytest.mark.skipif(
        os.environ.get("DEEPDREAM_LIVE_CAFFE") != "1",
        reason="live Caffe parity runs under `make parity` (DEEPDREAM_LIVE_CAFFE=1, after "
        "`make caffe`)",
    ),
]

UNUSED_SIZE = (199, 341)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    if not caffe_available():
        pytest.fail("DEEPDREAM_LIVE_CAFFE=1 but pycaffe is not built: run `make caffe`")
    return tmp_path_factory.mktemp("caffe-nsfw")


def test_open_nsfw_matches_live_caffe_at_an_unused_size(
    workdir, shared, open_nsfw_files, open_nsfw_net, open_nsfw_float64, capsys
):
    raw = run_caffe_job(
        workdir / "unused", *open_nsfw_files, *open_nsfw_forward_job([UNUSED_SIZE]),
        mean=nsfw.MEAN_BGR,
    )  # fmt: skip
    caffe = store_open_nsfw_forward(raw, [UNUSED_SIZE], whole=True)
    rows: list[dict] = []
    with capsys.disabled():
        print(f"\nopen_nsfw vs live Caffe at {nsfw.size_key(UNUSED_SIZE)} (whole blobs):")
        failures = open_nsfw_judge.forward_failures(
            open_nsfw_net, open_nsfw_float64, UNUSED_SIZE, caffe, rows, whole=True
        )
    for row in rows:
        if " blob " in row["what"] and row["ours_caffe"] > ref.BLOB_MAX_REL:
            failures.append(f"{row['what']}: {row['ours_caffe']:.2e} from Caffe's > 1e-5")
    assert not failures


def test_stored_open_nsfw_data_still_match_caffe(workdir, shared, open_nsfw_files, capsys):
    stored, _ = ref.load("open_nsfw")
    model, prototxt = open_nsfw_files
    forward = store_open_nsfw_forward(
        run_caffe_job(
            workdir / "fwd", model, prototxt, *open_nsfw_forward_job(), mean=nsfw.MEAN_BGR
        )
    )
    dreams = run_caffe_job(workdir / "dreams", model, prototxt, *open_nsfw_dream_job(),
                           mean=nsfw.MEAN_BGR)  # fmt: skip
    failures = []
    with capsys.disabled():
        for key, fresh in forward.items():
            if "/blob/" in key:
                error = max_rel(fresh, stored[key])
                print(f"\n  fresh vs stored Caffe {key}: max-rel {error:.2e}")
                if error > ref.BLOB_MAX_REL:
                    failures.append(f"{key}: {error:.2e}")
        for name in nsfw.DREAMS:
            np.testing.assert_array_equal(
                dreams[f"short/{name}/offsets"], stored[f"offsets/short/{name}"]
            )
            value = psnr(dreams[f"short/{name}"], stored[f"short/{name}"].astype(np.float32))
            print(f"\n  fresh vs stored Caffe short dream {name}: {value:.2f} dB")
            if value < ref.SHORT_DREAM_PSNR:
                failures.append(f"short {name}: {value:.2f} dB")
    assert not failures
