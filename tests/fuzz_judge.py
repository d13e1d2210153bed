"""The fuzz nets of ``reference/fuzz.py`` judged against Caffe results (stored or fresh) by
the float64 rule; shared by the stored test (``make test``) and the live one (``make parity``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conversion.caffe_files import build_net_spec
from reference import cases, fuzz
from tests import reference_data as ref
from tests.float64_judge import Float64Net
from tf_impl.dream.deepdream import input_gradient
from tf_impl.models.convert import convert_caffemodel


def converted(net: fuzz.FuzzNet, directory: Path):
    """(DreamNet from the prototxt + seeded caffemodel, its float64 judge, caffemodel path)."""
    model, prototxt = fuzz.write_files(net, directory)
    dream_net = convert_caffemodel(model, prototxt)
    return dream_net, Float64Net(build_net_spec(model, prototxt), dream_net.keras_model), model


def failures(net: fuzz.FuzzNet, dream_net, judge, caffe: dict[str, np.ndarray]) -> list[str]:
    """Judge our float32 blobs and gradients of ``net`` at each of its sizes against
    ``caffe`` (stored-form arrays ``HxW/blob/NAME``, ``HxW/gradient/END``); print a line each."""
    bad = []
    for size in net.sizes:
        key = cases.size_key(size)
        image = dream_net.preprocess(fuzz.input_image(size))
        ours, truth = dream_net.blobs(image, list(net.blobs)), judge.blobs(image, list(net.blobs))
        scales = judge.computed_at(image, list(net.blobs))
        for name in net.blobs:
            line, errors = ref.blob_failures(
                name, ours[name], caffe[f"{key}/blob/{name}"], truth[name], scales.get(name)
            )
            print(f"  {net.name} {key} {line}")
            bad += [f"{net.name} {key} {e}" for e in errors]
        for end in net.ends:
            line, errors = ref.gradient_failures(
                input_gradient(dream_net, image, end),
                caffe[f"{key}/gradient/{end}"],
                judge.gradient(image, end),
                judge.branches(image, end),
            )
            print(f"  {net.name} {key} gradient at {end}: {line}")
            bad += [f"{net.name} {key} gradient at {end}: {e}" for e in errors]
    return bad
