"""``deepdream video``: dream a video file or a folder of frames, frame by frame, the dream
carried along the optical flow (``--flow dis``) or not (``--flow none``); resumable."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from tf_impl.cli.dream_commands import (
    DreamJob,
    add_dream_options,
    dream_job,
    input_files,
    inputs_identity,
    prepare,
    sequence_options,
)
from tf_impl.cli.options import model_spec
from tf_impl.cli.parsing import HelpFormatter, positive_float
from tf_impl.cli.progress import progress
from tf_impl.dream.settings import DreamSettings
from tf_impl.video.files import VideoSource, check_video_output, frames_dir_for, open_video
from tf_impl.video.record import check_recorded, video_identity
from tf_impl.video.settings import DEFAULT_BLEND, FLOWS, FOLDER_FPS, VideoSettings

EXAMPLES = """examples:
  deepdream video clip.mp4 -o dream.mp4                  # frames kept in dream.frames/
  deepdream video clip.mp4 -o dream.gif --start 48 --frames 24 --steps 10 --frame-steps 2
  deepdream video frames/ -o dreamed/ --fps 25           # a folder of frames in and out
  deepdream video clip.mp4 -o flicker.mp4 --flow none    # every frame on its own
  (run it again after an interruption: it resumes from the last finished frame)
"""


@dataclass(frozen=True)
class VideoJob:
    """A checked ``video``: each frame's dream (its ``rgb`` the first frame), the video's
    settings and the checked input."""

    dream: DreamJob
    video: VideoSettings
    source: VideoSource


def register(subparsers) -> None:
    """Add the video subcommand."""
    video = subparsers.add_parser(
        "video",
        help="dream a video (optical flow keeps the dream on the moving scene)",
        description="Dream every frame of a video file or a folder of frames. The previous "
        "frame's dream is carried along the input's optical flow (OpenCV DIS, occluded pixels "
        "start plain), then dreamed --frame-steps more steps. Frames are written as they "
        "finish (beside an .mp4/.gif output in NAME.frames/); rerun to resume. The frame "
        "rate is kept and an MP4 gets the input's audio unchanged.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    add_dream_options(video, "input video (anything ffmpeg decodes) or a folder of frames")
    video.add_argument(
        "-o", "--output", required=True, help="output: .mp4, .gif, or a folder of frames"
    )
    video.add_argument(
        "--flow",
        choices=FLOWS,
        default=FLOWS[0],
        help="dis: carry the dream along OpenCV's DIS optical flow; none: dream every frame "
        "on its own (default: %(default)s)",
    )
    video.add_argument(
        "--blend",
        type=float,  # NaN and infinity: refused by VideoSettings, as in the API
        help=f"share of the previous frame's dream carried over, 0-1 (default: {DEFAULT_BLEND})",
    )
    video.add_argument(
        "--frame-steps",
        type=int,
        metavar="N",
        help="steps per octave for each frame after the first (default: a fifth of --steps, "
        "rounded up)",
    )
    video.add_argument("--start", type=int, default=0, help="first frame dreamed (default: 0)")
    video.add_argument("--frames", type=int, help="number of frames dreamed (default: all)")
    video.add_argument(
        "--fps",
        type=positive_float,
        help=f"frame rate of a folder of frames (default: {FOLDER_FPS:g}; a video keeps its own)",
    )
    video.set_defaults(func=run_video, check=check_video)


def check_video(args) -> VideoJob:
    """``video``'s checks that need no TensorFlow: the settings, the input (probed, its first
    frame read), the output, OpenCV when the flow needs it."""
    from tf_impl.video.flow import require_opencv  # OpenCV: only for this command

    DreamSettings.pick(vars(args))  # the settings first (dream_job makes them again below)
    video = VideoSettings(
        flow=args.flow,
        blend=DEFAULT_BLEND if args.blend is None else args.blend,
        frame_steps=args.frame_steps,
        start=args.start,
        frames=args.frames,
        fps=args.fps,
    )
    if video.flow == "none" and (args.blend is not None or args.frame_steps is not None):
        print("note: --blend and --frame-steps have no effect with --flow none", file=sys.stderr)
    if video.flow != "none":
        require_opencv()
    spec = model_spec(args)
    source = open_video(args.input, video.fps)
    output = check_video_output(args.output, source, input_files(args, spec))
    if source.audio_codec is not None and output.suffix.lower() != ".mp4":
        print(f"note: {output} has no sound track; the input's audio is left out", file=sys.stderr)
    first = source.part(video.start, video.frames)[0]
    dream = dream_job(args, spec, output, next(source.read(first, 1)))
    # A rerun with other settings or inputs: refused now (the objective, which needs the
    # network, is compared when the run starts).
    seed = dream.seed if dream.seed is not None else 0
    run = video_identity(source, dream.settings, video, seed, inputs_identity(dream, None), {})
    check_recorded(frames_dir_for(output), run, ignore=("objective", "end"))
    return VideoJob(dream, video, source)


def run_video(job: VideoJob) -> int:
    """Dream the video, resuming if it was interrupted; write the output and a summary."""
    from tf_impl.video.sequence import dream_video

    dream, video = job.dream, job.video
    prepared = prepare(dream)
    settings = dream.settings
    count = len(job.source.part(video.start, video.frames))
    frames_bar = progress(count, "frame", "video", dream.quiet)
    steps_bar = progress(settings.steps(), "step", "dreaming", dream.quiet)
    later_steps = settings.octave_n * video.steps_after_first(settings.iter_n)

    def on_frame(frame) -> None:
        if not frame.resumed:
            frames_bar.set_postfix_str(f"{frame.seconds:.2f} s/frame")
        frames_bar.update(1)
        steps_bar.reset()
        steps_bar.total = later_steps

    def on_step(octave: int, step: int) -> None:
        steps_bar.set_postfix_str(f"octave {octave + 1}/{settings.octave_n}")
        steps_bar.update(1)

    with frames_bar, steps_bar:
        result = dream_video(
            prepared.net,
            job.source.path,
            dream.output,
            settings,
            video,
            identity=inputs_identity(dream, prepared.objective),
            on_frame=on_frame,
            **sequence_options(dream, prepared, on_step),
        )
    new = result.frames - result.resumed
    height, width = dream.rgb.shape[:2]
    timing = ""
    if new:
        share = result.flow_seconds / result.seconds
        timing = f", {result.seconds / new:.2f} s per frame (flow {share:.0%} of it)"
    print(
        f"video: {result.frames} frames ({result.resumed} resumed), {height}x{width} at "
        f"{result.fps:g} fps{timing}",
        file=sys.stderr,
    )
    kept = f" (frames kept in {result.frames_dir})" if result.frames_dir != result.output else ""
    print(f"wrote {result.output}{kept}", file=sys.stderr)
    return 0
