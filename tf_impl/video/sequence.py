"""Dream a video frame by frame, coherently and resumably.

    frame 0:  O_0 = deepdream(I_0, iter_n steps)
    frame t:  D = warp(O_{t-1} - I_{t-1}) along the flow I_t -> I_{t-1}, 0 where occluded
              O_t = deepdream(clip(I_t + blend * D), frame_steps steps)
    (--flow none: O_t = deepdream(I_t, iter_n steps), every frame on its own)

Each frame is written (an 8-bit PNG, atomically) as soon as it is finished, and the next frame
starts from that written frame, so a rerun after an interruption reads the last finished frame
back and continues with exactly the frames an uninterrupted run makes: each frame's jitter
comes from a seed derived from ``--seed`` and the frame's index in the input. The run's
identity (settings, seed, the input's and model's SHA-1) is recorded in the frames folder; a
rerun with anything else is refused naming the option, and a lock keeps two processes out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conversion.locks import directory_lock
from conversion.outputs import remove_stale_temporaries
from tf_impl.dream.deepdream import deepdream
from tf_impl.dream.settings import DreamSettings
from tf_impl.images.files import load_rgb, save_rgb, to_uint8
from tf_impl.net.network import DreamNet
from tf_impl.video.files import (
    FRAME_PATTERN,
    VideoSource,
    check_video_output,
    encode,
    frames_dir_for,
    open_video,
)
from tf_impl.video.flow import FlowCarrier
from tf_impl.video.record import STATE_FILE, record, video_identity
from tf_impl.video.settings import DEFAULT_VIDEO, VideoSettings


@dataclass(frozen=True)
class FrameDone:
    """One finished frame: its output ``index``, ``path``, ``seconds`` spent on it (0 for a
    frame found done by a resumed run), of which ``flow_seconds`` on the flow and warp."""

    index: int
    path: Path
    seconds: float = 0.0
    flow_seconds: float = 0.0
    resumed: bool = False


@dataclass(frozen=True)
class VideoResult:
    """A dreamed video: the ``output``, its ``frames_dir``, the ``frames`` in it and how many
    were ``resumed`` (found done), the frame rate, and the seconds spent on the new frames
    (``flow_seconds`` of them on the flow)."""

    output: Path
    frames_dir: Path
    frames: int
    resumed: int
    fps: float
    seconds: float
    flow_seconds: float


def frame_seed(seed: int, index: int) -> int:
    """The jitter seed of input frame ``index`` (0 to 2**32 - 1), derived from ``seed``."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def dream_frames(
    net: DreamNet,
    source: VideoSource,
    frames_dir: str | Path,
    settings: DreamSettings,
    video: VideoSettings = DEFAULT_VIDEO,
    *,
    seed: int = 0,
    identity: dict | None = None,
    on_frame: Callable[[FrameDone], None] | None = None,
    check_frame: Callable[[np.ndarray, np.ndarray], None] | None = None,
    **dream_options,
) -> list[FrameDone]:
    """Dream the frames :meth:`VideoSource.part` selects into ``frames_dir`` (made if needed)
    as frame_000000.png..., resuming a run interrupted with the same settings. Each frame is
    :func:`deepdream` with ``settings`` (``iter_n`` replaced by ``video``'s steps after the
    first frame) and ``dream_options`` (objective, guide, tiling, on_step).

    ``identity`` (JSON-able: model, objective...) identifies the run together with ``video``,
    ``seed``, the input's contents and the dream settings; give it the model's SHA-1. A folder
    holding a run with other settings is refused. ``on_frame`` sees each frame as it is done
    (also those found done); ``check_frame(start, dreamed)`` ((H, W, 3) RGB 0-255 float32) sees
    each newly dreamed frame before it is written (an exception it raises stops the run).
    Returns the frames in order."""
    frames_dir = Path(frames_dir)
    indices = source.part(video.start, video.frames)
    created = not frames_dir.exists()
    frames_dir.mkdir(exist_ok=True)
    try:
        with directory_lock(frames_dir):
            remove_stale_temporaries(frames_dir, r"frame_\d{6}", ".png")
            remove_stale_temporaries(frames_dir, Path(STATE_FILE).stem, Path(STATE_FILE).suffix)
            run = video_identity(source, settings, video, seed, identity, dream_options)
            record(frames_dir, run)
            return _dream_loop(
                net, source, frames_dir, settings, video, indices, seed,
                on_frame, check_frame, dream_options,
            )  # fmt: skip
    except BaseException:
        if created and not any(frames_dir.glob("frame_*.png")):  # nothing finished: no trace
            (frames_dir / STATE_FILE).unlink(missing_ok=True)
            frames_dir.rmdir()
        raise


def _dream_loop(
    net, source, frames_dir, settings, video, indices, seed, on_frame, check_frame, options
) -> list[FrameDone]:
    paths = [frames_dir / FRAME_PATTERN.format(i) for i in range(len(indices))]
    done = next((i for i, p in enumerate(paths) if not p.is_file()), len(paths))
    finished = [FrameDone(i, paths[i], resumed=True) for i in range(done)]
    for frame in finished:
        if on_frame:
            on_frame(frame)
    carrier = FlowCarrier() if video.flow != "none" else None
    later = settings.replace(iter_n=video.steps_after_first(settings.iter_n))
    previous = previous_dream = None
    first_read = done
    if carrier is not None and done > 0:  # resumed: start from the last finished frame
        previous_dream, first_read = load_rgb(paths[done - 1], quiet=True), done - 1
    frames = (
        source.read(indices[first_read], len(indices) - first_read) if done < len(paths) else ()
    )
    for index, rgb in enumerate(frames, start=first_read):
        if index < done:
            previous = rgb
            continue
        began = time.perf_counter()
        start, flow_seconds = np.asarray(rgb, np.float32), 0.0
        if carrier is not None and previous is not None:
            detail, _ = carrier.carry(previous, previous_dream, rgb)
            start = np.clip(start + np.float32(video.blend) * detail, 0, 255)
            flow_seconds = time.perf_counter() - began
        frame_settings = settings if index == 0 else later
        dreamed = deepdream(
            net, start, frame_settings, seed=frame_seed(seed, indices[index]), **options
        )
        if check_frame and frame_settings.iter_n:
            check_frame(start, dreamed)
        previous, previous_dream = rgb, to_uint8(dreamed)
        save_rgb(paths[index], previous_dream)
        frame = FrameDone(index, paths[index], time.perf_counter() - began, flow_seconds)
        finished.append(frame)
        if on_frame:
            on_frame(frame)
    return finished


def dream_video(
    net: DreamNet,
    input: str | Path,
    output: str | Path,
    settings: DreamSettings,
    video: VideoSettings = DEFAULT_VIDEO,
    **options,
) -> VideoResult:
    """Dream ``input`` (a video file or a folder of frames) into ``output``: an .mp4 (the
    input's audio copied unchanged) or .gif beside a frames folder (``<stem>.frames``, kept:
    it is what a rerun resumes from), or a folder of frames itself. The frame rate is kept.
    ``options``: :func:`dream_frames`'s keywords (seed, identity, on_frame, check_frame and
    :func:`deepdream`'s). An interrupted run is resumed by calling again."""
    source = open_video(input, video.fps)
    output = check_video_output(output, source)
    frames_dir = frames_dir_for(output)
    frames = dream_frames(net, source, frames_dir, settings, video, **options)
    if output != frames_dir:
        encode(frames_dir, len(frames), output, source, video.start)
    new = [f for f in frames if not f.resumed]
    return VideoResult(
        output,
        frames_dir,
        len(frames),
        len(frames) - len(new),
        source.fps,
        sum(f.seconds for f in new),
        sum(f.flow_seconds for f in new),
    )
