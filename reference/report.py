"""``make report``: the parity evidence on one HTML page, with its figures as PNGs beside it.

    python -m reference.report                  # into build/report/ (a few minutes)
    python -m reference.report --quick          # 97x173 only, no onnx2tf / live Caffe
    python -m reference.report --screenshot reference/report-screenshot.png

Sources: the stored Caffe results (reference/data/*.npz, made by ``make reference``), live
runs of every implementation available here (this project's TF2, ONNX Runtime and onnx2tf on
the exported ONNX file, OpenCV's Caffe importer, and real Caffe when ``make caffe`` built it)
and the latest benchmark JSON in benchmarks/results. All on the seeded synthetic GoogLeNet
(V1 file, seed 0), the weights the stored data were made with. A figure whose source is not
available here is replaced by a line saying which and why.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from conversion.googlenet import googlenet_deploy
from conversion.onnx_export import export_onnx
from reference import cases
from reference import onnx_references as onnx_ref
from reference import pooling_findings as pf
from reference.browser import screenshot
from reference.caffe_job import caffe_available, run_caffe_job
from reference.caffe_pooling import caffe_pool
from reference.generate import build_model, dream_task, forward_job, nudged_image, store_forward
from reference.metrics import max_rel, median_rel, psnr, rel_l2
from reference.opencv_forward import cut_prototxt, opencv_blobs
from tf_impl.dream.deepdream import deepdream, input_gradient
from tf_impl.dream.settings import NOTEBOOK
from tf_impl.models.convert import convert_caffemodel
from tf_impl.net.shapes import blob_shapes, is_empty

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = PROJECT_ROOT / "build" / "report"
BENCH_DIR = PROJECT_ROOT / "benchmarks" / "results"
WEIGHTS = (
    f"synthetic GoogLeNet, seeded (seed {cases.WEIGHTS_SEED}, {cases.WEIGHTS_FORMAT} caffemodel "
    "from conversion.synthetic; the stored Caffe data were made with the same file)"
)
COMMAND = "make report (python -m reference.report)"
DREAM = "inception_4c_output"  # the stored dream shown side by side
STEP_COUNTS = [1, 2, 4, 7, 10]  # iter_n per octave for the PSNR-against-steps figure
AMPLIFY = 8  # difference-map gain


@dataclass
class Page:
    """The report being assembled: HTML sections and the PNGs they reference."""

    out: Path
    sections: list[str] = field(default_factory=list)

    def heading(self, text: str) -> None:
        self.sections.append(f"<h2>{html.escape(text)}</h2>")

    def text(self, text: str) -> None:
        self.sections.append(f"<p>{html.escape(text)}</p>")

    def missing(self, what: str, why: str) -> None:
        self.sections.append(
            f'<p class="missing">Figure not drawn: {html.escape(what)}. {html.escape(why)}</p>'
        )

    def table(self, header: list[str], rows: list[list[str]], caption: str) -> None:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
        )
        self.sections.append(
            f'<p class="caption">{html.escape(caption)}</p>'
            f"<table><tr>{head}</tr>{body}</table>" + self._provenance()
        )

    def figure(self, name: str, draw: Callable, caption: str) -> None:
        """Draw with ``draw(fig)`` into ``name``.png and add it with its caption."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(9, 4.2), dpi=90)
        draw(fig)
        fig.text(0.01, 0.005, f"weights: {WEIGHTS}", fontsize=6, color="#555")
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        fig.savefig(self.out / f"{name}.png")
        plt.close(fig)
        self.sections.append(
            f'<figure><img src="{name}.png" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>" + self._provenance()
        )

    @staticmethod
    def _provenance() -> str:
        return (
            f'<p class="provenance">Weights: {html.escape(WEIGHTS)}. '
            f"Reproduce: <code>{html.escape(COMMAND)}</code>.</p>"
        )

    def write(self, title: str, intro: str) -> Path:
        style = (
            "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
            "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;"
            "padding:3px 8px;font-size:90%}.caption{font-weight:bold}"
            "img{max-width:100%}.missing{color:#a40}.provenance{font-size:80%;color:#555}"
        )
        page = (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p>{html.escape(intro)}</p>{''.join(self.sections)}</body></html>\n"
        )
        path = self.out / "index.html"
        path.write_text(page, encoding="utf-8")
        return path


@dataclass
class Runs:
    """Everything measured, by what is compared: filled by :func:`measure`."""

    sizes: list[tuple[int, int]]
    worst: dict[str, dict[str, float | str]] = field(default_factory=dict)  # impl -> size -> err
    depth: dict[str, list[float]] = field(default_factory=dict)  # impl -> error per blob
    depth_names: list[str] = field(default_factory=list)
    gradients: dict[str, tuple[float, float]] = field(default_factory=dict)  # size -> rel, med
    notes: list[str] = field(default_factory=list)


def _stored_worst(values: dict, arrays: dict, key: str) -> float:

    return max(
        max_rel(values[n][..., arrays[f"{key}/channels/{n}"]], arrays[f"{key}/blob/{n}"])
        for n in cases.BLOBS
    )


@dataclass(frozen=True)
class Model:
    """The synthetic GoogLeNet as files (for Caffe, OpenCV, the exporter) and converted."""

    caffemodel: Path
    prototxt: Path
    net: object  # tf_impl.net.network.DreamNet


def measure(model: Model, quick: bool, workdir: Path) -> Runs:
    """Blob errors of every implementation against the stored Caffe blobs per size, per-blob
    errors along the depth at 97x173 against TF2, and TF2's input-gradient agreement."""

    arrays, _ = _load("forward")
    sizes = [(97, 173)] if quick else list(cases.SIZES)
    runs = Runs(sizes=sizes)
    net, caffemodel, prototxt = model.net, model.caffemodel, model.prototxt
    shapes = blob_shapes(net, 97, 173)
    deploy = googlenet_deploy()
    # The deploy net's layers (Caffe's Split fan-outs of the V1 file are copies, and OpenCV
    # names outputs by the prototxt's layers) that exist at the smallest size.
    in_deploy = {layer.name for layer in deploy.layer}
    names = [n for n in net.blob_names()[1:] if not is_empty(shapes[n]) and n in in_deploy]
    runs.depth_names = names
    onnx_path = workdir / "blobs.onnx"
    export_onnx(caffemodel, onnx_path, outputs=names)
    session = onnx_ref.ort_session(onnx_path)
    cut = cut_prototxt(deploy, set(names), workdir / "cut.prototxt")
    have_onnx2tf = not quick and _importable("onnx2tf")
    if not have_onnx2tf:
        runs.notes.append(
            "onnx2tf: not run (" + ("--quick" if quick else "package not installed") + ")"
        )
    impls: dict[str, Callable] = {
        "this project (TF2)": lambda x, ns: net.blobs(x, ns),
        "ONNX Runtime": lambda x, ns: onnx_ref.ort_blobs(session, x, ns),
        "OpenCV": lambda x, ns: opencv_blobs(cut, caffemodel, x, ns),
    }
    for size in sizes:
        key = cases.size_key(size)
        x = net.preprocess(cases.pixel_image(size))
        for impl, run in impls.items():
            runs.worst.setdefault(impl, {})[key] = _stored_worst(run(x, names), arrays, key)
        if have_onnx2tf:
            model = onnx_ref.onnx2tf_model(onnx_path, size, workdir / "onnx2tf")
            values = onnx_ref.onnx2tf_blobs(model, x, names)
            runs.worst.setdefault("onnx2tf", {})[key] = _stored_worst(values, arrays, key)
            if size == (97, 173):
                runs.depth["onnx2tf"] = _per_blob(values, net.blobs(x, names), names)
        if size == (97, 173):
            ours = net.blobs(x, names)
            for impl in ("ONNX Runtime", "OpenCV"):
                runs.depth[impl] = _per_blob(impls[impl](x, names), ours, names)
        rows, cols = cases.gradient_crop(size)
        gradient = input_gradient(net, x, cases.GRADIENT_END)[rows, cols]
        stored = arrays[f"{key}/gradient"]
        runs.gradients[key] = (rel_l2(gradient, stored), median_rel(gradient, stored))
    if not quick and caffe_available():
        tasks, inputs = forward_job()
        wanted = {cases.size_key(s) for s in sizes}
        fresh = store_forward(run_caffe_job(workdir / "caffe", caffemodel, prototxt, tasks, inputs))
        for key in wanted:
            runs.worst.setdefault("real Caffe (live run)", {})[key] = max(
                max_rel(fresh[f"{key}/blob/{n}"], arrays[f"{key}/blob/{n}"]) for n in cases.BLOBS
            )
    else:
        runs.notes.append(
            "real Caffe live run: not run ("
            + ("--quick" if quick else "pycaffe not built: make caffe")
            + "); its stored results are the reference of every row"
        )
    return runs


def _per_blob(theirs: dict, ours: dict, names: list[str]) -> list[float]:

    return [max_rel(theirs[n], ours[n]) for n in names]


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _load(name: str) -> tuple[dict, dict]:
    path = PROJECT_ROOT / "reference" / "data" / f"{name}.npz"
    with np.load(path) as data:
        return {k: data[k] for k in data.files if k != "metadata"}, json.loads(
            str(data["metadata"])
        )


def implementations_section(page: Page, runs: Runs) -> None:
    keys = [cases.size_key(s) for s in runs.sizes]
    rows = [
        [impl, *(f"{errors[k]:.2e}" if k in errors else "-" for k in keys)]
        for impl, errors in runs.worst.items()
    ]
    page.heading("Implementations against Caffe")
    page.table(
        ["implementation", *keys],
        rows,
        "Worst max relative error (max|x - Caffe| / max|Caffe|) over the stored blobs "
        f"({', '.join(cases.BLOBS)}) per input size; bar 1e-5 (float32 rounding).",
    )
    for note in runs.notes:
        page.text(note)


def depth_section(page: Page, runs: Runs) -> None:
    names = runs.depth_names

    def draw(fig):
        ax = fig.add_subplot(111)
        for impl, errors in runs.depth.items():
            ax.semilogy(range(len(names)), np.maximum(errors, 1e-9), ".-", label=impl, lw=0.8)
        ax.axhline(1e-5, color="red", ls="--", lw=0.8, label="bar 1e-5")
        ticks = [i for i, n in enumerate(names) if n.endswith("output") or "norm" in n]
        ax.set_xticks(ticks, [names[i] for i in ticks], rotation=60, fontsize=6)
        ax.set_ylabel("max rel error vs TF2 (0 drawn as 1e-9)")
        ax.set_title("Per-blob error along the network, 97x173")
        ax.legend(fontsize=7)

    page.heading("Error along the depth of the network")
    page.figure(
        "depth",
        draw,
        f"Every blob ({len(names)}, input to inception_5b/output) of each reference against "
        "this project's TF2, at 97x173 (no stored Caffe value exists for most blobs; TF2's own "
        "agreement with Caffe is the table above).",
    )


def gradient_section(page: Page, runs: Runs) -> None:
    keys = list(runs.gradients)

    def draw(fig):
        ax = fig.add_subplot(111)
        pos = np.arange(len(keys))
        ax.bar(pos - 0.2, [runs.gradients[k][0] for k in keys], 0.4, label="relative L2")
        ax.bar(pos + 0.2, [runs.gradients[k][1] for k in keys], 0.4, label="median pixel error")
        ax.set_yscale("log")
        ax.set_ylim(1e-9, 1e-1)
        ax.set_xticks(pos, keys)
        ax.set_ylabel("TF2 vs Caffe")
        ax.set_title(f"Input gradient of 0.5*sum(a^2) at {cases.GRADIENT_END}")
        ax.legend(fontsize=7)

    page.heading("Input-gradient agreement (TF2 vs Caffe)")
    page.figure(
        "gradient",
        draw,
        "Relative L2 and median per-pixel error of TF2's input gradient against Caffe's "
        "(float32 both). The tests judge both against a float64 ground truth instead "
        "(tests/reference_data.py): a ReLU or max-pool unit within rounding of its kink "
        "takes another branch in either float32 and moves a patch, which shows here as a "
        "larger relative L2 with a small median. ONNX Runtime, onnx2tf and OpenCV have no "
        "input gradient.",
    )


def _tf_dream(net, image, offsets, iter_n: int):

    end = cases.DREAMS[DREAM][0]
    return deepdream(net, image, NOTEBOOK.replace(end=end, iter_n=iter_n), offsets=offsets)


def dream_section(page: Page, net, quick: bool) -> None:

    arrays, _ = _load("dreams")
    kind = "short" if quick else "dream"
    steps = 1 if quick else cases.NOTEBOOK_DEFAULTS["iter_n"]
    caffe = arrays[f"{kind}/{DREAM}"]
    ours = _tf_dream(net, arrays["image"], arrays[f"offsets/{kind}/{DREAM}"], steps)
    value = psnr(ours, caffe)

    def draw(fig):
        diff = np.abs(ours.astype(np.float64) - caffe).mean(axis=-1) * AMPLIFY
        for i, (img, title) in enumerate(
            [
                (caffe, "Caffe (stored)"),
                (ours, "TF2 (same jitter)"),
                (diff, f"|difference| x {AMPLIFY}"),
            ]
        ):
            ax = fig.add_subplot(1, 3, i + 1)
            if img.ndim == 3:
                ax.imshow(np.clip(img, 0, 255).astype(np.uint8))
            else:
                ax.imshow(np.clip(img, 0, 255), cmap="magma", vmin=0, vmax=255)
            ax.set_title(title, fontsize=9)
            ax.axis("off")
        fig.suptitle(f"{DREAM}, 4 octaves x {steps} steps: PSNR {value:.1f} dB", fontsize=10)

    page.heading("Dreams side by side")
    page.figure(
        "dream",
        draw,
        f"The notebook's deepdream ({cases.DREAMS[DREAM][0]}, {steps} step(s) per octave) of "
        "the 200x300 test image on Caffe and on TF2 replaying Caffe's jitter offsets, and "
        f"their mean absolute difference over RGB amplified {AMPLIFY}x.",
    )


def steps_section(page: Page, model: Model, quick: bool, workdir: Path) -> None:
    """PSNR against steps per octave: TF2 vs Caffe, and Caffe vs Caffe from a nudged input."""

    page.heading("Why whole dreams agree only so far")
    if quick or not caffe_available():
        why = "--quick" if quick else "pycaffe is not built here (make caffe)"
        page.missing(
            "PSNR against the number of steps for TF vs Caffe and Caffe vs nudged Caffe",
            f"It needs live Caffe runs at several step counts; {why}. The stored whole-dream "
            "floors (tests/reference_data.py) give the 10-step point: Caffe against itself "
            "from a one-ulp-nudged input scores about 25 dB.",
        )
        return
    end, seed, _ = cases.DREAMS[DREAM]
    tasks = []
    for n in STEP_COUNTS:
        tasks.append(dream_task(f"plain/{n}", end, seed, False, iter_n=n))
        tasks.append(dream_task(f"nudged/{n}", end, seed, False, "nudged", iter_n=n))
    inputs = {"image": cases.dream_image(), "nudged": nudged_image(0)}
    raw = run_caffe_job(workdir / "steps", model.caffemodel, model.prototxt, tasks, inputs)
    tf_vs_caffe, caffe_vs_nudged = [], []
    for n in STEP_COUNTS:
        caffe = raw[f"plain/{n}"]
        ours = _tf_dream(model.net, inputs["image"], raw[f"plain/{n}/offsets"], n)
        tf_vs_caffe.append(psnr(ours, caffe))
        caffe_vs_nudged.append(psnr(raw[f"nudged/{n}"], caffe))

    def draw(fig):
        ax = fig.add_subplot(111)
        ax.plot(STEP_COUNTS, tf_vs_caffe, "o-", label="TF2 vs Caffe (same jitter)")
        ax.plot(STEP_COUNTS, caffe_vs_nudged, "s--", label="Caffe vs Caffe, input nudged 1 ulp")
        ax.set_xlabel("steps per octave (4 octaves)")
        ax.set_ylabel("PSNR, dB")
        ax.set_title(f"{end} dream of the 200x300 test image")
        ax.legend(fontsize=8)

    page.figure(
        "psnr_steps",
        draw,
        "PSNR of the final dream against Caffe's, by steps per octave: TF2 replaying Caffe's "
        "jitter, and Caffe itself from the input moved by one float32 ulp per value. Both "
        "fall as steps add up: a whole dream amplifies rounding-sized differences, so TF2 "
        "cannot agree with Caffe better than Caffe agrees with itself. (Live Caffe run.) "
        + ", ".join(
            f"{n} steps: TF {a:.1f} / nudged {b:.1f} dB"
            for n, a, b in zip(STEP_COUNTS, tf_vs_caffe, caffe_vs_nudged, strict=True)
        ),
    )


def latest_benchmark(results_dir: Path = BENCH_DIR) -> Path | None:
    """The newest full-run benchmark JSON in ``results_dir`` (by its date, then name). Runs
    with mixed-precision rows count too: ``make bench`` always writes them."""
    found = []
    for path in results_dir.glob("*.json"):
        try:
            results = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if results.get("mode") == "full":
            found.append((results.get("date", ""), path.name, path))
    return max(found)[2] if found else None


def benchmark_section(page: Page) -> None:
    page.heading("Speed")
    path = latest_benchmark()
    if path is None:
        page.missing(
            "the benchmark plot", "No full benchmark JSON in benchmarks/results (make bench)."
        )
        return
    results = json.loads(path.read_text())
    steps = [s for s in results["steps"] if s.get("median_s")]
    forward = results.get("forward_only") or []

    def draw(fig):
        ax = fig.add_subplot(111)
        for who in dict.fromkeys(cases.label(s) for s in steps):
            rows = [s for s in steps if cases.label(s) == who]
            rows.sort(key=lambda s: s["megapixels"])
            ax.loglog([r["megapixels"] for r in rows], [r["median_s"] for r in rows], "o-",
                      label=f"{who} (step)")  # fmt: skip
        for impl in dict.fromkeys(r["impl"] for r in forward):
            rows = [r for r in forward if r["impl"] == impl]
            mp = [r["height"] * r["width"] / 1e6 for r in rows]
            ax.loglog(mp, [r["median_s"] for r in rows], "x--", label=f"{impl} (forward only)")
        ax.set_xlabel("megapixels")
        ax.set_ylabel("seconds")
        ax.set_title(f"{results['machine']['cpu']}, {results['machine']['cores']} cores, "
                     f"{results['date']}")  # fmt: skip
        ax.legend(fontsize=7)

    page.figure(
        "benchmark",
        draw,
        f"Seconds per dream step (forward + backward to {results['blob']}) against image size, "
        f"from {path.relative_to(PROJECT_ROOT)} (make bench). "
        + (
            "Forward-only rows: ONNX Runtime (no input gradient) beside TF2's forward."
            if forward
            else "That run predates the ONNX Runtime forward-only rows (make bench adds them)."
        ),
    )


def pooling_section(page: Page, workdir: Path, quick: bool) -> None:

    runtimes = ("ONNX Runtime",) if quick or not _importable("onnx2tf") else pf.RUNTIMES
    findings = pf.measure(caffe_pool, workdir / "pooling", runtimes)
    header = ["Caffe pooling"] + [f"{e}: {r}" for e in pf.ENCODINGS for r in pf.RUNTIMES]
    page.heading("Caffe pooling through ONNX at odd sizes")
    page.table(
        header,
        pf.summary_rows(findings),
        "Verdict at 7x9 / 8x11 against Caffe's pooling loops (ok: max rel <= 1e-6). "
        "'export': this project's ONNX (floor rounding, explicit end pads); 'ceil_mode': the "
        "usual direct translation (ceil_mode=1, symmetric pads, count_include_pad=1).",
    )


def build(out: Path, quick: bool) -> Path:
    """Measure and write ``out``/index.html and its PNGs; returns the page's path."""

    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    page = Page(out)
    with tempfile.TemporaryDirectory(prefix="report-") as tmp:
        workdir = Path(tmp)
        caffemodel, prototxt = build_model(workdir)
        model = Model(caffemodel, prototxt, convert_caffemodel(caffemodel))
        runs = measure(model, quick, workdir)
        implementations_section(page, runs)
        depth_section(page, runs)
        gradient_section(page, runs)
        pooling_section(page, workdir, quick)
        dream_section(page, model.net, quick)
        steps_section(page, model, quick, workdir)
        benchmark_section(page)
    return page.write(
        "DeepDream TF2: parity report",
        "This project's TensorFlow 2 GoogLeNet against real Caffe (stored results of the "
        "original notebook run on Caffe), with OpenCV's Caffe importer, ONNX Runtime and "
        "onnx2tf (both on this project's ONNX export) as further independent references."
        + (" Quick version: 97x173 only, no onnx2tf, no live Caffe." if quick else ""),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference.report", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--quick", action="store_true", help="97x173 only; no onnx2tf/Caffe")
    parser.add_argument("--screenshot", type=Path, help="also save a small PNG of the page")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not (PROJECT_ROOT / "reference" / "data" / "forward.npz").is_file():
        print("stored reference data missing: run `make reference`", file=sys.stderr)
        return 2
    page = build(args.out, args.quick)
    print(f"wrote {page} ({len(list(args.out.glob('*.png')))} figures)")
    if args.screenshot:
        from PIL import Image

        shot = screenshot(page, args.out / "screenshot.png", 1100, 1500)
        with Image.open(shot) as image:
            small = image.convert("RGB").resize((550, 750), Image.LANCZOS)
            small.quantize(128).save(args.screenshot, optimize=True)
        print(f"wrote {args.screenshot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
