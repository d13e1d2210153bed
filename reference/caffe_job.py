"""Run :mod:`reference.notebook_caffe` on real Caffe from the project's venv, as a subprocess.

Caffe lives under Debian's /usr/bin/python3 (numpy 1.x, old protobuf) and must never be
imported here; this module writes the job (a JSON task list plus an ``inputs.npz``) into a
work directory, runs ``reference/caffe_python.sh reference/notebook_caffe.py job.json`` and
reads the raw results back (Caffe layout: blobs and gradients (C, h, w); dreams (H, W, 3)).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np

REFERENCE_DIR = Path(__file__).resolve().parent
CAFFE_PYTHON = REFERENCE_DIR / "caffe_python.sh"
NOTEBOOK = REFERENCE_DIR / "notebook_caffe.py"
PROJECT_ROOT = REFERENCE_DIR.parent
# Caffe's OpenBLAS splits its sums differently with other thread counts (a gradient at
# 200x300 moved by rel L2 0.2 between 1 and 2 threads on a flat image): reference runs use 1.
CAFFE_THREADS = 1


class CaffeUnavailableError(RuntimeError):
    """pycaffe is not built (run ``make caffe``)."""


def pycaffe_dir() -> Path:
    """Where ``make caffe`` puts pycaffe (``$CAFFE_BUILD_DIR`` or build/caffe)."""
    build = os.environ.get("CAFFE_BUILD_DIR", PROJECT_ROOT / "build" / "caffe")
    return Path(build) / "src" / "python"


def caffe_available() -> bool:
    """Is pycaffe built (``make caffe``) and Debian's python3, which runs it, present?"""
    return (pycaffe_dir() / "caffe" / "_caffe.so").exists() and Path("/usr/bin/python3").exists()


def caffe_versions() -> dict[str, str]:
    """numpy / scipy versions on the Caffe side (they shape the reference arithmetic)."""
    code = "import numpy, scipy; print(numpy.__version__, scipy.__version__)"
    out = subprocess.run(
        ["bash", str(CAFFE_PYTHON), "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    return {"numpy": out[0], "scipy": out[1]}


def run_caffe_job(
    workdir: Path,
    caffemodel: Path,
    prototxt: Path,
    tasks: list[dict],
    inputs: dict[str, np.ndarray],
    one_session: bool = False,
    mean: tuple[float, float, float] | None = None,
) -> dict[str, np.ndarray]:
    """Run ``tasks`` (see ``notebook_caffe.run_task``) on Caffe; ``inputs`` maps the keys the
    tasks name to arrays (images (H, W, 3) RGB 0-255, offsets (n, 2) int). Returns the results
    {key: array}. Each task gets a freshly loaded net, unless ``one_session`` (one net for all,
    as in one notebook session: stale diffs then carry over). ``mean``: the net's BGR mean
    (default the notebook's ImageNet mean). Raises CaffeUnavailableError when
    pycaffe is not built and RuntimeError (with Caffe's stderr) when the job fails."""
    if not caffe_available():
        raise CaffeUnavailableError(f"pycaffe not built at {pycaffe_dir()}; run `make caffe`")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    np.savez(workdir / "inputs.npz", **inputs)
    job = {
        "prototxt": str(prototxt),
        "caffemodel": str(caffemodel),
        "inputs": str(workdir / "inputs.npz"),
        "output": str(workdir / "results.npz"),
        "tasks": tasks,
        "one_session": one_session,
    }
    if mean is not None:
        job["mean"] = list(mean)
    (workdir / "job.json").write_text(json.dumps(job, indent=1))
    threads = str(CAFFE_THREADS)
    proc = subprocess.run(
        ["bash", str(CAFFE_PYTHON), str(NOTEBOOK), str(workdir / "job.json")],
        capture_output=True,
        text=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"Caffe job failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    with np.load(workdir / "results.npz") as data:
        return {k: data[k] for k in data.files}
