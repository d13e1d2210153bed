"""The dream carried from one frame to the next along the motion of the *input* frames:
OpenCV's DIS optical flow both ways, the previous frame's dream detail (dreamed minus input)
warped into the current frame (``cv2.remap``, bilinear), and an occlusion mask from the
forward-backward consistency of the two flows (pixels that appear, or come from outside the
frame, start from the plain frame).

Float32 NumPy/OpenCV, not TensorFlow: DIS is OpenCV's (no learned weights, a few ms per frame
on a CPU core at 640x360), its flows and the remap stay in the same library and memory, and the
result is deterministic, which a resumed run needs to equal an uninterrupted one.
"""

from __future__ import annotations

import numpy as np

from conversion.errors import DeepDreamError

try:
    import cv2
except ImportError:  # the `video` extra is not installed
    cv2 = None

# Forward-backward check (Sundaram et al. 2010): a pixel is visible in both frames when
# |f_back + f_fwd(x + f_back)|^2 <= ALPHA * (|f_back|^2 + |f_fwd(x + f_back)|^2) + BETA px^2.
ALPHA, BETA = 0.01, 0.5


def require_opencv() -> None:
    """DeepDreamError (one line, with the fix) when OpenCV is missing."""
    if cv2 is None:
        raise DeepDreamError(
            "--flow dis needs OpenCV: pip install 'deepdream-tf2[video]' (or "
            "opencv-python-headless), or dream frame by frame with --flow none"
        )


class FlowCarrier:
    """Carries dream detail along the optical flow between consecutive input frames (one DIS
    instance, reused)."""

    def __init__(self) -> None:
        require_opencv()
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def flow(self, frame: np.ndarray, other: np.ndarray) -> np.ndarray:
        """(H, W, 2) float32 (dx, dy) pixels with ``frame(x) ~ other(x + flow(x))``, for two
        (H, W, 3) uint8 RGB frames."""
        grey = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in (frame, other)]
        return self.dis.calc(grey[0], grey[1], None)

    def carry(
        self, previous: np.ndarray, previous_dream: np.ndarray, current: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The previous frame's dream detail in the current frame: ((H, W, 3) float32 detail,
        0-255 units, (H, W) float32 mask, 1 where the pixel was visible in the previous frame,
        0 where it is occluded or came from outside; the detail is 0 there too). ``previous``,
        ``current``: input frames, ``previous_dream``: the previous frame dreamed, all (H, W, 3)
        RGB 0-255."""
        back = self.flow(current, previous)
        height, width = back.shape[:2]
        grid_x, grid_y = np.meshgrid(
            np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
        )
        map_x, map_y = grid_x + back[..., 0], grid_y + back[..., 1]
        forward = self.flow(previous, current)
        forward_there = cv2.remap(
            forward, map_x, map_y, cv2.INTER_LINEAR, None, cv2.BORDER_REPLICATE
        )
        loop = np.sum((back + forward_there) ** 2, axis=-1)
        limit = ALPHA * (np.sum(back**2, axis=-1) + np.sum(forward_there**2, axis=-1)) + BETA
        inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
        mask = ((loop <= limit) & inside).astype(np.float32)
        detail = np.asarray(previous_dream, np.float32) - np.asarray(previous, np.float32)
        warped = cv2.remap(detail, map_x, map_y, cv2.INTER_LINEAR, None, cv2.BORDER_CONSTANT, 0)
        return warped * mask[..., None], mask
