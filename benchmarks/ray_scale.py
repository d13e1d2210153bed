"""What Ray costs and gives on one machine (``make bench-ray``): channels per minute of a
64-channel atlas and images per minute of a batch of small photos, one process against a local
Ray cluster of N workers (``--ray --ray-workers N``), each run a fresh ``deepdream`` command.

    python -m benchmarks.ray_scale                 # 64 channels, 8 photos, 2 workers
    python -m benchmarks.ray_scale --channels 16 --photos 4   # quicker

``--ray`` alone makes as many workers as the cluster's CPUs hold, each reserving as many
CPUs as TensorFlow threads it runs (this machine's core count: one worker on a 2-core machine);
``--ray-workers N`` makes N, sharing the cores. Two rates per run: ``whole`` over the
command's wall time (start-up included: TensorFlow, and with Ray the cluster, the workers'
TensorFlow and their model load), and ``steady`` between the first and the last progress line
(the work alone). The machine's load average is recorded
before and after: on a shared machine the numbers are only as good as it was idle. Writes
benchmarks/results/ray-scale-<machine>-<date>.{json,md}. docs/cluster.md reads them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.machine import machine_info, machine_slug, today
from tf_impl.images.sample import sample_image_path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
ATLAS_LAYER = "inception_4c/output"
PHOTO_SIZE = (120, 160)  # height, width: a small photo
PROGRESS = re.compile(r"^(?:atlas|dreams): (\d+)/(\d+) ")


def _command(argv: list[str]) -> dict:
    """Run ``deepdream argv``; {'wall_s', 'steady_rate_per_min', 'items'} from its progress."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    started = time.perf_counter()
    run = subprocess.Popen(
        [sys.executable, "-m", "tf_impl.cli", *argv],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    marks = []
    for line in run.stderr:
        found = PROGRESS.match(line)
        if found:
            marks.append((time.perf_counter(), int(found.group(1))))
    if run.wait() != 0:
        raise SystemExit(f"deepdream {' '.join(argv)} failed")
    wall = time.perf_counter() - started
    items = marks[-1][1] if marks else 0
    steady = None
    if len(marks) > 1 and marks[-1][0] > marks[0][0]:
        steady = (marks[-1][1] - marks[0][1]) / (marks[-1][0] - marks[0][0]) * 60.0
    return {
        "wall_s": round(wall, 2),
        "items": items,
        "whole_rate_per_min": round(items / wall * 60.0, 2),
        "steady_rate_per_min": None if steady is None else round(steady, 2),
    }


def _photos(folder: Path, count: int) -> Path:
    """``count`` small photos (crops of the sample photo, PHOTO_SIZE), as PNG."""
    folder.mkdir()
    with Image.open(sample_image_path()) as image:
        rgb = np.asarray(image.convert("RGB"))
    height, width = PHOTO_SIZE
    for i in range(count):
        top, left = (37 * i) % (rgb.shape[0] - height), (23 * i) % (rgb.shape[1] - width)
        Image.fromarray(rgb[top : top + height, left : left + width]).save(folder / f"p{i}.png")
    return folder


def measure(args: argparse.Namespace, work: Path) -> dict:
    """Every run, one process then Ray, atlas then batch."""
    model = work / "synthetic.keras"
    subprocess.run(
        [sys.executable, "-m", "tf_impl.cli", "synthetic-model", "-o", str(model)],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        check=True,
        capture_output=True,
    )
    photos = _photos(work / "photos", args.photos)
    ray = ["--ray", "--ray-workers", str(args.workers)]
    atlas = ["atlas", "--model", str(model), "--layer", ATLAS_LAYER]
    atlas += ["--channels", f"0-{args.channels - 1}"]
    dream = ["dream", str(photos), "--model", str(model), "--seed", "0"]
    rows = {}
    for name, argv in (
        ("atlas, one process", [*atlas, "-o", str(work / "a1")]),
        (f"atlas, Ray {args.workers} workers", [*atlas, "-o", str(work / "a2"), *ray]),
        ("atlas, Ray default workers", [*atlas, "-o", str(work / "a3"), "--ray"]),
        ("batch, one process", [*dream, "-o", str(work / "d1")]),
        (f"batch, Ray {args.workers} workers", [*dream, "-o", str(work / "d2"), *ray]),
        ("batch, Ray default workers", [*dream, "-o", str(work / "d3"), "--ray"]),
    ):
        print(f"{name}: deepdream {' '.join(argv[:1])} ...", file=sys.stderr)
        rows[name] = _command(argv)
        print(f"  {rows[name]}", file=sys.stderr)
    same = all(
        (work / one / f.relative_to(work / two)).read_bytes() == f.read_bytes()
        for one, two in (("a1", "a2"), ("a1", "a3"), ("d1", "d2"), ("d1", "d3"))
        for f in (work / two).rglob("*.png")
    )
    return {"rows": rows, "ray_files_identical": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=64, help="atlas channels (64)")
    parser.add_argument("--photos", type=int, default=8, help="photos in the batch (8)")
    parser.add_argument("--workers", type=int, default=2, help="Ray workers (2)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder")
    args = parser.parse_args()
    info = machine_info()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="ray-scale-") as work:
        results = measure(args, Path(work))
    results.update(
        machine=info,
        date=today(),
        load_average_before=[round(x, 2) for x in load_before],
        load_average_after=[round(x, 2) for x in os.getloadavg()],
        settings={
            "atlas": f"{ATLAS_LAYER}, {args.channels} channels, renderer defaults",
            "batch": f"{args.photos} photos {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]}, notebook defaults",
            "workers": args.workers,
        },
    )
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"ray-scale-{machine_slug(info)}-{today()}"
    stem.with_suffix(".json").write_text(json.dumps(results, indent=1))
    lines = [
        f"# Ray on one machine: {info['cpu']}, {info['cores']} cores, {today()}",
        "",
        f"Load average before {results['load_average_before']}, after "
        f"{results['load_average_after']}; Ray's files identical to one process's: "
        f"{results['ray_files_identical']}.",
        "",
        "| run | items | wall s | per min, whole | per min, steady |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {r['items']} | {r['wall_s']} | {r['whole_rate_per_min']} | "
            f"{r['steady_rate_per_min']} |"
            for name, r in results["rows"].items()
        ),
    ]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
