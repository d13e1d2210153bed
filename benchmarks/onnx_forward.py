"""Forward-only rows: ONNX Runtime on the exported file beside TF2's forward, per size.

What the ONNX route costs: ``deepdream export`` to ``inception_4c/output``, then one ONNX
Runtime session (CPU, same thread count as TF) run at each size; TF2's forward is the
compiled (``tf.function``) sub-model to the same blob. ONNX Runtime has no input gradient, so
it cannot take a dream step: these rows are forward only, unlike the step tables.
"""

from __future__ import annotations

import importlib.util
import statistics
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from benchmarks.suite import SIZES
from conversion.onnx_export import export_onnx
from reference.onnx_references import ort_session, to_nchw
from tf_impl.net.network import DreamNet

BLOB = "inception_4c/output"


def _median_time(run, reps: int) -> tuple[float, list[float]]:
    run()  # warm-up: first-call set-up (graph tracing, session allocation) is not timed
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def forward_rows(
    net: DreamNet, caffemodel: Path, sizes: list[str], reps: int, workdir: Path, threads: int
) -> list[dict]:
    """[{impl, size, height, width, median_s, times_s, gradient}] for ONNX Runtime and TF2's
    forward to BLOB at each named size (see benchmarks.suite.SIZES); ``threads`` intra-op
    threads for ONNX Runtime. Returns [] when onnxruntime is not installed."""
    if importlib.util.find_spec("onnxruntime") is None:
        return []
    onnx_path = Path(workdir) / "forward.onnx"
    export_onnx(caffemodel, onnx_path, outputs=[BLOB])
    session = ort_session(onnx_path, threads)
    forward = tf.function(net.submodel([BLOB]), reduce_retracing=True)
    rows = []
    for name in sizes:
        height, width = SIZES[name]
        image = np.random.default_rng(0).uniform(-120, 120, (height, width, 3)).astype(np.float32)
        batch_nchw, batch_nhwc = to_nchw(image), tf.constant(image[None])
        runs = {
            "onnxruntime": lambda x=batch_nchw: session.run([BLOB], {"data": x}),
            "tf-forward": lambda x=batch_nhwc: forward(x).numpy(),
        }
        for impl, run in runs.items():
            median, times = _median_time(run, reps)
            rows.append(
                {
                    "impl": impl,
                    "size": name,
                    "height": height,
                    "width": width,
                    "median_s": median,
                    "times_s": times,
                    "gradient": impl != "onnxruntime",
                }
            )
            print(f"  forward {impl:12s} {name:>9s}: {median:.3f} s")
    return rows


def forward_table(rows: list[dict]) -> list[str]:
    """Markdown lines: one row per size, ONNX Runtime and TF2 forward seconds and their ratio."""
    if not rows:
        return []
    lines = [
        "### Forward only: ONNX Runtime (exported file) vs TF2",
        "",
        f"Forward to `{BLOB}`, median seconds. ONNX Runtime has no input gradient, so it "
        "cannot run a dream step; this is what the ONNX route costs per forward.",
        "",
        "| size | ONNX Runtime s | TF2 forward s | ONNX Runtime / TF2 |",
        "|---|---|---|---|",
    ]
    by = {(r["impl"], r["size"]): r["median_s"] for r in rows}
    for size in dict.fromkeys(r["size"] for r in rows):
        ort, tf_s = by.get(("onnxruntime", size)), by.get(("tf-forward", size))
        if ort is not None and tf_s is not None:
            lines.append(f"| {size} | {ort:.3f} | {tf_s:.3f} | {ort / tf_s:.2f}x |")
    return lines
