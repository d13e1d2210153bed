"""A video dream's own settings (the dream's are :class:`~tf_impl.dream.settings.DreamSettings`),
checked when made, before TensorFlow loads."""

from __future__ import annotations

from dataclasses import dataclass

from conversion.errors import DeepDreamError
from tf_impl.dream.settings import is_int, is_real

FLOWS = ("dis", "none")
"""``dis``: OpenCV's DIS optical flow carries the dream along the motion (the default);
``none``: every frame dreamed on its own (the frame-by-frame baseline)."""

DEFAULT_BLEND = 0.8
"""Share of the previous frame's warped dream detail that the next frame starts from."""

FOLDER_FPS = 24.0
"""Frame rate of a folder of frames unless ``--fps`` says otherwise."""

# Identity keys of a video run and their CLI options (the dream settings name theirs).
VIDEO_OPTIONS = {
    "flow": "--flow",
    "blend": "--blend",
    "frame_steps": "--frame-steps",
    "start": "--start",
    "frames": "--frames",
    "fps": "--fps",
    "seed": "--seed",
    "precision": "--precision",
}


@dataclass(frozen=True)
class VideoSettings:
    """How frames follow each other. ``flow``: one of :data:`FLOWS`. ``blend`` in [0, 1]:
    the share of the previous frame's dream detail (dreamed minus input, warped along the
    flow, occluded pixels left plain) that a frame starts from. ``frame_steps`` >= 0: steps
    per octave for every frame after the first (which takes the dream's ``iter_n``); None:
    a fifth of ``iter_n``, rounded up (:meth:`steps_after_first`; docs/video.md measures
    why). ``start`` >= 0: first input
    frame dreamed; ``frames`` >= 1: how many (None: to the end). ``fps`` > 0: a frame
    folder's frame rate (None: :data:`FOLDER_FPS`; a video keeps its own). Raises
    DeepDreamError naming the CLI option for values out of range."""

    flow: str = FLOWS[0]
    blend: float = DEFAULT_BLEND
    frame_steps: int | None = None
    start: int = 0
    frames: int | None = None
    fps: float | None = None

    def __post_init__(self) -> None:
        def refuse(option: str, rule: str, value) -> None:
            raise DeepDreamError(f"{option} must be {rule} (got {value})")

        if self.flow not in FLOWS:
            refuse("--flow", " or ".join(FLOWS), self.flow)
        if not is_real(self.blend) or not 0 <= self.blend <= 1:
            refuse("--blend", "a number from 0 to 1", self.blend)
        if self.frame_steps is not None and (not is_int(self.frame_steps) or self.frame_steps < 0):
            refuse("--frame-steps", "a whole number >= 0", self.frame_steps)
        if not is_int(self.start) or self.start < 0:
            refuse("--start", "a whole number >= 0", self.start)
        if self.frames is not None and (not is_int(self.frames) or self.frames < 1):
            refuse("--frames", "a whole number >= 1", self.frames)
        if self.fps is not None and (not is_real(self.fps) or not self.fps > 0):
            refuse("--fps", "a number above 0", self.fps)

    def steps_after_first(self, iter_n: int) -> int:
        """Steps per octave of every frame after the first, for a first frame of ``iter_n``
        (with ``flow`` none every frame takes ``iter_n``)."""
        if self.flow == "none":
            return iter_n
        return -(-iter_n // 5) if self.frame_steps is None else self.frame_steps


DEFAULT_VIDEO = VideoSettings()
"""Coherent (DIS flow), the whole input."""
