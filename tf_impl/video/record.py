"""What identifies a video run (every setting, the seed, the input's and model's contents),
recorded as ``video_state.json`` in its frames folder; a rerun that differs is refused naming
the option (:func:`tf_impl.dream.resume.check_same_run`, the zoom's too). TensorFlow-free, so
the command checks a rerun before TensorFlow loads (all but the objective, which needs the
network) and the run itself checks it whole."""

from __future__ import annotations

import json
from pathlib import Path

from conversion.errors import DeepDreamError
from conversion.outputs import atomic_output
from tf_impl.dream.resume import check_same_run, run_identity
from tf_impl.dream.settings import DreamSettings
from tf_impl.video.files import VideoSource
from tf_impl.video.settings import VIDEO_OPTIONS, VideoSettings

STATE_FILE = "video_state.json"


def video_identity(
    source: VideoSource,
    settings: DreamSettings,
    video: VideoSettings,
    seed: int,
    identity: dict | None,
    dream_options: dict,
) -> dict:
    """The JSON-able identity of a run: ``video``'s settings but the frame count (a rerun may
    dream further), the seed, the input's frame rate, size and SHA-1, ``identity`` (model,
    guides, objective...) and the dream settings."""
    return {
        "seed": seed,
        "flow": video.flow,
        "blend": video.blend,
        "frame_steps": video.steps_after_first(settings.iter_n),
        "start": video.start,
        "fps": source.fps,
        "input video": source.contents(),
        "height": source.height,
        "width": source.width,
        **(identity or {}),
        **run_identity(settings, dream_options),
    }


def check_recorded(frames_dir: Path, run: dict, ignore: tuple[str, ...] = ()) -> bool:
    """Whether ``frames_dir`` holds a recorded run; DeepDreamError naming each option when it
    differs from ``run`` (keys in ``ignore`` not compared), or when it holds frames without a
    record."""
    path = frames_dir / STATE_FILE
    if path.is_file():
        saved = {k: v for k, v in json.loads(path.read_text()).items() if k not in ignore}
        now = {k: v for k, v in run.items() if k not in ignore}
        check_same_run(frames_dir, "video frames", saved, now, VIDEO_OPTIONS)
        return True
    if frames_dir.is_dir() and any(frames_dir.glob("frame_*.png")):
        raise DeepDreamError(
            f"{frames_dir}: holds frame files but no {STATE_FILE}, so what made them is "
            "unknown; use another folder, or delete them"
        )
    return False


def record(frames_dir: Path, run: dict) -> None:
    """Check ``run`` against the folder's record (:func:`check_recorded`), or write it."""
    if not check_recorded(frames_dir, run):
        with atomic_output(frames_dir / STATE_FILE) as tmp:
            tmp.write_text(json.dumps(run, sort_keys=True, indent=1))
