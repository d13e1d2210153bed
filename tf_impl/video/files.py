"""Video in and out, TensorFlow-free: a video file (anything imageio-ffmpeg's bundled ffmpeg
decodes) or a folder of frame images, read one frame at a time (never all in memory); the
dreamed frames, a folder of PNGs, assembled into an MP4 (H.264, the input's audio stream
copied unchanged) or a GIF by the same ffmpeg, written atomically."""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image, UnidentifiedImageError

from conversion.errors import DeepDreamError
from conversion.output_checks import Inputs, check_output_dir, check_output_file
from conversion.outputs import atomic_output
from tf_impl.images.files import OUTPUT_FORMATS, load_rgb
from tf_impl.video.settings import FOLDER_FPS

FRAME_PATTERN = "frame_{:06d}.png"
"""A dreamed frame's file name in the frames folder, by its output index (0, 1, ...)."""

VIDEO_OUTPUTS = (".mp4", ".gif")
"""File outputs; anything else without a suffix is a folder of frames."""

# Audio codecs an MP4 holds as they are (the input's stream is copied, never re-encoded).
MP4_AUDIO = ("aac", "mp3", "alac", "ac3", "eac3", "opus", "flac")


@dataclass(frozen=True)
class VideoSource:
    """A checked input: ``path`` (a video file or a folder), its ``frames`` count, ``fps``,
    frame ``height`` and ``width`` (pixels), ``audio_codec`` (None: no audio) and, for a
    folder, its image ``files`` in frame order."""

    path: Path
    frames: int
    fps: float
    height: int
    width: int
    audio_codec: str | None = None
    files: tuple[Path, ...] | None = None

    def read(self, start: int = 0, count: int | None = None) -> Iterator[np.ndarray]:
        """Frames ``start``, ``start + 1``... (``count`` of them, None: to the end), each
        (H, W, 3) uint8 RGB, decoded one at a time."""
        stop = self.frames if count is None else min(self.frames, start + count)
        if self.files is not None:
            for path in self.files[start:stop]:
                yield self._checked(load_rgb(path, quiet=True), path)
            return
        reader = imageio_ffmpeg.read_frames(str(self.path), pix_fmt="rgb24")
        try:
            next(reader)  # the metadata
            for index, data in enumerate(reader):
                if index >= stop:
                    break
                if index >= start:
                    frame = np.frombuffer(data, np.uint8)
                    yield self._checked(frame.reshape(self.height, self.width, 3), self.path)
        finally:
            reader.close()  # stops ffmpeg

    def part(self, start: int, frames: int | None) -> range:
        """Input indices of ``frames`` frames from ``start`` (None, or more than there are:
        to the end); DeepDreamError when ``start`` is past the last frame."""
        if start >= self.frames:
            raise DeepDreamError(
                f"--start {start} is past the end: {self.path} has {self.frames} frames "
                f"(0 to {self.frames - 1})"
            )
        return range(start, self.frames if frames is None else min(self.frames, start + frames))

    def _checked(self, rgb: np.ndarray, path: Path) -> np.ndarray:
        if rgb.shape[:2] != (self.height, self.width):
            raise DeepDreamError(
                f"{path}: a {rgb.shape[0]}x{rgb.shape[1]} frame in a "
                f"{self.height}x{self.width} video; all frames must have one size"
            )
        return rgb

    def contents(self) -> str:
        """SHA-1 (hex) of the video file, or of a folder's frame files in order."""
        if self.files is None:
            with open(self.path, "rb") as stream:
                return hashlib.file_digest(stream, "sha1").hexdigest()
        digest = hashlib.sha1()
        for path in self.files:
            digest.update(path.name.encode() + b"\0")
            with open(path, "rb") as stream:
                digest.update(hashlib.file_digest(stream, "sha1").digest())
        return digest.hexdigest()


def open_video(path: str | Path, fps: float | None = None) -> VideoSource:
    """Check a video file or a folder of frames before any work and describe it (the frames
    are not decoded: a video's are counted by its packets, a folder's sized by their
    headers). ``fps``: a folder's frame rate (a video keeps its own). DeepDreamError for a
    missing path, a file that is no video, no frames, or frames of mixed sizes."""
    path = Path(path)
    if not path.exists():
        raise DeepDreamError(f"{path}: no such file or folder")
    if path.is_dir():
        return _open_folder(path, fps)
    if path.suffix.lower() in OUTPUT_FORMATS:
        raise DeepDreamError(
            f"{path}: is an image; dream it with 'deepdream dream', or give a video file or "
            "a folder of frames"
        )
    if fps is not None:
        raise DeepDreamError(f"--fps is for a folder of frames; {path} keeps its own frame rate")
    frames = _count_frames(path)
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    try:
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as exc:
        raise DeepDreamError(f"{path}: ffmpeg cannot decode it ({_last_line(exc)})") from None
    finally:
        reader.close()
    width, height = meta["size"]
    audio = re.match(r"\w+", meta.get("audio_codec") or "")  # "pcm_s16le," -> "pcm_s16le"
    audio_codec = audio.group(0) if audio else None
    return VideoSource(path, frames, float(meta["fps"]), height, width, audio_codec)


def _count_frames(path: Path) -> int:
    try:
        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except (OSError, RuntimeError) as exc:
        if "matches no streams" in str(exc):
            raise DeepDreamError(f"{path}: has no video frames (no video stream)") from None
        raise DeepDreamError(
            f"{path}: not a video ffmpeg can read ({_last_line(exc)}); give a video file "
            "(MP4, WebM, MOV...) or a folder of frames"
        ) from None
    if frames == 0:
        raise DeepDreamError(f"{path}: has zero video frames; nothing to dream")
    return frames


def _last_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _natural_key(path: Path) -> list:
    """frame_2 before frame_10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _open_folder(path: Path, fps: float | None) -> VideoSource:
    files = sorted(
        (
            p
            for p in path.iterdir()
            if p.suffix.lower() in OUTPUT_FORMATS and not p.name.startswith(".") and p.is_file()
        ),
        key=_natural_key,
    )
    if not files:
        kinds = ", ".join(sorted({s.lstrip(".") for s in OUTPUT_FORMATS}))
        raise DeepDreamError(f"{path}: holds no frame images ({kinds}); nothing to dream")
    sizes = {}
    for file in files:
        try:
            with Image.open(file) as image:
                sizes.setdefault(image.size, file)
        except (UnidentifiedImageError, OSError):
            raise DeepDreamError(f"{file}: not an image Pillow can read") from None
        if len(sizes) > 1:
            (w0, h0), (w1, h1) = sizes
            raise DeepDreamError(
                f"{path}: frames of mixed sizes ({sizes[(w0, h0)].name} is {h0}x{w0}, "
                f"{sizes[(w1, h1)].name} is {h1}x{w1}); resize them to one size first"
            )
    ((width, height),) = sizes
    return VideoSource(path, len(files), fps or FOLDER_FPS, height, width, None, tuple(files))


def frames_dir_for(output: Path) -> Path:
    """Where the dreamed frames go: ``output`` itself when it is a folder, else the folder
    ``<stem>.frames`` beside it (``dream.mp4`` -> ``dream.frames``)."""
    return output.with_suffix(".frames") if output.suffix.lower() in VIDEO_OUTPUTS else output


def check_video_output(output: str | Path, source: VideoSource, inputs: Inputs = ()) -> Path:
    """Check ``output`` (.mp4, .gif or a folder) and its frames folder before any work: a
    known kind, writable, not the input nor one of ``inputs``, and (MP4) able to hold the
    input's audio unchanged. Returns it as a Path."""
    output = Path(output)
    inputs = (source.path, *inputs)
    suffix = output.suffix.lower()
    extension = re.fullmatch(r"\.[a-z][a-z0-9]{0,4}", suffix)  # 'run.0.8' is a folder
    if extension and suffix not in VIDEO_OUTPUTS and not output.is_dir():
        raise DeepDreamError(
            f"{output}: unknown output type '{output.suffix}'; write an .mp4, a .gif, or a "
            "folder of frames (a name without an extension)"
        )
    frames_dir = frames_dir_for(output)
    if frames_dir != output:
        check_output_file(output, VIDEO_OUTPUTS, inputs)
    check_output_dir(frames_dir, inputs, prefix=".frame_probe.", suffix=".png")
    codec = source.audio_codec
    if suffix == ".mp4" and codec is not None and codec not in MP4_AUDIO:
        raise DeepDreamError(
            f"{source.path}: its audio ({codec}) cannot be copied into an MP4 unchanged; write "
            "a GIF or a folder of frames, or convert the audio (e.g. to AAC) first"
        )
    return output


def encode(frames_dir: Path, count: int, output: Path, source: VideoSource, start: int = 0) -> Path:
    """Assemble ``count`` frames (:data:`FRAME_PATTERN` in ``frames_dir``) into ``output``
    (.mp4: H.264, even sizes cropped to, with the audio of the source's frames ``start`` to
    ``start + count`` copied unchanged; .gif: one palette for the whole clip) at the
    source's frame rate, atomically: an interrupted or failed write leaves no file."""
    fps = f"{source.fps:.6g}"
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y"]
    command += ["-framerate", fps, "-start_number", "0", "-i", str(frames_dir / "frame_%06d.png")]
    if output.suffix.lower() == ".gif":
        filters = "split[a][b];[a]palettegen[p];[b][p]paletteuse"
        encoding = ["-frames:v", str(count), "-filter_complex", filters, "-loop", "0"]
    else:
        encoding = ["-frames:v", str(count), "-map", "0:v:0", "-c:v", "libx264"]
        encoding += ["-pix_fmt", "yuv420p", "-vf", "crop=trunc(iw/2)*2:trunc(ih/2)*2"]
        if source.audio_codec is not None:
            if start or count < source.frames:
                part = ["-ss", f"{start / source.fps:.6f}", "-t", f"{count / source.fps:.6f}"]
                command += part
            command += ["-i", str(source.path)]
            encoding += ["-map", "1:a:0", "-c:a", "copy"]
    with atomic_output(output, "the frames are kept") as tmp:
        done = subprocess.run([*command, *encoding, str(tmp)], capture_output=True, text=True)
        if done.returncode != 0:
            reason = _last_line(RuntimeError(done.stderr))
            raise DeepDreamError(
                f"{output}: ffmpeg could not write it ({reason}); the frames are kept"
            )
    return output
