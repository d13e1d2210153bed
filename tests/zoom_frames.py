"""The notebook's zoom loop in memory, for the tests that compare its frames (with Caffe's,
or tiled with untiled). The library writes frames to disk as they finish
(:func:`tf_impl.dream.zoom.run_zoom_sequence`); both run
:func:`~tf_impl.dream.zoom.iter_zoom_frames`."""

from __future__ import annotations

import numpy as np

from tf_impl.dream.deepdream import draw_offsets
from tf_impl.dream.settings import DreamSettings, ZoomSettings
from tf_impl.dream.zoom import iter_zoom_frames
from tf_impl.net.network import DreamNet


def zoom_sequence_frames(
    net: DreamNet,
    rgb: np.ndarray,
    settings: DreamSettings,
    zoom: ZoomSettings,
    *,
    offsets: np.ndarray | None = None,
    seed: int | None = None,
    **dream_options,
) -> list[np.ndarray]:
    """The float frames (H, W, 3) RGB 0-255 of the notebook's loop.

    ``offsets``: (frames * octave_n * iter_n, 2) jitter offsets consumed frame after frame;
    otherwise drawn from one generator seeded with ``seed`` (as the notebook's global one).
    """
    per_frame = settings.steps()
    rng = np.random.RandomState(seed)

    def frame_offsets(index: int) -> np.ndarray:
        if offsets is not None:
            return np.asarray(offsets)[index * per_frame : (index + 1) * per_frame]
        return draw_offsets(rng, per_frame, settings.jitter)

    start = np.asarray(rgb, np.float32)
    frames = range(zoom.frames)
    loop = iter_zoom_frames(net, start, settings, zoom.s, frame_offsets, frames, **dream_options)
    return [dreamed for _, dreamed, _ in loop]
