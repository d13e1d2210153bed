"""What is derived from a run's raw results: the matmul ceiling, each step's share of it, and
the issue's targets. Kept apart from the measuring, so ``python -m benchmarks.report`` can
re-derive them from a results JSON.
"""

from __future__ import annotations

import numpy as np

from benchmarks import memory_rows

MAIN_SIZE = "575x1024"
TF_STEP = "tf-dream-step"
# The optional PyTorch peer's rows (benchmarks.torch_peer): the same dream step.
PEERS = ("torch-eager", "torch-compiled")


def matmul_rate(run: dict) -> float:
    """GFLOP/s of one matmul run ({'n', 'times_s'}): 2 n^3 FLOPs over the median time."""
    return 2 * run["n"] ** 3 / float(np.median(run["times_s"])) / 1e9


def ceiling(matmul_runs: dict) -> dict:
    """The machine's float32 ceiling from the matmuls timed at the start and the end of the run:
    per source the better of the two (a drop shows interference, not the machine), per device
    the best source (on CPU: TF's own matmul and OpenBLAS through numpy)."""
    rates = {f"TF {dev}": max(map(matmul_rate, runs)) for dev, runs in matmul_runs["tf"].items()}
    blas = matmul_runs.get("openblas") or []
    if blas:
        rates["OpenBLAS (numpy, Caffe's BLAS)"] = max(map(matmul_rate, blas))
    by_device = {
        dev: max(
            [rates[f"TF {dev}"]]
            + ([rates["OpenBLAS (numpy, Caffe's BLAS)"]] if blas and "CPU" in dev else [])
        )
        for dev in matmul_runs["tf"]
    }
    return {"n": 2048, "rates": rates, "by_device": by_device, "gflops": max(by_device.values())}


def summarize(results: dict) -> dict:
    """Add 'ceiling', each step's 'matmul_fraction', 'main_size' and 'targets' (in place)."""
    results["ceiling"] = ceiling(results["matmul_runs"])
    by_device = results["ceiling"]["by_device"]
    for r in results["steps"]:
        r["matmul_fraction"] = r["gflops"] / by_device[r["device"]] if r["gflops"] else None
    sizes = {r["size"]: r["megapixels"] for r in results["steps"]}
    main = MAIN_SIZE if MAIN_SIZE in sizes else max(sizes, key=sizes.get)
    results["main_size"] = main
    results["peer"] = peer_ratios(results["steps"])
    results["targets"] = targets(results, main)
    return results


def peer_ratios(steps: list[dict]) -> list[dict]:
    """Per size with a TF dream step and a PyTorch peer row (CPU): both times, the best peer
    and ``tf_speed`` = best peer seconds / TF seconds (>= 1: TF's step is ahead; the
    issue's measure). Empty without peer rows."""
    cpu = {(r["impl"], r["size"]): r for r in steps if r["device"] == "/CPU:0"}
    out = []
    for size in dict.fromkeys(r["size"] for r in steps):
        tf_row = cpu.get((TF_STEP, size))
        peers = {p: cpu[(p, size)]["median_s"] for p in PEERS if (p, size) in cpu}
        peers = {p: t for p, t in peers.items() if t}
        if not (tf_row and tf_row["median_s"] and peers):
            continue
        best = min(peers, key=peers.get)
        out.append(
            {
                "size": size,
                "tf_s": tf_row["median_s"],
                "peer_s": peers,
                "best_peer": best,
                "tf_speed": peers[best] / tf_row["median_s"],
            }
        )
    return out


def targets(results: dict, main_size: str) -> list[dict]:
    """The issue's targets with what was measured; a miss is reported as such."""
    steps = {(r["impl"], r["size"]): r for r in results["steps"] if r["device"] == "/CPU:0"}
    bare, step = steps.get(("tf-function", main_size)), steps.get((TF_STEP, main_size))
    xla = steps.get(("tf-xla", main_size))
    out = []

    def add(name, target, measured, met):
        out.append(
            {
                "name": name,
                "target": target,
                "measured": measured,
                "met": met,
                "result": "met" if met else "MISSED",
            }
        )

    dream = results.get("full_dream") or {}
    if "caffe_over_tf_cpu" in dream:
        ratio = dream["caffe_over_tf_cpu"]
        add("full dream, TF vs Caffe (CPU)", ">= 3.5x faster", f"{ratio:.2f}x", ratio >= 3.5)
    if step and bare and step["median_s"] and bare["median_s"]:
        share = step["matmul_fraction"]
        others = f"bare tf.function {100 * bare['matmul_fraction']:.0f} %"
        if xla and xla["median_s"]:
            others += f", XLA {100 * xla['matmul_fraction']:.0f} %"
        add(
            f"TF dream step at {main_size}, share of matmul",
            ">= 75 %",
            f"{100 * share:.0f} % ({step['gflops']:.0f} GFLOP/s; {others})",
            share >= 0.75,
        )
        ratio = step["median_s"] / bare["median_s"]
        measured = f"{ratio:.3f}x ({step['median_s']:.3f} s / {bare['median_s']:.3f} s)"
        add(f"dream step / bare forward+backward at {main_size}", "<= 1.1x", measured, ratio <= 1.1)
    peer = results.get("peer") or []
    if peer:
        measured = ", ".join(f"{p['size']} {p['tf_speed']:.2f}x" for p in peer)
        add(
            "TF dream step vs PyTorch's (best of eager / compiled), every size",
            ">= 1.0x",
            measured,
            all(p["tf_speed"] >= 1.0 for p in peer),
        )
    mixed = results.get("mixed") or {}
    if mixed.get("dtype") == "bfloat16":
        name = "full dream, bfloat16 vs float32 (CPUs with AVX512-BF16 / AMX-BF16)"
        if "skipped" in mixed:
            out.append(
                {
                    "name": name,
                    "target": ">= 1.5x faster",
                    "measured": mixed["skipped"],
                    "met": None,
                    "result": "skipped",
                }
            )
        else:
            ratio = mixed["speedup"]
            quality = (
                f"; PSNR vs float32 {mixed['psnr_vs_float32_db']:.1f} dB (float32 vs nudged "
                f"float32 {mixed['psnr_float32_nudged_db']:.1f} dB), one step per octave "
                f"{mixed['psnr_one_step_per_octave_db']:.1f} dB"
                if "psnr_float32_nudged_db" in mixed
                else ""
            )
            add(name, ">= 1.5x faster", f"{ratio:.2f}x{quality}", ratio >= 1.5)
    retrace = results["retrace"]
    add(
        "traces added by a dream at a new size",
        "0",
        f"{retrace['traces_added']} (step traced {retrace['traces_before']}x before)",
        retrace["traces_added"] == 0,
    )
    for row in memory_rows.targets(results):
        add(*row)
    return out
