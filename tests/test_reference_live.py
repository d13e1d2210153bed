"""Live parity against real Caffe, run by ``make parity`` (which builds Caffe first).

Skipped unless ``DEEPDREAM_LIVE_CAFFE=1``; with it set, a missing pycaffe is a failure, not a
skip. Caffe (brocolli-caffe 9.0.2, a BVLC Caffe fork) runs ``reference/notebook_caffe.py`` in
its own process (Debian's python3); this process never imports caffe.

- The stored reference data are recomputed and must still match: blobs max relative error
  <= 1e-6 (bit-identical on the machine that made them; another CPU may choose other OpenBLAS
  kernels), gradients, dreams and offsets by the same bars as TF2 (tests/reference_data.py),
  offsets exactly.
- TF2 against that fresh Caffe output, by the bars of test_reference_parity.py.
- TF2 against Caffe on cases not stored: V2 weights from another seed, other sizes, gradients
  at three objectives, short dreams of another image with other jitter.
- Caffe's stale-diff quirk (see reference/notebook_caffe.py), which the notebook's published
  ``inception_3b/5x5_reduce`` dream went through, is shown to exist.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from conversion.caffe_files import build_net_spec
from conversion.synthetic import write_synthetic_model
from reference import cases, fuzz
from reference.caffe_job import caffe_available, run_caffe_job
from reference.generate import (
    build_model,
    dream_job,
    dream_task,
    forward_job,
    run_fuzz,
    store_dreams,
    store_forward,
)
from reference.metrics import max_diff, max_rel, median_rel, psnr, rel_l2
from reference.procedural_images import make_image
from tests import fuzz_judge
from tests import reference_data as ref
from tests.float64_judge import Float64Net
from tests.zoom_frames import zoom_sequence_frames
from tf_impl.dream.deepdream import deepdream, input_gradient
from tf_impl.dream.settings import NOTEBOOK, DreamSettings, ZoomSettings
from tf_impl.models.convert import convert_caffemodel

pytestmark = [
    pytest.mark.caffe,
    pytest.mark.skipif(
        os.environ.get("DEEPDREAM_LIVE_CAFFE") != "1",
        reason="live Caffe parity runs under `make parity` (DEEPDREAM_LIVE_CAFFE=1, after "
        "`make caffe`)",
    ),
]

SIZE_IDS = [cases.size_key(s) for s in cases.SIZES]
# Cases that are not stored: V2 deploy weights from another seed, other sizes and jitter.
OTHER_SEED = 1
OTHER_SIZES = [(224, 224), (150, 250)]
OTHER_ENDS = ["inception_4c/output", "inception_3b/5x5_reduce", "inception_3b/output"]
OTHER_IMAGE = (160, 240)
# Short dreams of the other image: (end, guided, jitter seed).
OTHER_DREAMS = [
    ("inception_4c/output", False, 20),
    ("inception_3b/5x5_reduce", False, 21),
    ("inception_3b/output", True, 22),
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    if not caffe_available():
        pytest.fail("DEEPDREAM_LIVE_CAFFE=1 but pycaffe is not built: run `make caffe`")
    return tmp_path_factory.mktemp("caffe")


@pytest.fixture(scope="module")
def fresh(workdir):
    """The stored cases recomputed on Caffe now, in stored form: (forward, dreams)."""
    model, prototxt = build_model(workdir)
    forward = run_caffe_job(workdir / "forward", model, prototxt, *forward_job())
    dreams = run_caffe_job(workdir / "dreams", model, prototxt, *dream_job())
    return store_forward(forward), store_dreams(dreams)


def _truth(net, float64_net, size) -> tuple[dict, np.ndarray, object]:
    """float64 blobs (stored channels later), gradient (stored crop) and our branch report."""
    image = net.preprocess(cases.pixel_image(size))
    rows, cols = cases.gradient_crop(size)
    blobs = float64_net.blobs(image, cases.BLOBS)
    gradient = float64_net.gradient(image, cases.GRADIENT_END)[rows, cols]
    return blobs, gradient, float64_net.branches(image, cases.GRADIENT_END).cropped((rows, cols))


def _forward_failures(ours: dict, theirs: dict, net, float64_net, judge_ours: bool) -> list[str]:
    """Compare two stored-form forward dicts against float64; print; return what fails.

    ``judge_ours``: ``ours`` is TF32 (the full float64 judge); otherwise both are Caffe32 runs
    (stored vs fresh, perhaps on other BLAS kernels): blobs within BLOB_MAX_REL of each other
    and each gradient's median pixel error within ROUNDING_MEDIAN of float64."""
    failures = []
    for size in cases.SIZES:
        key = cases.size_key(size)
        truth_blobs, truth_gradient, branches = _truth(net, float64_net, size)
        print(f"\n  {key}:")
        for name in cases.BLOBS:
            channels = theirs[f"{key}/channels/{name}"]
            a, b = ours[f"{key}/blob/{name}"], theirs[f"{key}/blob/{name}"]
            line, bad = ref.blob_failures(name, a, b, truth_blobs[name][..., channels])
            if not judge_ours:
                bad = [f"{key} {name}: {e:.2e}" for e in [max_rel(a, b)] if e > ref.BLOB_MAX_REL]
                line = f"{name}: Caffe32 vs Caffe32 {max_rel(a, b):.2e}"
            print(f"    {line}")
            failures += bad
        g_ours, g_theirs = ours[f"{key}/gradient"], theirs[f"{key}/gradient"]
        if judge_ours:
            line, bad = ref.gradient_failures(g_ours, g_theirs, truth_gradient, branches)
        else:
            medians = [median_rel(g, truth_gradient) for g in (g_ours, g_theirs)]
            line = (
                f"gradient rel L2 Caffe32-Caffe32 {rel_l2(g_ours, g_theirs):.2e}; medians "
                f"vs f64 {medians[0]:.2e}, {medians[1]:.2e}"
            )
            bad = [f"{key} median {m:.2e}" for m in medians if m > ref.ROUNDING_MEDIAN]
        print(f"    gradient: {line}")
        failures += [f"{key} gradient: {m}" for m in bad]
    return failures


def _dream_failures(ours: dict, theirs: dict, floors: dict) -> list[str]:
    """Compare stored-form dream dicts (short, whole, zoom); print; return what fails."""
    failures = []
    for name in cases.DREAMS:
        value = psnr(ours[f"short/{name}"], theirs[f"short/{name}"])
        print(f"\n  short {name}: PSNR {value:.2f} dB")
        if value < ref.SHORT_DREAM_PSNR:
            failures.append(f"short {name}: {value:.2f} dB")
    whole = [f"dream/{n}" for n in cases.DREAMS] + [
        f"zoom/{k}" for k in range(cases.ZOOM["n_frames"])
    ]
    for key in whole:
        value, bar = psnr(ours[key], theirs[key]), ref.whole_dream_bar(floors[key])
        print(
            f"\n  {key}: PSNR {value:.2f} dB (bar {bar:.1f}), "
            f"max diff {max_diff(ours[key], theirs[key]):.1f}"
        )
        if value < bar:
            failures.append(f"{key}: {value:.2f} dB < {bar:.1f}")
    return failures


def test_stored_data_still_match_caffe(fresh, net, float64_net, capsys):
    stored_forward, _ = ref.load("forward")
    stored_dreams, meta = ref.load("dreams")
    forward, dreams = fresh
    identical = sum(np.array_equal(forward[k], stored_forward[k]) for k in forward)
    identical += sum(np.array_equal(dreams[k], stored_dreams[k]) for k in dreams)
    with capsys.disabled():
        print(
            f"\nstored vs fresh Caffe: {identical}/{len(forward) + len(dreams)} arrays "
            "bit-identical"
        )
        failures = _forward_failures(forward, stored_forward, net, float64_net, judge_ours=False)
        failures += _dream_failures(dreams, stored_dreams, meta["floors"])
    for key in dreams:
        if key.startswith("offsets/"):
            np.testing.assert_array_equal(dreams[key], stored_dreams[key], err_msg=key)
    assert not failures


def test_tf_matches_fresh_caffe(fresh, net, float64_net, capsys):
    forward, dreams = fresh
    _, meta = ref.load("dreams")
    ours_forward = {}
    for size in cases.SIZES:
        key, image = cases.size_key(size), net.preprocess(cases.pixel_image(size))
        blobs = net.blobs(image, cases.BLOBS)
        for name in cases.BLOBS:
            ours_forward[f"{key}/blob/{name}"] = blobs[name][..., forward[f"{key}/channels/{name}"]]
        rows, cols = cases.gradient_crop(size)
        ours_forward[f"{key}/gradient"] = input_gradient(net, image, cases.GRADIENT_END)[rows, cols]
    ours_dreams = {}
    for name, (end, _, guided) in cases.DREAMS.items():
        guide = dreams["guide"] if guided else None
        for kind, iter_n in (("short", 1), ("dream", 10)):
            offsets = dreams[f"offsets/{kind}/{name}"]
            ours_dreams[f"{kind}/{name}"] = deepdream(
                net,
                dreams["image"],
                DreamSettings(end=end, iter_n=iter_n),
                offsets=offsets,
                guide=guide,
            )
    frames = zoom_sequence_frames(
        net,
        dreams["image"],
        NOTEBOOK.replace(end=cases.ZOOM["end"]),
        ZoomSettings(cases.ZOOM["n_frames"], cases.ZOOM["s"]),
        offsets=dreams["offsets/zoom"],
    )
    ours_dreams.update({f"zoom/{k}": f for k, f in enumerate(frames)})
    with capsys.disabled():
        print("\nTF2 vs fresh Caffe:")
        failures = _forward_failures(ours_forward, forward, net, float64_net, judge_ours=True)
        failures += _dream_failures(ours_dreams, dreams, meta["floors"])
    assert not failures


@pytest.fixture(scope="module")
def other_weights(workdir, model_files):
    """(caffemodel, prototxt, net, float64 judge): V2 deploy weights of seed OTHER_SEED."""

    model, prototxt = write_synthetic_model(workdir / "other", OTHER_SEED, "V2", "other_v2")
    net = convert_caffemodel(model, prototxt)
    return model, prototxt, net, Float64Net(build_net_spec(model, prototxt), net.keras_model)


def test_tf_matches_caffe_on_other_cases(other_weights, workdir, capsys):
    model, prototxt, net, float64_net = other_weights
    inputs = {"image": make_image(*OTHER_IMAGE, variant=1), "guide": make_image(120, 90)}
    tasks = []
    for size in OTHER_SIZES:
        key = cases.size_key(size)
        inputs[key] = np.random.RandomState(size[0] + size[1]).randint(0, 256, (*size, 3))
        tasks.append({"id": f"{key}/blob", "kind": "blobs", "image": key, "blobs": cases.BLOBS})
        for end in OTHER_ENDS:
            tasks.append({"id": f"{key}/grad/{end}", "kind": "gradient", "image": key, "end": end})
    for end, guided, seed in OTHER_DREAMS:
        tasks.append(dream_task(f"short/{end}", end, seed, guided, iter_n=1))
    caffe = run_caffe_job(workdir / "other", model, prototxt, tasks, inputs)

    failures = []
    with capsys.disabled():
        print("\nTF2 vs Caffe, V2 weights seed 1:")
        for size in OTHER_SIZES:
            key, image = cases.size_key(size), net.preprocess(inputs[cases.size_key(size)])
            blobs, truth = net.blobs(image, cases.BLOBS), float64_net.blobs(image, cases.BLOBS)
            for name in cases.BLOBS:
                theirs = caffe[f"{key}/blob/{name}"].transpose(1, 2, 0)
                line, bad = ref.blob_failures(name, blobs[name], theirs, truth[name])
                print(f"\n  {key} {line}")
                failures += [f"{key} {b}" for b in bad]
            for end in OTHER_ENDS:
                ours = input_gradient(net, image, end)
                theirs = caffe[f"{key}/grad/{end}"].transpose(1, 2, 0)
                line, bad = ref.gradient_failures(
                    ours, theirs, float64_net.gradient(image, end), float64_net.branches(image, end)
                )
                print(f"\n  {key} gradient at {end}: {line}")
                failures += [f"{key} {end}: {b}" for b in bad]
        for end, guided, _ in OTHER_DREAMS:
            guide = inputs["guide"] if guided else None
            offsets = caffe[f"short/{end}/offsets"]
            ours = deepdream(
                net, inputs["image"], DreamSettings(end=end, iter_n=1), offsets=offsets, guide=guide
            )
            value = psnr(ours, caffe[f"short/{end}"])
            print(
                f"\n  short dream at {end}{' (guided)' if guide is not None else ''}: "
                f"PSNR {value:.2f} dB"
            )
            if value < ref.SHORT_DREAM_PSNR:
                failures.append(f"short dream {end}: {value:.2f} dB")
    assert not failures


def test_caffe_notebook_session_leaks_stale_diffs(workdir, model_files, net, float64_net, capsys):
    """In one Caffe session, a backward from ``inception_3b/5x5_reduce`` after one from
    ``inception_4c/output`` picks up the stale diffs of the module's sibling branches (the
    notebook ran its 3b/5x5_reduce dream right after the 4c one); a fresh net does not, and
    TF2 computes the fresh net's gradient."""
    end = "inception_3b/5x5_reduce"
    image = cases.dream_image()
    tasks = [
        {"id": "4c", "kind": "gradient", "image": "image", "end": cases.GRADIENT_END},
        {"id": "3b", "kind": "gradient", "image": "image", "end": end},
    ]
    model, prototxt = model_files["V1"], model_files["prototxt"]
    session = run_caffe_job(workdir / "session", model, prototxt, tasks, {"image": image}, True)
    clean = run_caffe_job(workdir / "clean", model, prototxt, tasks[1:], {"image": image})
    net_image = net.preprocess(image)
    ours = input_gradient(net, net_image, end)
    fresh_caffe, session_caffe = clean["3b"].transpose(1, 2, 0), session["3b"].transpose(1, 2, 0)
    leak = rel_l2(session_caffe, fresh_caffe)
    line, failures = ref.gradient_failures(
        ours,
        fresh_caffe,
        float64_net.gradient(net_image, end),
        float64_net.branches(net_image, end),
    )
    with capsys.disabled():
        print(
            f"\nCaffe 3b/5x5_reduce gradient after a 4c backward vs fresh: rel L2 {leak:.2f}; "
            f"TF2 vs fresh Caffe vs float64: {line}"
        )
    assert leak > 0.1
    assert not failures


@pytest.fixture(scope="module")
def fresh_fuzz(workdir):
    """The fuzz nets recomputed on Caffe now, in stored form."""

    arrays, _ = run_fuzz(workdir)
    return arrays


def test_fuzz_nets_match_fresh_caffe(fresh_fuzz, workdir, capsys):
    """TF32 against fresh Caffe by the float64 rule; fresh Caffe against the stored run (perhaps
    another CPU's kernels): blobs within 1e-5 of each other, or as close to float64 as each
    other within the same margin (measured with OPENBLAS_CORETYPE=Sandybridge: a LRN blob
    1.6e-6 from float64 against the stored 7.4e-7, the two 1.5e-6 apart)."""

    stored, _ = ref.load("fuzz")
    failures = []
    with capsys.disabled():
        for net in fuzz.NETS:
            dream_net, judge, _ = fuzz_judge.converted(net, workdir / "fuzz-tf")
            prefix = f"{net.name}/"
            fresh = {k[len(prefix) :]: v for k, v in fresh_fuzz.items() if k.startswith(prefix)}
            print(f"\nfuzz {net.name}: TF32 vs fresh Caffe")
            failures += fuzz_judge.failures(net, dream_net, judge, fresh)
            for size in net.sizes:
                key = cases.size_key(size)
                truth = judge.blobs(dream_net.preprocess(fuzz.input_image(size)), list(net.blobs))
                for name in net.blobs:
                    a = fresh[f"{key}/blob/{name}"]
                    b = stored[f"{prefix}{key}/blob/{name}"]
                    # Within float32 summation noise of each other (as for GoogLeNet), or,
                    # where Caffe's own float32 is far from float64 (a strong LRN), as close
                    # to float64 as each other.
                    e_fresh, e_stored = max_rel(a, truth[name]), max_rel(b, truth[name])
                    close = max_rel(a, b) <= ref.BLOB_MAX_REL
                    if not close and max(e_fresh, e_stored) > max(
                        ref.MARGIN * min(e_fresh, e_stored), ref.FLOAT32_FLOOR
                    ):
                        failures.append(
                            f"{net.name} {key} {name}: fresh Caffe {e_fresh:.2e} vs stored "
                            f"{e_stored:.2e} from float64, {max_rel(a, b):.2e} apart"
                        )
    assert not failures
