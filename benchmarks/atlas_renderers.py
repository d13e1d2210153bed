"""Both atlas renderers judged on a trained network (open_nsfw): how strongly each picture
excites its channel compared with the best real photograph, whether it still does after a
random transformation, and seconds per channel (``make bench-renderers``).

For ``--channels`` channels of an early and a late blob, at each renderer's defaults:

- activation reached: the rendered picture's (uint8, as the atlas stores it) mean channel
  activation over all positions, divided by the best dataset example's: the receptive-field
  crops (:func:`tf_impl.atlas.dataset_crops.dataset_examples` over the built-in photographs)
  fed at their own resolution, mean over their positions, the highest of the channel's crops.
  Median (and quartiles) over the channels.
- robustness: the same ratio for the picture shifted by up to +-16 px, scaled by 0.9-1.1 and
  rotated by up to +-10 degrees (bilinear, mean-colour fill), averaged over ``DRAWS`` seeded
  draws per channel.
- seconds per channel: wall and CPU time of the whole render / channels (tracing included).

Writes benchmarks/results/<machine>-<date>-renderers.{json,md} and the side-by-side picture
docs/images/atlas_renderers.png (128 colours). On a shared machine the wall time grows with
the load: the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.machine import machine_info, machine_slug, today
from tf_impl.atlas.atlas_dir import make_renderer
from tf_impl.atlas.contact_sheet import labelled_grid
from tf_impl.atlas.dataset_crops import builtin_images, dataset_examples
from tf_impl.atlas.render_settings import LucidSettings, RenderSettings
from tf_impl.models.loading import load_net

BLOBS = ("eltwise_stage1_block1", "eltwise_stage3_block1")
DRAWS = 4
RESULTS = Path(__file__).parent / "results"
PICTURE = Path(__file__).parent.parent / "docs" / "images" / "atlas_renderers.png"


def mean_activation(net, rgb: np.ndarray, blob: str, channel: int) -> float:
    """Mean over positions of ``channel`` of ``blob`` for an (H, W, 3) RGB 0-255 image."""
    return float(net.blobs(net.preprocess(rgb), [blob])[blob][..., channel].mean())


def best_example(net, images, examples, blob: str, channel: int) -> float:
    """The highest mean activation of the channel's receptive-field crops, each fed alone."""
    values = []
    for crop in examples[blob][channel].crops:
        top, left, bottom, right = crop.box
        piece = images[crop.image][1][top:bottom, left:right]
        values.append(mean_activation(net, piece, blob, channel))
    return max(values)


def transformed(rgb: np.ndarray, rng: np.random.RandomState, fill) -> np.ndarray:
    """``rgb`` scaled by 0.9-1.1, rotated by +-10 degrees and shifted by +-16 px about its
    centre (bilinear, ``fill`` outside), same size."""
    scale = rng.uniform(0.9, 1.1)
    angle = rng.uniform(-10, 10)
    dx, dy = rng.uniform(-16, 16, 2)
    image = Image.fromarray(rgb)
    side = image.width
    grown = image.resize((round(side * scale),) * 2, Image.Resampling.BILINEAR)
    turned = grown.rotate(angle, Image.Resampling.BILINEAR, fillcolor=fill)
    canvas = Image.new("RGB", (side, side), fill)
    offset = ((side - turned.width) // 2 + round(dx), (side - turned.height) // 2 + round(dy))
    canvas.paste(turned, offset)
    return np.asarray(canvas)


def measure(net, settings, blob, channels, images, examples) -> dict:
    """Ratios and timings of one renderer on ``channels`` of ``blob``."""
    renderer = make_renderer(net, settings, blob)
    start, cpu = time.perf_counter(), time.process_time()
    pictures = {}
    for first in range(0, len(channels), settings.batch):
        members = channels[first : first + settings.batch]
        pictures.update({c: p[""] for c, p in renderer.pictures(members).items()})
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    fill = tuple(round(m) for m in net.mean[::-1]) if net.channel_order == "BGR" else (128,) * 3
    ratios, robust = [], []
    for channel in channels:
        best = best_example(net, images, examples, blob, channel)
        ratios.append(mean_activation(net, pictures[channel], blob, channel) / best)
        rng = np.random.RandomState(channel)
        moved = [transformed(pictures[channel], rng, fill) for _ in range(DRAWS)]
        robust.append(np.mean([mean_activation(net, m, blob, channel) for m in moved]) / best)
    return {
        "ratio": _summary(ratios),
        "robust_ratio": _summary(robust),
        "seconds_per_channel": wall / len(channels),
        "cpu_seconds_per_channel": cpu / len(channels),
        "load_average": os.getloadavg()[0],
        "pictures": pictures,
    }


def _summary(values) -> dict:
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return {
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
        "all": list(map(float, values)),
    }


def side_by_side(results: dict, shown: int = 4) -> Image.Image:
    """Rows: blob x renderer; columns: the first ``shown`` channels, labelled."""
    tiles = []
    for per_renderer in results.values():
        for name, result in per_renderer.items():
            for channel in list(result["pictures"])[:shown]:
                tiles.append((result["pictures"][channel], f"{name}, channel {channel}"))
    rows = "; ".join(f"{blob}: {', '.join(per)}" for blob, per in results.items())
    return labelled_grid(
        tiles,
        tile_size=128,
        columns=shown,
        title=["open_nsfw, the same channels by both renderers", f"rows: {rows}"],
        caption_size=11,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=32)
    args = parser.parse_args()
    net = load_net("open_nsfw")
    images = builtin_images()
    examples = dataset_examples(net, images, BLOBS)
    channels = list(range(args.channels))
    renderers = {"notebook": RenderSettings(), "lucid": LucidSettings()}
    results = {
        blob: {
            name: measure(net, settings, blob, channels, images, examples)
            for name, settings in renderers.items()
        }
        for blob in BLOBS
    }
    PICTURE.parent.mkdir(exist_ok=True)
    side_by_side(results).quantize(128).save(PICTURE, optimize=True)  # small, for the README
    info = machine_info()
    stem = RESULTS / f"{machine_slug(info)}-{today()}-renderers"
    record = {
        "machine": info,
        "channels": args.channels,
        "images": [name for name, _ in images],
        "settings": {name: s.as_dict() for name, s in renderers.items()},
        "results": {
            blob: {n: {k: v for k, v in r.items() if k != "pictures"} for n, r in per.items()}
            for blob, per in results.items()
        },
    }
    stem.with_suffix(".json").write_text(json.dumps(record, indent=1))
    lines = [
        "| blob | renderer | activation ratio, median (q1-q3) | after transform, median "
        "(q1-q3) | s / channel (CPU s) | load |",
        "|---|---|---|---|---|---|",
    ]
    for blob, per in record["results"].items():
        for name, r in per.items():
            a, b = r["ratio"], r["robust_ratio"]
            lines.append(
                f"| {blob} | {name} | {a['median']:.2f} ({a['q1']:.2f}-{a['q3']:.2f}) | "
                f"{b['median']:.2f} ({b['q1']:.2f}-{b['q3']:.2f}) | "
                f"{r['seconds_per_channel']:.2f} ({r['cpu_seconds_per_channel']:.2f}) | "
                f"{r['load_average']:.1f} |"
            )
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
