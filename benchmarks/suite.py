"""The measurements of ``make bench``, each returning plain JSON-ready records.

Times are seconds (wall clock, plus this process's CPU seconds where useful), memory MiB, work
GFLOP (1e9 floating-point operations), rates GFLOP/s. TensorFlow and Caffe calls alternate
(the order reversed on every repetition), so load from elsewhere and thermal drift hit both;
only sizes too large for both to hold in memory (4K) run one implementation after another.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from benchmarks import machine, process_stats
from benchmarks.flops import step_gflop
from benchmarks.tf_workloads import BARE_MODES, bare_gradient, dream_step, timed
from benchmarks.workers import BenchWorker, step_image
from reference.metrics import nudge_ulp, psnr
from tf_impl.dream.deepdream import DEFAULT_END, deepdream, dreamer_for, jitter_offsets
from tf_impl.dream.objectives import L2
from tf_impl.dream.settings import NOTEBOOK
from tf_impl.net.network import DreamNet

# Name -> (height, width): the sky image's four octaves (notebook defaults), 1080p and 4K.
SIZES = {
    "210x373": (210, 373),
    "294x522": (294, 522),
    "411x731": (411, 731),
    "575x1024": (575, 1024),
    "1080p": (1080, 1920),
    "4K": (2160, 3840),
}
CAFFE = "caffe"
# Above this many megapixels TF and Caffe cannot both hold a step's memory on a 24 GiB machine:
# the contenders then run one after another, not interleaved.
SOLO_MP = 3.0
# Left out above SOLO_MP: eager and XLA TF add their memory to what TF's allocator keeps pooled
# in this one process (4K with all of them: killed at 24 GiB; their peak RSS per variant comes
# from fresh processes instead, benchmarks.memory_rows); the PyTorch peer, in its own process,
# because its 4K step beside TF's pool and Caffe's was not tried on 24 GiB.
SOLO_SKIP = ("tf-eager", "tf-xla", "torch-eager", "torch-compiled")
SKIPPED = f"skipped above {SOLO_MP:g} MP: one process cannot hold every variant's step"
# Pause before each timed step: a framework's idle threads spin on the cores a while before they
# sleep (OpenBLAS's up to 2^28 cycles, ~0.1 s; libgomp's, PyTorch's, 300,000 spins), which
# slowed whichever contender ran next in the interleaved grid.
SETTLE_S = 0.3
# Seed of the one-ulp nudge of the dream image for the float32 chaos floor (any fixed seed).
NUDGE_SEED = 1000


@dataclass
class Contender:
    """One thing timed per step: ``run(image)`` for TF, or a ``worker`` process's step (Caffe,
    the PyTorch peer). ``threads``: a worker's thread pools for the record (TF's are read at
    record time)."""

    impl: str
    device: str
    device_name: str
    run: Callable | None = None
    threads: dict | None = None
    worker: BenchWorker | None = None


def tf_contenders(net: DreamNet, devices: list[dict], mixed: DreamNet | None) -> list[Contender]:
    """The TF ways to take a step, on every device: bare eager / tf.function / XLA, the full
    compiled dream step (``Dreamer.step``, what ``deepdream`` runs), and
    (with a mixed-precision copy) the bare tf.function and the dream step in it."""
    model = net.submodel([DEFAULT_END])
    contenders = []
    for dev in devices:
        for mode in BARE_MODES:
            fn = bare_gradient(model, mode)
            contenders.append(Contender(f"tf-{mode}", dev["device"], dev["name"], fn))
        contenders.append(Contender("tf-dream-step", dev["device"], dev["name"], dream_step(net)))
        if mixed is not None:
            dtype = mixed.metadata["mixed_precision"]
            fn = bare_gradient(mixed.submodel([DEFAULT_END]), "function")
            contenders.append(Contender(f"tf-function-{dtype}", dev["device"], dev["name"], fn))
            step = dream_step(mixed)
            contenders.append(Contender(f"tf-dream-step-{dtype}", dev["device"], dev["name"], step))
    return contenders


def reps_at(megapixels: float, reps: int) -> int:
    """Timed repetitions at a size: ``reps`` up to 1 MP, fewer above (at least 1)."""
    return max(1, min(reps, round(reps / max(megapixels, 1e-9))))


def _tf_once(contender: Contender, image: tf.Tensor) -> dict:
    # No malloc_trim here: the workers keep their heaps between steps, and so does a dream.
    # Trimmed before each step, TF page-faulted its working memory back in: +15 % at 210x373.
    process_stats.reset_peak_rss()
    machine.reset_gpu_peak(contender.device)
    before = process_stats.rss_mb()
    with tf.device(contender.device):
        wall, cpu = timed(contender.run, image)
    return {
        "wall": wall,
        "cpu": cpu,
        "rss_before": before,
        "rss": process_stats.peak_rss_mb(),
        "gpu": machine.gpu_peak_mb(contender.device),
    }


def _worker_once(worker: BenchWorker, height: int, width: int, end: str) -> dict:
    answer = worker.request("step", h=height, w=width, end=end, reps=1)
    return {
        "wall": answer["times_s"][0],
        "cpu": answer["cpu_s"][0],
        "rss_before": answer["rss_before_mb"],
        "rss": answer["peak_rss_mb"],
        "gpu": None,
        "threads": answer["process_threads"],
    }


def _release(*workers: BenchWorker | None) -> None:
    """Give memory back: TF's freed heap, and the workers' (Caffe never shrinks its buffers)
    by restarting them."""
    process_stats.release_memory()
    for worker in workers:
        if worker is not None:
            worker.restart()


def _once(c: Contender, image: tf.Tensor, end: str) -> dict:
    """One timed step, or {'error': message} when it fails (e.g. out of memory at 4K), after
    SETTLE_S for the previous contender's idle threads to stop spinning."""
    time.sleep(SETTLE_S)
    try:
        if c.worker is not None:
            return _worker_once(c.worker, *image.shape[:2], end)
        return _tf_once(c, image)
    except (tf.errors.ResourceExhaustedError, MemoryError, RuntimeError) as error:
        return {"error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"}


def _record(c: Contender, name: str, gflop: float, warm: dict, runs: list[dict]) -> dict:
    height, width = SIZES[name]
    record = {
        "impl": c.impl,
        "device": c.device,
        "device_name": c.device_name,
        "size": name,
        "height": height,
        "width": width,
        "megapixels": round(height * width / 1e6, 4),
        "gflop": round(gflop, 3),
        "first_s": warm.get("wall"),
    }
    failed = [r["error"] for r in [warm, *runs] if "error" in r]
    if failed:
        return {**record, "error": failed[0], "median_s": None, "gflops": None}
    walls = [r["wall"] for r in runs]
    gpu = [r["gpu"] for r in runs if r["gpu"] is not None]
    return {
        **record,
        "times_s": walls,
        "cpu_s": [r["cpu"] for r in runs],
        "median_s": float(np.median(walls)),
        "gflops": gflop / float(np.median(walls)),
        "peak_rss_mb": max(r["rss"] or 0 for r in [warm, *runs]),
        "rss_growth_mb": max((r["rss"] or 0) - (r["rss_before"] or 0) for r in [warm, *runs]),
        "gpu_peak_mb": max(gpu) if gpu else None,
        "process_threads": max(r.get("threads", 0) for r in runs) or None,
    }


def step_grid(
    net: DreamNet,
    contenders: list[Contender],
    worker: BenchWorker | None,
    sizes: list[str],
    reps: int,
    caffe_threads: dict,
    end: str = DEFAULT_END,
) -> list[dict]:
    """Per-step forward + backward records (to blob ``end``) for every contender at every size
    (ascending, so Caffe's never-shrinking buffers make its peak RSS the current size's).

    Each size: one warm-up call per contender (tracing, XLA's per-shape compilation, first
    touch of the memory: a cold 4K step takes up to twice a warm one), then :func:`reps_at`
    timed calls, the contenders alternating. Above :data:`SOLO_MP` they run one after another
    instead, memory released in between (Caffe's 4K step alone holds ~15 GiB).

    A record: impl, device, size, megapixels, gflop, first_s, times_s, cpu_s, median_s,
    gflops, peak_rss_mb, gpu_peak_mb, threads, load_average, interleaved; or ``error`` when a
    call failed (e.g. out of memory).
    """
    everyone = list(contenders)
    if worker is not None:
        everyone.append(Contender(CAFFE, "/CPU:0", "CPU", worker=worker))
    records = []
    for name in sorted(sizes, key=lambda s: math.prod(SIZES[s])):
        height, width = SIZES[name]
        megapixels = height * width / 1e6
        image = tf.constant(step_image(height, width))
        runs = {id(c): [] for c in everyone}
        load_before = process_stats.load_average()
        calls = 1 + reps_at(megapixels, reps)
        solo = megapixels > SOLO_MP
        if solo:  # the biggest memory users first, while the least is held
            _release(*(c.worker for c in everyone))
            for c in sorted(everyone, key=lambda c: (c.impl != CAFFE, c.impl != "tf-xla")):
                if c.impl in SOLO_SKIP:
                    runs[id(c)] = [{"error": SKIPPED}]
                    continue
                for _ in range(calls):
                    if not any("error" in r for r in runs[id(c)]):
                        runs[id(c)].append(_once(c, image, end))
                _release(c.worker)
        for rep in range(0 if solo else calls):
            for c in everyone if rep % 2 == 0 else everyone[::-1]:
                if not any("error" in r for r in runs[id(c)]):
                    runs[id(c)].append(_once(c, image, end))
        gflop = step_gflop(net, end, height, width)
        for c in everyone:
            first, *timed_runs = runs[id(c)]
            record = _record(c, name, gflop, first, timed_runs)
            threads = dict(caffe_threads) if c.impl == CAFFE else c.threads or machine.tf_threads()
            record["threads"] = threads
            record["load_average"] = [load_before, process_stats.load_average()]
            record["interleaved"] = not solo
            records.append(record)
            print(f"  {name} {c.impl}: " + (record.get("error") or f"{record['median_s']:.3f} s"))
    return records


def _tf_dream(net: DreamNet, image, offsets, params: dict, device: str = "/CPU:0"):
    """((wall s, CPU s, peak RSS MiB), dreamed RGB) of one TF ``deepdream``."""
    process_stats.release_memory()
    process_stats.reset_peak_rss()
    wall, cpu = time.perf_counter(), time.process_time()
    with tf.device(device):
        output = deepdream(net, image, NOTEBOOK.replace(**params), offsets=offsets)
    rss = process_stats.peak_rss_mb()
    return (time.perf_counter() - wall, time.process_time() - cpu, rss), output


def _summaries(runs: dict[str, list[tuple]]) -> dict:
    """{who: {times_s, cpu_s, median_s, peak_rss_mb}} from {who: [(wall, cpu, rss)]}."""
    out = {}
    for who, rows in runs.items():
        walls, cpus, rss = (list(column) for column in zip(*rows, strict=True))
        out[who] = {
            "times_s": walls,
            "cpu_s": cpus,
            "median_s": float(np.median(walls)),
            "peak_rss_mb": max((r or 0) for r in rss) or None,
        }
    return out


def full_dream(
    net: DreamNet,
    devices: list[dict],
    worker: BenchWorker | None,
    image: np.ndarray,
    params: dict,
    reps: int,
    workdir: Path,
) -> tuple[dict, np.ndarray]:
    """The notebook's whole ``deepdream`` (``params``: iter_n, octave_n, ...) on ``image``
    with the same jitter offsets in TF (every device) and Caffe, after a one-step-per-octave
    warm-up of each. Returns (record, TF's CPU dream): per-implementation times, the Caffe / TF
    speed-up and the PSNR of TF's dream against Caffe's (float32 arithmetic in different
    orders, amplified over 40 steps: high, not infinite)."""
    octaves = params["octave_n"]
    offsets = jitter_offsets(octaves * params["iter_n"], params["jitter"], seed=0)
    paths = {k: workdir / f"dream_{k}.npy" for k in ("image", "offsets", "warm", "caffe")}
    np.save(paths["image"], image)
    np.save(paths["offsets"], offsets)
    np.save(paths["warm"], offsets[:octaves])
    warm = {**params, "iter_n": 1}
    for dev in devices:
        _tf_dream(net, image, offsets[:octaves], warm, dev["device"])
    if worker is not None:
        worker.request("dream", image=str(paths["image"]), offsets=str(paths["warm"]), params=warm)
    order = [d["device"] for d in devices] + ([CAFFE] if worker is not None else [])
    outputs, runs = {}, {who: [] for who in order}
    for rep in range(reps):
        for who in order if rep % 2 == 0 else order[::-1]:
            if who == CAFFE:
                answer = worker.request(
                    "dream",
                    image=str(paths["image"]),
                    offsets=str(paths["offsets"]),
                    output=str(paths["caffe"]),
                    params=params,
                )
                runs[who].append((answer["wall_s"], answer["cpu_s"], None))
                outputs[who] = np.load(paths["caffe"])
            else:
                run, outputs[who] = _tf_dream(net, image, offsets, params, who)
                runs[who].append(run)
    summary = _summaries(runs)
    record = {"params": params, "size": list(image.shape[:2]), "runs": summary}
    if worker is not None:
        record["caffe_over_tf_cpu"] = summary[CAFFE]["median_s"] / summary["/CPU:0"]["median_s"]
        record["psnr_tf_vs_caffe_db"] = psnr(outputs["/CPU:0"], outputs[CAFFE])
    return record, outputs["/CPU:0"]


def retrace_check(net: DreamNet, second: tuple[int, int] = (300, 400)) -> dict:
    """Dream once more at another image size (2 octaves x 1 step) and count the traces of the
    compiled step this adds: 0 means octave and image sizes never retrace."""
    dreamer = dreamer_for(net, L2(DEFAULT_END))
    before = dreamer.traces
    image = np.full((*second, 3), 128, np.float32)
    deepdream(net, image, NOTEBOOK.replace(octave_n=2, iter_n=1), seed=0)
    return {
        "second_size": list(second),
        "traces_before": before,
        "traces_added": dreamer.traces - before,
    }


def mixed_dream(net: DreamNet, mixed: DreamNet, image: np.ndarray, params: dict, reps: int):
    """Full dream in float32 and in the mixed-precision copy (CPU, same offsets), alternated:
    times, speed-up (float32 / mixed) and quality judged as the suite judges Caffe's: PSNR
    against the float32 dream with one step per octave (the warm-up dreams) and for the whole
    dream, beside the float32 chaos floor, the float32 dream from the image nudged by one ulp
    (:func:`~reference.metrics.nudge_ulp`) against the float32 dream."""
    octaves = params["octave_n"]
    offsets = jitter_offsets(octaves * params["iter_n"], params["jitter"], seed=0)
    nets = {"float32": net, "mixed": mixed}
    one_step = {
        which: _tf_dream(dnet, image, offsets[:octaves], {**params, "iter_n": 1})[1]
        for which, dnet in nets.items()
    }
    outputs, runs = {}, {k: [] for k in nets}
    for rep in range(reps):
        for which in list(nets) if rep % 2 == 0 else list(nets)[::-1]:
            run, outputs[which] = _tf_dream(nets[which], image, offsets, params)
            runs[which].append(run)
    _, nudged = _tf_dream(net, nudge_ulp(image, NUDGE_SEED), offsets, params)
    summary = _summaries(runs)
    return {
        "dtype": mixed.metadata["mixed_precision"],
        "runs": summary,
        "speedup": summary["float32"]["median_s"] / summary["mixed"]["median_s"],
        "psnr_vs_float32_db": psnr(outputs["mixed"], outputs["float32"]),
        "psnr_one_step_per_octave_db": psnr(one_step["mixed"], one_step["float32"]),
        "psnr_float32_nudged_db": psnr(nudged, outputs["float32"]),
    }
