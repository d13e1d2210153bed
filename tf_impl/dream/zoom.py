"""The notebook's feedback zoom: dream, keep the frame, zoom into the centre, repeat.

    frame = deepdream(frame); save frame
    frame = scipy.ndimage.affine_transform(frame, [1-s, 1-s, 1], [h*s/2, w*s/2, 0], order=1)

Frames stay float between iterations, as in the notebook (only the saved copies are 8-bit).
:func:`run_zoom_sequence` writes each frame as soon as it is finished, together with a small
state file (the float image for the next frame and the jitter generator's state), so an
interrupted run resumes where it stopped and produces exactly the frames an uninterrupted
run would have.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import tensorflow as tf

from conversion.errors import DeepDreamError
from conversion.outputs import atomic_output, remove_stale_temporaries
from tf_impl.dream.deepdream import deepdream, draw_offsets
from tf_impl.dream.resample import affine_zoom_center
from tf_impl.dream.resume import refuse_other_settings
from tf_impl.dream.settings import DreamSettings, ZoomSettings
from tf_impl.images.files import save_rgb
from tf_impl.net.network import DreamNet

STATE_FILE = "zoom_state.npz"
FRAME_PATTERN = "frame_{:04d}.png"


def zoom_in(frame: np.ndarray, s: float) -> np.ndarray:
    """One zoom of the sequence: (H, W, 3) float -> same size, centre enlarged by 1/(1-s)."""
    return affine_zoom_center(tf.constant(frame, tf.float32), s).numpy()


def iter_zoom_frames(
    net: DreamNet,
    frame: np.ndarray,
    settings: DreamSettings,
    s: float,
    frame_offsets: Callable[[int], np.ndarray],
    indices: range,
    **dream_options,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """The loop itself: for each index, yield (index, dreamed frame, next frame's input),
    where the dream (``settings`` and ``dream_options``: :func:`deepdream`'s keywords) uses
    ``frame_offsets(index)`` as its jitter offsets; ``s``: the zoom step. Frames: (H, W, 3)
    RGB 0-255 float32."""
    for index in indices:
        dreamed = deepdream(net, frame, settings, offsets=frame_offsets(index), **dream_options)
        frame = zoom_in(dreamed, s)
        yield index, dreamed, frame


def _save_state(out_dir: Path, next_frame: np.ndarray, index: int, rng, settings: dict):
    _, keys, pos, has_gauss, cached = rng.get_state()
    with atomic_output(out_dir / STATE_FILE) as tmp, open(tmp, "wb") as f:
        np.savez(
            f,
            next_frame=next_frame.astype(np.float32),
            next_index=index,
            rng_keys=keys,
            rng_pos=pos,
            rng_gauss=np.array([has_gauss, cached]),
            settings=json.dumps(settings, sort_keys=True),
        )


def _load_state(out_dir: Path, settings: dict):
    path = out_dir / STATE_FILE
    if not path.is_file():
        return None
    with np.load(path) as data:
        refuse_other_settings(
            json.loads(str(data["settings"])), settings, f"{out_dir} holds a zoom sequence"
        )
        rng = np.random.RandomState()
        has_gauss, cached = data["rng_gauss"]
        rng.set_state(("MT19937", data["rng_keys"], int(data["rng_pos"]), int(has_gauss), cached))
        return data["next_frame"], int(data["next_index"]), rng


def run_zoom_sequence(
    net: DreamNet,
    rgb: np.ndarray,
    out_dir: str | Path,
    settings: DreamSettings,
    zoom: ZoomSettings,
    *,
    seed: int = 0,
    identity: dict | None = None,
    on_frame: Callable[[int, Path], None] | None = None,
    check_frame: Callable[[np.ndarray, np.ndarray], None] | None = None,
    **dream_options,
) -> list[Path]:
    """Dream ``zoom.frames`` zoom frames of ``rgb`` ((H, W, 3) RGB 0-255) into ``out_dir`` as
    frame_0000.png..., resuming a run that was interrupted (same settings) from its last
    finished frame. Each frame is :func:`deepdream` with ``settings`` and ``dream_options``
    (objective, guide, tiling, on_step).

    ``identity`` (JSON-able: model, objective, input...) identifies the run together with
    ``zoom.s``, ``seed`` and the dream settings; give it the inputs' contents (e.g. their SHA-1),
    so that a changed file is noticed. A directory holding a run with other settings is
    refused, as is one whose finished frames are gone; temporary files left by a killed run
    are removed first. ``on_frame(index, path)`` is called after each frame (also for frames
    found already done). ``check_frame(input, dreamed)`` (both (H, W, 3) RGB 0-255 float32)
    sees each newly dreamed frame before anything of it is written; an exception it raises
    stops the run there. Returns the frame paths in order.
    """
    out_dir = Path(out_dir)
    remove_stale_temporaries(out_dir, r"frame_\d{4}", ".png")
    remove_stale_temporaries(out_dir, Path(STATE_FILE).stem, Path(STATE_FILE).suffix)
    identity = {"s": zoom.s, "seed": seed, **(identity or {}), **_identity(settings, dream_options)}
    resumed = _load_state(out_dir, identity)
    if resumed is None:
        frame, start, rng = np.asarray(rgb, np.float32), 0, np.random.RandomState(seed)
    else:
        frame, start, rng = resumed
    paths = [out_dir / FRAME_PATTERN.format(i) for i in range(zoom.frames)]
    missing = [p.name for p in paths[: min(start, zoom.frames)] if not p.is_file()]
    if missing:
        raise DeepDreamError(
            f"{out_dir}: {missing[0]} is missing ({len(missing)} of the {min(start, zoom.frames)} "
            "finished frames are gone), so the sequence cannot be resumed or animated; delete "
            "the directory to start over"
        )
    for index in range(min(start, zoom.frames)):
        if on_frame:
            on_frame(index, paths[index])

    def frame_offsets(index: int) -> np.ndarray:
        return draw_offsets(rng, settings.steps(), settings.jitter)

    frames = range(start, zoom.frames)
    loop = iter_zoom_frames(net, frame, settings, zoom.s, frame_offsets, frames, **dream_options)
    for index, dreamed, next_frame in loop:
        if check_frame:
            check_frame(frame, dreamed)
        frame = next_frame
        save_rgb(paths[index], dreamed)
        _save_state(out_dir, next_frame, index + 1, rng, identity)
        if on_frame:
            on_frame(index, paths[index])
    return paths


def _identity(settings: DreamSettings, dream_options: dict) -> dict:
    """The dream settings that identify a zoom run (with an objective, it names the blob)."""
    params = settings.as_params()
    if dream_options.get("objective") is not None:
        del params["end"]
    return params


def write_animation(frames: list[Path], output: str | Path, fps: float = 10.0) -> Path:
    """Assemble frame images into a GIF or MP4 (by ``output``'s extension) with imageio
    (MP4 through imageio-ffmpeg's bundled ffmpeg), written atomically."""
    output = Path(output)
    suffix = output.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise DeepDreamError(f"{output}: animations must end in .gif or .mp4")
    images = [iio.imread(p) for p in frames]
    with atomic_output(output) as tmp:
        if suffix == ".gif":
            iio.imwrite(tmp, images, extension=".gif", duration=1000.0 / fps, loop=0)
        else:
            # H.264 wants even sizes; crop one pixel row/column if needed.
            h, w = (images[0].shape[0] // 2) * 2, (images[0].shape[1] // 2) * 2
            frames_even = [im[:h, :w] for im in images]
            iio.imwrite(
                tmp, frames_even, extension=".mp4", fps=fps, codec="libx264", macro_block_size=1
            )
    return output
