"""``make bench-video``: how coherent, how fast and how large ``deepdream video`` is (issue 19).

    python -m benchmarks.video                       # open_nsfw, 24 frames at 360x640 (~20 min)
    python -m benchmarks.video --model synthetic --frames 8 --size 90x160 --speed-sizes "" \\
        --rss-size ""                                # a quick look

Coherence: a window panning 3 px right and 1 px down per frame across the sky photo, and a
zoom into its centre by 2 % per frame (../shared's sky1024px.jpg; a procedural texture where
it is absent, said so), each dreamed with the flow (``--flow dis``) and frame by frame
(``--flow none``) with the same settings (the notebook's dream, the video defaults). Reported:
the temporal warping error mean |O_t - warp(O_{t-1})| over the pixels the true motion keeps
visible, the dream strength mean |O_t - I_t| (both 0-255), seconds per frame and the flow's
share of them. The clips are folders of PNG frames (lossless: the input follows the motion
exactly). Speed at larger sizes: a few frames of the pan. Memory: peak RSS of a fresh
``deepdream video`` process on a 1080p MP4 (frames are streamed: the peak must not grow with
the frame count). Writes benchmarks/results/video-<machine>-<date>.{json,md}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before the imports below load TensorFlow

import imageio_ffmpeg
import numpy as np

from benchmarks.machine import machine_info, machine_slug, today
from benchmarks.video_clips import Pan, Zoom, dream_strength, texture, warping_error, write_clip
from conversion.model_files import check_model_arguments
from tf_impl.dream.settings import NOTEBOOK
from tf_impl.images.files import load_rgb, resize_rgb
from tf_impl.models.loading import load_net
from tf_impl.video.sequence import dream_video
from tf_impl.video.settings import DEFAULT_VIDEO, VideoSettings

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SKY = "data/google_deepdream/sky1024px.jpg"
TARGET_ERROR_RATIO, TARGET_STRENGTH_RATIO = 1 / 3, 0.7


def picture(height: int, width: int) -> tuple[np.ndarray, str]:
    """The sky photo scaled to cover (height, width) (RGB uint8), or a procedural texture;
    and which it is."""
    shared = Path(os.environ.get("DEEPDREAM_SHARED", ROOT.parent / "shared"))
    if not (shared / SKY).is_file():
        return texture(height, width), "procedural texture (../shared absent)"
    sky = load_rgb(shared / SKY, quiet=True)
    scale = max(height / sky.shape[0], width / sky.shape[1], 1.0)
    if scale > 1:
        sky = resize_rgb(sky, round(sky.shape[0] * scale), round(sky.shape[1] * scale))
    return sky, f"sky1024px.jpg{f' scaled x{scale:.2f}' if scale > 1 else ''}"


def _size(text: str) -> tuple[int, int]:
    height, width = text.lower().split("x")
    return int(height), int(width)


def dream_clip(net, settings, video: VideoSettings, clip: Path, out: Path, motion) -> dict:
    """Dream ``clip`` (a frame folder) into ``out``; the figures of the result."""
    result = dream_video(net, clip, out, settings, video, seed=0)
    row = {
        "flow": video.flow,
        "frames": result.frames,
        "seconds_per_frame": round(result.seconds / result.frames, 3),
        "flow_share": round(result.flow_seconds / result.seconds, 4),
    }
    if motion is not None:
        row["warping_error"] = round(warping_error(result.frames_dir, motion), 3)
        row["dream_strength"] = round(dream_strength(result.frames_dir, clip), 3)
    return row


def _both(video: VideoSettings) -> tuple[VideoSettings, VideoSettings]:
    """``video`` with the flow, and frame by frame."""
    return video, dataclasses.replace(video, flow="none")


def coherence(net, settings, video, work: Path, frames: int, size: tuple[int, int]) -> dict:
    """Pan and zoom, flow against frame by frame."""
    height, width = size
    rows = {}
    for name, motion in (("pan", Pan()), ("zoom", Zoom())):
        pad = (motion.dy * frames, motion.dx * frames) if name == "pan" else (0, 0)
        source, what = picture(height + pad[0], width + pad[1])
        clip = write_clip(work / f"{name}-in", source, motion, frames, height, width)
        runs = [
            dream_clip(net, settings, v, clip, work / f"{name}-{v.flow}", motion)
            for v in _both(video)
        ]
        flow_run, plain = runs
        rows[name] = {
            "picture": what,
            "runs": runs,
            "error_ratio": round(flow_run["warping_error"] / plain["warping_error"], 3),
            "strength_ratio": round(flow_run["dream_strength"] / plain["dream_strength"], 3),
        }
        print(json.dumps({name: rows[name]}), file=sys.stderr, flush=True)
    return rows


def speed(net, settings, video, work: Path, size: tuple[int, int], frames: int = 4) -> list[dict]:
    """Seconds per frame of a short pan at ``size``, both modes."""
    height, width = size
    source, _ = picture(height + frames, width + 3 * frames)
    clip = write_clip(work / f"speed-{height}", source, Pan(), frames, height, width)
    rows = [
        dream_clip(net, settings, v, clip, work / f"speed-{height}-{v.flow}", None)
        for v in _both(video)
    ]
    for row in rows:
        row["size"] = f"{height}x{width}"
    print(json.dumps(rows), file=sys.stderr, flush=True)
    return rows


def peak_rss(model: str, work: Path, size: tuple[int, int], frame_counts: list[int]) -> list[dict]:
    """Peak RSS (MiB) of a fresh ``deepdream video`` process on an MP4 of ``size``: 1 step per
    octave (the peak is the largest octave's step, whatever the step count)."""
    height, width = size
    frames = max(frame_counts)
    source, _ = picture(height + frames, width + 3 * frames)
    folder = write_clip(work / f"rss-{height}", source, Pan(), frames, height, width)
    clip = work / f"rss-{height}.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-framerate", "24", "-i",
         folder / "frame_%04d.png", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-y", clip],
        check=True,
    )  # fmt: skip
    rows = []
    for count in frame_counts:
        argv = ["video", str(clip), "-o", str(work / f"rss-{count}.mp4"), "--model", model]
        argv += ["--steps", "1", "--frame-steps", "1", "--frames", str(count), "--quiet"]
        code = (
            "import sys\nfrom tf_impl.cli import main\nfrom benchmarks.machine import peak_rss_mb\n"
            f"code = main({argv!r})\nprint(peak_rss_mb())\nsys.exit(code)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
        )
        rows.append(
            {
                "size": f"{height}x{width}",
                "frames": count,
                "peak_rss_mib": float(done.stdout.split()[-1]),
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def side_by_side_gif(work: Path, clip: str, out: Path, caption: str, fps: float = 12) -> Path:
    """A GIF of ``clip``'s two runs side by side (flow left, frame by frame right), each
    labelled, ``caption`` (the model) below."""
    from PIL import Image, ImageDraw

    runs = [sorted((work / f"{clip}-{f}").glob("frame_*.png")) for f in ("dis", "none")]
    pairs = zip(*runs, strict=True)
    labels = ("optical flow (--flow dis)", "frame by frame (--flow none)")
    images = []
    for left, right in pairs:
        tiles = [load_rgb(p, quiet=True) for p in (left, right)]
        height, width = tiles[0].shape[:2]
        canvas = Image.new("RGB", (2 * width + 4, height + 28), "white")
        draw = ImageDraw.Draw(canvas)
        for i, (tile, label) in enumerate(zip(tiles, labels, strict=True)):
            canvas.paste(Image.fromarray(tile), (i * (width + 4), 14))
            draw.text((i * (width + 4) + 2, 1), label, fill="black")
        draw.text((2, height + 15), caption, fill="black")
        images.append(canvas.quantize(colors=64, dither=Image.Dither.NONE))
    images[0].save(out, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return out


def markdown(results: dict) -> str:
    """The tables of docs/video.md."""
    lines = [
        f"model: {results['model']}; settings: {results['settings']}",
        "",
        "| clip | mode | warping error | dream strength | s/frame | flow share |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in results["coherence"].items():
        for run in row["runs"]:
            lines.append(
                f"| {name} ({run['frames']} frames, {results['size']}) | --flow {run['flow']} | "
                f"{run['warping_error']:.2f} | {run['dream_strength']:.2f} | "
                f"{run['seconds_per_frame']:.2f} | {run['flow_share']:.1%} |"
            )
        met = (
            row["error_ratio"] <= TARGET_ERROR_RATIO
            and row["strength_ratio"] >= TARGET_STRENGTH_RATIO
        )
        lines.append(
            f"| {name}: flow / none | | {row['error_ratio']:.3f} (target <= 0.333) | "
            f"{row['strength_ratio']:.3f} (target >= 0.7) | | {'met' if met else 'MISSED'} |"
        )
    for row in results["speed"]:
        lines.append(
            f"\nspeed {row['size']} --flow {row['flow']}: {row['seconds_per_frame']:.2f} s/frame "
            f"over {row['frames']} frames, flow {row['flow_share']:.1%}"
        )
    for row in results["rss"]:
        lines.append(
            f"\npeak RSS {row['size']}, {row['frames']} frames: {row['peak_rss_mib']:.0f} MiB"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="open_nsfw")
    parser.add_argument("--blend", type=float, default=DEFAULT_VIDEO.blend)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", type=_size, default=(360, 640), help="coherence clips, HxW")
    parser.add_argument("--speed-sizes", default="720x1280", help="comma-separated HxW")
    parser.add_argument("--rss-size", default="1080x1920", help="HxW, empty: none")
    parser.add_argument("--rss-frames", default="3,6", help="comma-separated frame counts")
    parser.add_argument("--gif", type=Path, help="also write the pan side by side as a GIF")
    parser.add_argument("--tag", help="appended to the result files' names")
    args = parser.parse_args(argv)

    net = load_net(check_model_arguments(args.model, None))
    layer = net.metadata.get("default_layer") or NOTEBOOK.end
    settings = NOTEBOOK.replace(end=layer)
    video = VideoSettings(blend=args.blend)
    steps = video.steps_after_first(settings.iter_n)
    results = {
        "model": f"{args.model} ({net.metadata.get('weights', 'trained weights')})",
        "settings": (
            f"the notebook's dream at {layer} ({settings.octave_n} octaves, {settings.iter_n} "
            f"steps, step size {settings.step_size}), --blend {video.blend}, "
            f"--frame-steps {steps}, seed 0"
        ),
        "size": f"{args.size[0]}x{args.size[1]}",
        "machine": machine_info(),
    }
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        work = Path(tmp)
        results["coherence"] = coherence(net, settings, video, work, args.frames, args.size)
        if args.gif:
            caption = f"{results['model']}, {layer}: pan 3 px right, 1 px down per frame"
            side_by_side_gif(work, "pan", args.gif, caption)
        sizes = [_size(s) for s in args.speed_sizes.split(",") if s]
        results["speed"] = [
            row for size in sizes for row in speed(net, settings, video, work, size)
        ]
        counts = [int(c) for c in args.rss_frames.split(",")]
        results["rss"] = (
            peak_rss(args.model, work, _size(args.rss_size), counts) if args.rss_size else []
        )
    RESULTS_DIR.mkdir(exist_ok=True)
    tag = f"-{args.tag}" if args.tag else ""
    stem = RESULTS_DIR / f"video-{machine_slug(results['machine'])}-{today()}{tag}"
    Path(f"{stem}.json").write_text(json.dumps(results, indent=1))
    Path(f"{stem}.md").write_text(markdown(results))
    print(markdown(results))
    print(f"wrote {stem}.json and .md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
