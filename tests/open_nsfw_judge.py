"""open_nsfw (a real trained Caffe ResNet-50) judged against Caffe's results by the float64
rule: the stored data (tests/test_open_nsfw_parity.py) and live pycaffe (make parity).

Blobs and input gradients as for GoogLeNet (``tests/reference_data.py``): ours and Caffe's
float32 against the float64 network of the same file; ours may be at most ``MARGIN`` times as
far as Caffe's (blobs), and the input gradient passes the three-part rule of
:func:`tests.reference_data.gradient_failures`. Measured on real weights: Caffe against itself
on other OpenBLAS kernels moved a gradient by rel L2 1.7e-2 (near-tie flips in a trained net),
so no TF32-Caffe32 distance is a bar; float64 decides.
"""

from __future__ import annotations

import numpy as np

from reference import open_nsfw_cases as nsfw
from reference.metrics import max_rel, median_rel, rel_l2
from tests import reference_data as ref
from tf_impl.dream.deepdream import input_gradient


def forward_failures(
    net, float64_net, size, caffe: dict, rows: list[dict], whole: bool = False
) -> list[str]:
    """Judge ours against ``caffe`` (the stored form of ``reference.generate``'s
    ``store_open_nsfw_forward``, with the same ``whole``) at ``size``: print one line per blob
    and gradient, append a row per judged quantity to ``rows`` ({what, measure, caffe_f64,
    ours_f64, ours_caffe, rel_l2, ...}) and return what fails."""
    key = nsfw.size_key(size)
    image = net.preprocess(nsfw.forward_image(size))
    ours, truth = net.blobs(image, nsfw.BLOBS), float64_net.blobs(image, nsfw.BLOBS)
    failures = []
    for name in nsfw.BLOBS:
        channels = caffe[f"{key}/channels/{name}"]
        crop = nsfw.central_crop(ours[name].shape[:2], nsfw.BLOB_CROP, whole)
        a, t = ours[name][crop][..., channels], truth[name][crop][..., channels]
        line, bad = ref.blob_failures(name, a, caffe[f"{key}/blob/{name}"], t)
        print(f"  {key} {line}")
        rows.append(_row(f"{key} blob {name}", max_rel, a, caffe[f"{key}/blob/{name}"], t))
        failures += [f"{key} {b}" for b in bad]
    for end in nsfw.GRADIENT_ENDS:
        full = input_gradient(net, image, end)
        crop = nsfw.central_crop(full.shape[:2], nsfw.GRADIENT_CROP, whole)
        a, t = full[crop], float64_net.gradient(image, end)[crop]
        theirs = caffe[f"{key}/gradient/{end}"]
        branches = float64_net.branches(image, end).cropped(crop)
        line, bad = ref.gradient_failures(a, theirs, t, branches)
        print(f"  {key} gradient at {end}: {line}")
        row = _row(f"{key} gradient {end}", median_rel, a, theirs, t)
        rows.append({**row, "flips": branches.flips, "wide": branches.wide})
        failures += [f"{key} gradient {end}: {b}" for b in bad]
    return failures


def _row(what: str, measure, ours: np.ndarray, caffe: np.ndarray, truth: np.ndarray) -> dict:
    return {
        "what": what,
        "measure": measure.__name__,
        "caffe_f64": measure(caffe, truth),
        "ours_f64": measure(ours, truth),
        "ours_caffe": measure(ours, caffe),
        "rel_l2": (rel_l2(caffe, truth), rel_l2(ours, truth)),
    }
