"""``make bench``: TF2 against Caffe, per step and per dream, against the machine's ceiling.

    python -m benchmarks.run             # full run (~15 min on 2 cores), into benchmarks/results
    python -m benchmarks.run --smoke     # one tiny size, one repetition (CI), into a temp dir
    python -m benchmarks.run --mixed bfloat16 --sizes 575x1024 --tag bf16
    python -m benchmarks.run --peer torch  # also the same step in PyTorch (make bench PEER=torch)

Writes ``<machine>-<date>.json`` (every raw time), ``.md`` (the tables) and ``.png`` (seconds
per step against megapixels). Caffe rows need pycaffe (``make caffe``); GPU rows appear when
TensorFlow sees a GPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import benchmarks.quiet  # noqa: F401  (first: TensorFlow loads without its start-up banners)
from benchmarks import machine, memory_rows, onnx_forward, process_stats, suite
from benchmarks.model import dream_image, write_model
from benchmarks.report import write_reports
from benchmarks.summary import summarize
from benchmarks.tf_workloads import STEP_OFFSET, dream_step, matmul_gflops, mixed_precision_net
from benchmarks.workers import caffe_worker, close_all, torch_worker
from conversion.download import cached_files
from conversion.registry import get_model_info
from reference.caffe_job import caffe_available
from reference.cases import NOTEBOOK_DEFAULTS
from tf_impl.dream.settings import NOTEBOOK
from tf_impl.models.loading import convert_named

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SMOKE_SIZE = "210x373"
# open_nsfw (a real trained ResNet-50): its dream step at its default blob at these sizes.
OPEN_NSFW_SIZES = ("575x1024", "1080p")
BF16_SKIP = "skipped: this CPU has neither AVX512-BF16 nor AMX-BF16"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny CI run (about a minute)")
    parser.add_argument("--sizes", help="comma-separated, e.g. 575x1024,1080p (default: all)")
    parser.add_argument("--reps", type=int, help="timed steps per size up to 1 MP (default 4)")
    parser.add_argument("--dream-reps", type=int, default=1, help="timed full dreams each")
    parser.add_argument("--no-caffe", action="store_true", help="skip Caffe even if built")
    parser.add_argument(
        "--mixed",
        choices=["bfloat16", "float16"],
        help="also time a mixed-precision copy (bfloat16 suits CPUs) and its dream's PSNR",
    )
    parser.add_argument(
        "--peer",
        choices=["torch", "torch-compiled"],
        help="also time the same dream step in PyTorch, eager (torch-compiled: and under "
        "torch.compile, which crashed at 1080p here); the optional peer extra, which "
        "make bench PEER=torch installs",
    )
    parser.add_argument("--tag", help="suffix of the result files' names, e.g. bf16")
    parser.add_argument(
        "--out",
        type=Path,
        help="output folder (default benchmarks/results; a temp dir with --smoke)",
    )
    args = parser.parse_args(argv)
    if args.peer and importlib.util.find_spec("torch") is None:
        parser.exit(2, f"--peer {args.peer} needs PyTorch; run `make bench PEER={args.peer}`\n")
    return args


def mixed_runs(dtype: str | None, info: dict) -> bool:
    """Whether to time the ``--mixed`` copy: bfloat16 only where the CPU has bfloat16
    instructions (elsewhere it is emulated, several times slower than float32: the run says
    so and its bfloat16 target is skipped, not failed)."""
    if dtype == "bfloat16" and not info["cpu_bf16"]:
        print(f"bfloat16: {BF16_SKIP}")
        return False
    return dtype is not None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    sizes = (
        args.sizes.split(",") if args.sizes else [SMOKE_SIZE] if args.smoke else list(suite.SIZES)
    )
    unknown = [s for s in sizes if s not in suite.SIZES]
    if unknown:
        sys.exit(f"unknown size(s) {unknown}; known: {', '.join(suite.SIZES)}")
    reps = args.reps or (1 if args.smoke else 4)
    info = machine.machine_info()
    devices = [{"device": "/CPU:0", "name": info["cpu"]}, *info["gpus"]]
    use_caffe = not args.no_caffe and caffe_available()
    print(
        f"{info['cpu']}, {info['cores']} cores, GPUs: {info['gpus'] or 'none'}; "
        f"Caffe: {'yes' if use_caffe else 'no'}; sizes {sizes}"
    )
    out_dir = args.out or (
        Path(tempfile.mkdtemp(prefix="bench-smoke-")) if args.smoke else RESULTS_DIR
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "-".join(
        [machine.machine_slug(info), machine.today()]
        + (["smoke"] if args.smoke else [])
        + ([args.tag] if args.tag else [])
    )

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        caffemodel, prototxt, net = write_model(workdir)
        mixed = mixed_precision_net(net, args.mixed) if mixed_runs(args.mixed, info) else None
        worker = caffe_worker(prototxt, caffemodel) if use_caffe else None
        peers = peer_contenders(args.peer, caffemodel, net)
        try:
            results = run_all(args, info, devices, net, mixed, worker, sizes, reps, workdir, peers)
            results["open_nsfw"] = open_nsfw_steps(args, reps, use_caffe)
            print("forward only: ONNX Runtime vs TF2")
            results["forward_only"] = onnx_forward.forward_rows(
                net, caffemodel, sizes, reps, workdir, info["cores"]
            )
            print("memory: fresh processes per variant, tiled dreams, tiled gradient")
            net.save(workdir / "bench.keras")
            results["memory"] = memory_rows.measure(
                net, workdir / "bench.keras", workdir, args.smoke
            )
        finally:
            close_all(worker, *(p.worker for p in peers))
    results["wall_s"] = time.perf_counter() - started
    summarize(results)

    json_path = out_dir / f"{stem}.json"
    for n in range(2, 100):  # never overwrite an earlier run's raw data
        if not json_path.exists():
            break
        json_path = out_dir / f"{stem}-{n}.json"
    json_path.write_text(json.dumps(results, indent=1))
    md, png = write_reports(results, json_path)
    print(md.read_text())
    print(f"wrote {json_path}, {md}, {png}")
    return 0


def peer_contenders(
    peer: str | None,
    caffemodel: Path,
    net,
    prototxt: Path | None = None,
) -> list[suite.Contender]:
    """The ``--peer`` contenders (none without it): the PyTorch peer's dream step in a worker
    process of its own (benchmarks.torch_peer), eager, and with ``torch-compiled`` also under
    ``torch.compile``; TensorFlow's intra-op thread count and the TF step's offset, step
    size, clip and bounds (``benchmarks.tf_workloads.dream_step``).

    The compiled one is opt-in: with PyTorch 2.13.0's inductor on a 2-core Xeon (AVX-512) its
    step corrupted the heap at 1920x1080 (glibc aborts) and under AVX2 emulation raised
    out-of-range indices at 210x373 and 575x1024. The ``aot_eager`` backend and inductor
    without vector kernels (``cpp.vec_isa_ok = False``) ran 1080p soundly, and the pooling and
    LRN functions compiled alone were exact: inductor's vectorised C++ for the whole graph is
    at fault. Eager was sound at every size."""
    if peer is None:
        return []
    lower, upper = net.input_bounds()
    settings = {
        "lower": np.asarray(lower, np.float32).tolist(),
        "upper": np.asarray(upper, np.float32).tolist(),
        "pixel_scale": float(net.scale),
        "offset": list(STEP_OFFSET),
        "step_size": NOTEBOOK.step_size,
        "clip": NOTEBOOK.clip,
        "threads": machine.tf_threads()["intra_op"],
    }
    out = []
    for label in ("torch-eager", "torch-compiled"):
        if label == "torch-compiled" and peer != "torch-compiled":
            continue
        compiled = {"compiled": label == "torch-compiled"}
        worker = torch_worker(caffemodel, prototxt, {**settings, **compiled})
        threads = worker.request("info")
        out.append(suite.Contender(label, "/CPU:0", "CPU", threads=threads, worker=worker))
    return out


def open_nsfw_steps(args, reps: int, use_caffe: bool) -> dict:
    """open_nsfw's dream step (forward to its default blob + input gradient + update) in TF,
    Caffe and the ``--peer``, interleaved as GoogLeNet's, at OPEN_NSFW_SIZES (the smoke size
    with ``--smoke``); ``{"skipped": why}`` where open_nsfw is not cached (`make open-nsfw`)."""
    info = get_model_info("open_nsfw")
    paths = cached_files(info)
    if paths is None:
        note = "skipped: open_nsfw is not in the cache (make open-nsfw fetches it)"
        print(f"open_nsfw: {note}")
        return {"skipped": note}
    caffemodel, prototxt = paths[0], paths[-1]
    net, end = convert_named(info.name, caffemodel, prototxt), info.default_layer
    sizes = [SMOKE_SIZE] if args.smoke else list(OPEN_NSFW_SIZES)
    print(f"open_nsfw per step: forward + backward to {end}")
    contenders = [suite.Contender("tf-dream-step", "/CPU:0", "CPU", dream_step(net, end))]
    peers = peer_contenders(args.peer, caffemodel, net, prototxt)
    contenders += peers
    worker = caffe_worker(prototxt, caffemodel) if use_caffe else None
    try:
        caffe_info = worker.request("info") if worker else {}
        blas_threads = {**caffe_info.get("blas", {}), "env": caffe_info.get("env")}
        steps = suite.step_grid(net, contenders, worker, sizes, reps, blas_threads, end)
    finally:
        close_all(worker, *(p.worker for p in peers))
    return {"blob": end, "weights": "open_nsfw (trained, Yahoo)", "steps": steps}


def run_all(args, info, devices, net, mixed, worker, sizes, reps, workdir, peers=()) -> dict:
    """Every measurement in order; returns the raw results (see benchmarks.summary for what is
    derived from them)."""

    load_start = process_stats.load_average()
    caffe_info = worker.request("info") if worker else None
    matmul_reps = 2 if args.smoke else 5
    tf_matmul = {d["device"]: [matmul_gflops(2048, matmul_reps, d["device"])] for d in devices}
    blas = [worker.request("matmul", n=2048, reps=matmul_reps)] if worker else []

    print("per step: forward + backward to inception_4c/output")
    contenders = suite.tf_contenders(net, devices, mixed) + list(peers)
    blas_threads = {**(caffe_info or {}).get("blas", {}), "env": (caffe_info or {}).get("env")}
    steps = suite.step_grid(net, contenders, worker, sizes, reps, blas_threads)
    for c in contenders:
        if hasattr(c.run, "experimental_get_tracing_count"):
            for r in steps:
                if r["impl"] == c.impl and r["device"] == c.device:
                    r["function_traces"] = c.run.experimental_get_tracing_count()

    print("full dream")
    # The notebook's own arguments: Caffe's port runs the same dream and takes no others.
    params = {**NOTEBOOK_DEFAULTS, "end": NOTEBOOK.end}
    if args.smoke:
        image, source = dream_image(150, 266)
        params.update(octave_n=2, iter_n=2)
    else:
        image, source = dream_image()
    dream, tf_dream = suite.full_dream(
        net, devices, worker, image, params, args.dream_reps, workdir
    )
    dream["image"] = source
    retrace = suite.retrace_check(net)
    mixed_record = {"dtype": args.mixed, "skipped": BF16_SKIP} if args.mixed else None
    if mixed is not None:
        print(f"mixed precision ({args.mixed}) full dream")
        mixed_record = suite.mixed_dream(net, mixed, image, params, args.dream_reps)

    # The ceiling again at the end: drift shows as a difference between the two.
    for d in devices:
        tf_matmul[d["device"]].append(matmul_gflops(2048, matmul_reps, d["device"]))
    if worker:
        blas.append(worker.request("matmul", n=2048, reps=matmul_reps))
    return {
        "schema": 1,
        "mode": "smoke" if args.smoke else "full",
        "date": machine.today(),
        "machine": info,
        "blob": NOTEBOOK.end,
        "weights": "synthetic GoogLeNet, seed 0 (V1 caffemodel; same file for TF and Caffe)",
        "caffe_info": caffe_info,
        "caffe_worker_restarts": worker.restarts if worker else None,
        "load_average": [load_start, process_stats.load_average()],
        "matmul_runs": {"tf": tf_matmul, "openblas": blas},
        "steps": steps,
        "full_dream": dream,
        "retrace": retrace,
        "mixed": mixed_record,
        "tf_dream_checksum": float(tf_dream.astype("float64").sum()),
    }


if __name__ == "__main__":
    sys.exit(main())
