"""Markdown tables and a PNG plot from a results JSON written by ``benchmarks.run``.

``python -m benchmarks.report RESULTS.json`` re-derives the ceiling, shares and targets
(:mod:`benchmarks.summary`) and rewrites the ``.md`` and ``.png`` beside it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from benchmarks import memory_rows
from benchmarks.onnx_forward import forward_table
from benchmarks.summary import PEERS, summarize
from reference.cases import LABELS, label


def _columns(steps: list[dict]) -> list[str]:
    return list(dict.fromkeys(label(r) for r in steps))


def _sizes(steps: list[dict]) -> list[str]:
    return list(dict.fromkeys(r["size"] for r in steps))


def _failure(error: str) -> str:
    """Short table text for a failed measurement (the JSON keeps the whole message)."""
    if error.startswith("skipped"):
        return "skipped"
    return "out of memory" if "memory" in error.lower() else "failed"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def step_tables(steps: list[dict]) -> list[str]:
    """Seconds per step (with GFLOP/s and % of the matmul ceiling) and peak RSS tables."""
    columns, by_key = _columns(steps), {(r["size"], label(r)): r for r in steps}
    timing, memory, busy = [], [], []
    for size in _sizes(steps):
        first = next(r for r in steps if r["size"] == size)
        solo = "" if first.get("interleaved", True) else " *"
        head = [f"{first['height']}x{first['width']}{solo}", f"{first['megapixels']:.2f}"]
        cells, rss, cores = [], [], []
        for col in columns:
            r = by_key.get((size, col))
            if r is None or r.get("error"):
                cells.append(_failure(r["error"]) if r else "-")
                rss.append("-")
                cores.append("-")
                continue
            cores.append(f"{float(np.median(r['cpu_s'])) / r['median_s']:.2f}")
            fraction = r.get("matmul_fraction")
            share = f" ({100 * fraction:.0f} %)" if fraction else ""
            cells.append(f"{r['median_s']:.3f} s, {r['gflops']:.0f} GF/s{share}")
            gpu = f" + GPU {r['gpu_peak_mb']:.0f}" if r.get("gpu_peak_mb") else ""
            growth = r.get("rss_growth_mb")
            grown = f" (+{growth:.0f})" if growth is not None else ""
            rss.append(f"{r['peak_rss_mb']:.0f}{grown}{gpu}")
        timing.append([*head, f"{first['gflop']:.1f}", *cells])
        memory.append([*head, *rss])
        busy.append([*head, *cores])
    out = ["### Seconds per step (median), achieved GFLOP/s and share of the matmul ceiling", ""]
    out += _table(["size (HxW)", "MP", "GFLOP/step", *columns], timing)
    if any(not r.get("interleaved", True) for r in steps):
        out += ["", "\\* not interleaved: one implementation after another, memory released "
                "in between (TF and Caffe cannot both hold a step of that size)."]  # fmt: skip
    out += [
        "",
        "### Peak resident memory during a step, MiB: the whole process (+ growth over its size "
        "just before the step; warm-up calls, e.g. XLA's compilation, included)",
        "",
    ]
    out += _table(["size (HxW)", "MP", *columns], memory)
    out += ["", "### Cores kept busy (process CPU seconds / wall seconds, median step)", ""]
    out += _table(["size (HxW)", "MP", *columns], busy)
    return out


def markdown(results: dict) -> str:
    """The whole report: hardware, ceiling, step tables, full dream, targets, mixed precision."""
    m, ceiling = results["machine"], results["ceiling"]
    gpus = ", ".join(g["name"] for g in m["gpus"]) or "no GPU"
    threads = m["tf_threads"]
    caffe = results.get("caffe_info")
    lines = [
        f"## DeepDream benchmarks: {m['cpu']}, {m['cores']} cores, {gpus}",
        "",
        f"{results['date']}, {results['mode']} run ({results['wall_s'] / 60:.1f} min). "
        f"TensorFlow {m['tensorflow']}: {threads['intra_op']} intra-op / {threads['inter_op']} "
        f"inter-op threads, oneDNN {threads['onednn']}.",
    ]
    if caffe:
        blas = caffe["blas"]
        lines.append(
            f"Caffe {caffe['caffe']} (CPU): {blas.get('library')}, {blas.get('threads')} BLAS "
            f"threads (OPENBLAS_NUM_THREADS={caffe['env']['OPENBLAS_NUM_THREADS']})."
        )
    matmul = ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in ceiling["rates"].items())
    lines += [
        f"Ceiling: float32 {ceiling['n']}^3 matmul (the better of the runs at start and end): "
        f"{matmul}; shares below are of the best rate on the row's device. "
        f"Load average (1 min) at start / end: "
        f"{results['load_average'][0]} / {results['load_average'][1]}.",
        f"Network: GoogLeNet (synthetic weights; speed does not depend on them), forward to "
        f"`{results['blob']}` + backward to the input, FLOPs = 4 x multiply-adds.",
        "",
    ]
    lines += step_tables(results["steps"])
    dream = results.get("full_dream")
    if dream:
        p = dream["params"]
        lines += [
            "",
            f"### Full dream: {p['octave_n']} octaves x {p['iter_n']} steps, "
            f"{dream['size'][0]}x{dream['size'][1]} ({dream['image']})",
            "",
        ]
        rows = [
            [LABELS.get(who, f"TF {who}"), f"{r['median_s']:.1f}", str(len(r["times_s"]))]
            for who, r in dream["runs"].items()
        ]
        lines += _table(["implementation", "wall s (median)", "runs"], rows)
        if "psnr_tf_vs_caffe_db" in dream:
            lines.append(f"\nTF vs Caffe dream PSNR: {dream['psnr_tf_vs_caffe_db']:.1f} dB.")
    forward = results.get("forward_only")
    if forward:
        lines += ["", *forward_table(forward)]
    lines += open_nsfw_table(results.get("open_nsfw"))
    lines += memory_rows.markdown(results)
    lines += peer_table(results.get("peer") or [], results["steps"])
    lines += ["", "### Targets", ""]
    rows = [[t["name"], t["target"], t["measured"], t["result"]] for t in results["targets"]]
    lines += _table(["what", "target", "measured", "result"], rows)
    mixed = results.get("mixed")
    if mixed:
        lines += ["", f"### Mixed precision ({mixed['dtype']}, CPU)", "", _mixed_text(mixed)]
    return "\n".join(lines) + "\n"


def open_nsfw_table(record: dict | None) -> list[str]:
    """open_nsfw's dream step: seconds per implementation and size, and each one's time over
    TF's (Caffe / TF above 1: TF is faster)."""
    if not record:
        return []
    if "skipped" in record:
        return ["", f"### open_nsfw dream step: {record['skipped']}"]
    steps = record["steps"]
    by_key = {(r["size"], label(r)): r for r in steps}
    columns = _columns(steps)
    tf_label = label({"impl": "tf-dream-step", "device": "/CPU:0"})
    rows = []
    for size in _sizes(steps):
        tf_row = by_key.get((size, tf_label))
        cells = []
        for col in columns:
            r = by_key.get((size, col))
            if r is None or r.get("error"):
                cells.append(_failure(r["error"]) if r else "-")
                continue
            ratio = ""
            if col != tf_label and tf_row and tf_row.get("median_s"):
                ratio = f" ({r['median_s'] / tf_row['median_s']:.2f}x TF's)"
            cells.append(f"{r['median_s']:.3f} s{ratio}")
        first = next(r for r in steps if r["size"] == size)
        rows.append([f"{first['height']}x{first['width']}", *cells])
    return [
        "",
        f"### open_nsfw (trained ResNet-50) dream step to `{record['blob']}`, seconds (median)",
        "",
        *_table(["size (HxW)", *columns], rows),
    ]


def peer_table(peer: list[dict], steps: list[dict]) -> list[str]:
    """The PyTorch peer's section (none without peer rows): seconds per dream step and TF's
    speed against the best PyTorch step (best PyTorch seconds / TF seconds)."""
    if not peer:
        return []
    info = next(r["threads"] for r in steps if r["impl"] == peer[0]["best_peer"])
    rows = [
        [
            p["size"],
            f"{p['tf_s']:.3f}",
            *(f"{p['peer_s'][k]:.3f}" if k in p["peer_s"] else "-" for k in PEERS),
            f"{p['tf_speed']:.2f}x",
        ]
        for p in peer
    ]
    return [
        "",
        f"### The PyTorch peer: the same dream step (PyTorch {info['torch']}, "
        f"{info['intra_op']} threads, {info['cpu_capability']} kernels, "
        f"OMP_WAIT_POLICY {info['omp_wait_policy']})",
        "",
        *_table(
            ["size", "TF dream step s", *(LABELS[k] + " s" for k in PEERS), "TF speed vs best"],
            rows,
        ),
        "",
        "TF speed vs best = best PyTorch seconds / TF seconds: >= 1.0x means TF's step is ahead.",
    ]


def _mixed_text(mixed: dict) -> str:
    """The mixed-precision paragraph: times, speed-up and PSNRs, or why it was skipped."""
    dtype = mixed["dtype"]
    if "skipped" in mixed:
        return f"{dtype}: {mixed['skipped']}."
    runs = mixed["runs"]
    text = (
        f"Full dream {runs['float32']['median_s']:.1f} s float32 vs "
        f"{runs['mixed']['median_s']:.1f} s {dtype} (speed-up {mixed['speedup']:.2f}x). "
        f"PSNR of the {dtype} dream against the float32 one: "
    )
    if "psnr_one_step_per_octave_db" not in mixed:  # results from before the quality rows
        return text + f"{mixed['psnr_vs_float32_db']:.1f} dB."
    return text + (
        f"{mixed['psnr_one_step_per_octave_db']:.1f} dB with one step per octave, "
        f"{mixed['psnr_vs_float32_db']:.1f} dB for the whole dream, where float32 from the "
        f"image nudged by one ulp scores {mixed['psnr_float32_nudged_db']:.1f} dB against "
        "float32 (every step amplifies rounding differences: the floor of any other "
        "arithmetic)."
    )


def plot(results: dict, path: Path) -> Path:
    """Seconds per step against megapixels, one line per implementation / device (log-log)."""
    import matplotlib  # here: the Agg backend must be chosen before pyplot is imported

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import ScalarFormatter

    steps = results["steps"]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for col in _columns(steps):
        points = sorted(
            (r["megapixels"], r["median_s"]) for r in steps if label(r) == col and r["median_s"]
        )
        style = "--" if col.startswith("Caffe") else "-"
        ax.plot(*zip(*points, strict=True), style, marker="o", label=col)
    ax.set(xscale="log", yscale="log", xlabel="megapixels", ylabel="seconds per step")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(ScalarFormatter())
    m = results["machine"]
    gpus = ", ".join(g["name"] for g in m["gpus"]) or "CPU only"
    ax.set_title(f"forward + backward to {results['blob']}\n{m['cpu']}, {m['cores']} cores, {gpus}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_reports(results: dict, json_path: Path) -> tuple[Path, Path]:
    """Write ``<stem>.md`` and ``<stem>.png`` beside ``json_path``; return their paths."""
    md = json_path.with_suffix(".md")
    md.write_text(markdown(results))
    return md, plot(results, json_path.with_suffix(".png"))


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        results = summarize(json.loads(Path(arg).read_text()))
        Path(arg).write_text(json.dumps(results, indent=1))
        print(*write_reports(results, Path(arg)))
