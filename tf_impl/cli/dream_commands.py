"""``deepdream dream`` and ``deepdream zoom``: the notebook's dreams from the command line."""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from conversion.errors import DeepDreamError
from conversion.locks import directory_lock
from conversion.model_files import ModelSpec
from conversion.output_checks import check_output_dir, check_output_file
from tf_impl.cli.options import (
    add_channels_option,
    add_memory_option,
    add_model_options,
    add_ray_options,
    model_spec,
    ray_runner,
    ray_settings,
)
from tf_impl.cli.parsing import HelpFormatter, finite_float, positive_float, seed, size_hxw
from tf_impl.cli.progress import progress, with_throughput
from tf_impl.cluster.ray_pool import RayOptions
from tf_impl.dream.settings import (
    NOTEBOOK,
    PRECISIONS,
    ZOOM_STEP,
    DreamSettings,
    ZoomSettings,
    flag,
    help_text,
)

DREAM_EXAMPLES = """examples:
  deepdream dream sky.jpg -o dream.png                      # the notebook's default dream
  deepdream dream sky.jpg -o d.png --layer inception_3b/5x5_reduce
  deepdream dream sky.jpg -o d.png --guide flowers.jpg --layer inception_3b/output
  deepdream dream sky.jpg -o d.png --guide-channels flowers.jpg --top 8 --layer inception_3b/output
  deepdream dream sky.jpg -o d.png --lapnorm 4              # Laplacian-pyramid normalisation
  deepdream dream sky.jpg -o d.png --layer inception_4c/output --channels 12,97
  deepdream dream sky.jpg -o d.png --layer inception_4b/output inception_4d/output --weights 1 0.5
  deepdream dream sky.jpg -o d.png --class 1                # amplify a class (goldfish)
  deepdream dream sky.jpg -o d.png --model synthetic.keras  # offline: see 'synthetic-model'
  deepdream dream sky.jpg -o d.png --model keras:InceptionV3 --layer mixed3 mixed5
  deepdream dream big.jpg -o d.png --max-memory 2G         # tile steps to fit in 2 GB
  deepdream dream photos/ -o dreams/ --seed 0               # a batch: dreams/<name>.png
  deepdream dream a.jpg b.jpg -o dreams/ --ray              # a batch on a local Ray cluster
  (a batch resumes when run again: finished dreams are kept)
"""
ZOOM_EXAMPLES = """examples:
  deepdream zoom sky.jpg -o frames/ --frames 30 --gif zoom.gif --mp4 zoom.mp4
  (run it again after an interruption: it resumes from the last finished frame)
"""


def add_dream_options(
    parser: argparse.ArgumentParser,
    input_help: str = "input image (any format Pillow reads)",
    nargs: str | None = None,
) -> None:
    """Every option of a dream (model, objective, settings, memory, precision) and the input
    argument (``nargs`` as argparse's, e.g. "+" for a batch), for each command that dreams."""
    parser.add_argument("input", nargs=nargs, help=input_help)
    add_model_options(parser)
    parser.add_argument(
        "--layer",
        nargs="+",
        metavar="BLOB",
        help=f"blob(s) to amplify (default: the model's, for GoogLeNet {NOTEBOOK.end}). A "
        "convolution's name is its pre-ReLU output, its ReLU's name the post-ReLU one; see "
        "'deepdream layers'",
    )
    parser.add_argument(
        "--weights", nargs="+", type=finite_float, metavar="W", help="one weight per --layer"
    )
    target = parser.add_mutually_exclusive_group()
    add_channels_option(target, "amplify only these channels, e.g. 12,97 or 0-15")
    target.add_argument("--neuron", type=int, metavar="C", help="one channel at the centre")
    target.add_argument(
        "--class",
        dest="class_index",
        type=int,
        metavar="N",
        help="a class of the classifier (any image size)",
    )
    target.add_argument("--guide", metavar="IMAGE", help="steer toward this image's features")
    target.add_argument(
        "--guide-channels",
        metavar="IMAGE",
        help="amplify the --top channels most active (mean activation) on this image",
    )
    parser.add_argument("--top", type=int, help="channels picked by --guide-channels (default 8)")
    for name, kind in (
        ("octave_n", int),
        ("octave_scale", float),  # NaN and infinity: refused by DreamSettings, as in the API
        ("iter_n", int),
        ("step_size", float),
        ("jitter", int),
        ("lapnorm", int),
    ):
        parser.add_argument(
            flag(name),
            dest=name,
            metavar=flag(name).lstrip("-").replace("-", "_").upper(),
            type=kind,
            default=getattr(NOTEBOOK, name),
            help=help_text(name),
        )
    parser.add_argument(
        "--seed", type=seed, help="jitter seed, 0 to 2**32-1 (same stream as np.random.seed)"
    )
    parser.add_argument(
        flag("clip"),
        dest="clip",
        action="store_false",
        default=NOTEBOOK.clip,
        help="do not clip to 0-255 (the notebook clips)",
    )
    add_memory_option(
        parser,
        "a dream step (and the guide's pass) may use; larger steps run tile by tile, the same "
        "dream up to float32 rounding, larger guides are scaled down",
    )
    parser.add_argument(
        "--tile",
        type=size_hxw,
        metavar="HxW",
        help="run every step in tiles of about HxW pixels (rounded up to the layer's stride), "
        "whatever the memory",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=PRECISIONS[0],
        help="what the network computes in: bfloat16 is about 2x faster on CPUs with "
        "AMX-BF16 (the image and the step's normalisation stay float32), not the same "
        "dream (default: %(default)s)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def register(subparsers) -> None:
    """Add the dream and zoom subcommands."""
    dream = subparsers.add_parser(
        "dream",
        help="dream on an image (the notebook's deepdream)",
        description="Dream on an image with the original notebook's algorithm and defaults. "
        "The output has the input's size.",
        epilog=DREAM_EXAMPLES,
        formatter_class=HelpFormatter,
    )
    add_dream_options(
        dream,
        "input image (any format Pillow reads); several images or a folder make a batch, "
        "dreamed into the folder -o names",
        nargs="+",
    )
    dream.add_argument(
        "-o",
        "--output",
        required=True,
        help="output image (.png, .jpg...); for a batch, the folder for <name>.png (rerun to "
        "resume)",
    )
    add_ray_options(dream, "dream the images of a batch")
    dream.set_defaults(func=run_dream, check=check_dream)

    zoom = subparsers.add_parser(
        "zoom",
        help="feedback zoom sequence (dream, zoom in, repeat)",
        description="The notebook's zoom sequence: each frame is a dream of the previous one, "
        "zoomed into the centre. Frames are written as they finish; rerun to resume.",
        epilog=ZOOM_EXAMPLES,
        formatter_class=HelpFormatter,
    )
    add_dream_options(zoom)
    zoom.add_argument("-o", "--output", required=True, help="directory for frame_NNNN.png")
    zoom.add_argument("--frames", type=int, required=True, help="number of frames")
    zoom.add_argument(
        "--scale",
        type=float,  # NaN and infinity: refused by ZoomSettings, as in the API
        default=ZOOM_STEP,
        help=f"zoom per frame (default: {ZOOM_STEP})",
    )
    zoom.add_argument("--gif", help="also write an animated GIF")
    zoom.add_argument("--mp4", help="also write an MP4 video")
    zoom.add_argument(
        "--fps", type=positive_float, default=10.0, help="animation frame rate (default: 10)"
    )
    zoom.set_defaults(func=run_zoom, check=check_zoom_args)


DEFAULT_TOP = 8  # channels --guide-channels picks


@dataclass(frozen=True)
class DreamJob:
    """A checked ``dream`` (or one frame's worth of ``zoom``): the model, the settings, the
    images read and every option of the objective, tiling and output, as the command runs
    them. Images: (H, W, 3) uint8 RGB."""

    spec: ModelSpec
    settings: DreamSettings
    input: str
    rgb: np.ndarray
    output: Path
    layer: tuple[str, ...] | None = None
    weights: tuple[float, ...] | None = None
    channels: tuple[int, ...] | None = None
    neuron: int | None = None
    class_index: int | None = None
    guide: str | None = None
    guide_rgb: np.ndarray | None = None
    guide_channels: str | None = None
    guide_channels_rgb: np.ndarray | None = None
    top: int = DEFAULT_TOP
    seed: int | None = None
    max_memory: int | None = None
    tile: tuple[int, int] | None = None
    precision: str = PRECISIONS[0]
    quiet: bool = False


@dataclass(frozen=True)
class ZoomJob:
    """A checked ``zoom``: the dream of each frame, the frame count and zoom per frame, the
    animations to write."""

    dream: DreamJob
    zoom: ZoomSettings
    gif: str | None
    mp4: str | None
    fps: float


def _check_octave_count(settings: DreamSettings, height: int, width: int) -> None:
    """Refuse, by arithmetic alone, octave counts whose smallest octave is under one pixel
    (the network's own minimum is checked once it is loaded)."""
    room = math.log(min(height, width)) / math.log(settings.octave_scale)
    if settings.octave_n - 1 > room:
        raise DeepDreamError(
            f"{flag('octave_n')} {settings.octave_n} shrinks a {height}x{width} image below "
            f"one pixel (1/{settings.octave_scale} per octave); at most {int(room) + 1} "
            "octaves fit, fewer for the network's layers"
        )


def _warn_unused(args, settings: DreamSettings, height: int, width: int) -> None:
    """One ``note:`` line for options that are accepted but do nothing or harm here."""
    if args.top is not None and args.guide_channels is None:
        print("note: --top has no effect without --guide-channels", file=sys.stderr)
    smallest = min(height, width) / settings.octave_scale ** (settings.octave_n - 1)
    if settings.lapnorm and 2 ** (settings.lapnorm - 1) > smallest:
        print(
            f"note: --lapnorm {settings.lapnorm} has more levels than a {round(smallest)} px "
            "octave can halve into; the extra levels only shift the colours (try 4)",
            file=sys.stderr,
        )


def dream_job(args, spec: ModelSpec, output: Path, rgb: np.ndarray | None = None) -> DreamJob:
    """Before TensorFlow: the settings (their own check), the images read (``rgb``: the
    input already read, (H, W, 3) uint8 RGB, e.g. a video's first frame), the octave count;
    the model argument was checked into ``spec``."""
    from tf_impl.images.files import load_rgb

    settings = DreamSettings.pick(vars(args))
    layers = args.layer or [None]
    if args.weights and len(args.weights) != len(layers):
        raise DeepDreamError(
            f"{len(args.weights)} --weights for {len(layers)} --layer; give one per layer"
        )
    rgb = load_rgb(args.input) if rgb is None else rgb
    _check_octave_count(settings, *rgb.shape[:2])
    _warn_unused(args, settings, *rgb.shape[:2])
    return DreamJob(
        spec=spec,
        settings=settings,
        input=args.input,
        rgb=rgb,
        output=output,
        layer=tuple(args.layer) if args.layer else None,
        weights=tuple(args.weights) if args.weights else None,
        channels=tuple(args.channels) if args.channels else None,
        neuron=args.neuron,
        class_index=args.class_index,
        guide=args.guide,
        guide_rgb=load_rgb(args.guide) if args.guide else None,
        guide_channels=args.guide_channels,
        guide_channels_rgb=load_rgb(args.guide_channels) if args.guide_channels else None,
        top=DEFAULT_TOP if args.top is None else args.top,
        seed=args.seed,
        max_memory=args.max_memory,
        tile=args.tile,
        precision=args.precision,
        quiet=args.quiet,
    )


def input_files(args, spec: ModelSpec) -> tuple:
    """Every file the command reads: the image, guide, model file and prototxt."""
    return (args.input, args.guide, args.guide_channels, spec.file, spec.prototxt)


@dataclass(frozen=True)
class BatchJob:
    """A checked batch ``dream``: the dream of every image (``dream``, checked with the first
    image; its ``seed`` never None, so a rerun makes the same dreams), the images read and
    the outputs written (``DIR/<stem>.png``), and where to run (``ray``: None here)."""

    dream: DreamJob
    inputs: tuple[Path, ...]
    outputs: tuple[Path, ...]
    ray: RayOptions | None = None

    @property
    def needs_tensorflow(self) -> bool:
        """Only where the dreams are made here: on Ray, this process only writes files."""
        return self.ray is None


def check_dream(args) -> DreamJob | BatchJob:
    """``dream``'s checks that need no TensorFlow (run before it is imported): one image, or
    a batch (several images, a folder, or --ray)."""
    from tf_impl.images.files import check_output_path

    spec = model_spec(args)
    ray = ray_settings(args)
    if len(args.input) > 1 or Path(args.input[0]).is_dir() or ray is not None:
        return _check_batch(args, spec, ray)
    args = argparse.Namespace(**{**vars(args), "input": args.input[0]})
    output = check_output_path(args.output, input_files(args, spec))
    return dream_job(args, spec, output)


def _check_batch(args, spec: ModelSpec, ray: RayOptions | None) -> BatchJob:
    """A batch's checks: the images (each one's header), the output folder, one name per
    dream, the settings with the first image."""
    from tf_impl.dream.batch import batch_inputs, batch_outputs
    from tf_impl.images.files import OUTPUT_FORMATS, image_size

    inputs = batch_inputs(args.input)
    if Path(args.output).suffix.lower() in OUTPUT_FORMATS and not Path(args.output).is_dir():
        raise DeepDreamError(
            f"-o {args.output}: a batch of {len(inputs)} image(s) is dreamed into a folder; give "
            "-o a folder (e.g. dreams/)"
        )
    files = (*inputs, args.guide, args.guide_channels, spec.file, spec.prototxt)
    out_dir = check_output_dir(args.output, files, prefix=".dream_probe.", suffix=".png")
    outputs = batch_outputs(inputs, out_dir)
    seed = 0 if args.seed is None else args.seed
    first = argparse.Namespace(**{**vars(args), "input": str(inputs[0]), "seed": seed})
    job = dream_job(first, spec, out_dir)
    for path in inputs[1:]:
        _check_octave_count(job.settings, *image_size(path))
    return BatchJob(job, tuple(inputs), tuple(outputs), ray)


def check_zoom_args(args) -> ZoomJob:
    """``zoom``'s checks that need no TensorFlow (run before it is imported)."""
    zoom = ZoomSettings(args.frames, args.scale)  # refuses values out of range
    spec = model_spec(args)
    inputs = input_files(args, spec)
    out_dir = check_output_dir(args.output, inputs, prefix=".frame_probe.", suffix=".png")
    for animation, suffix in ((args.gif, ".gif"), (args.mp4, ".mp4")):
        if animation:
            check_output_file(animation, (suffix,), inputs)
    dream = dream_job(args, spec, out_dir)
    return ZoomJob(dream, zoom, args.gif, args.mp4, args.fps)


@dataclass(frozen=True)
class _Prepared:
    """What a dream runs with once TensorFlow is loaded: the net, the objective, the guide
    (scaled to the memory budget) and the tiling."""

    net: object
    objective: object
    guide_rgb: np.ndarray | None
    tiling: object


def prepare(job: DreamJob) -> _Prepared:
    """Load the model and build the objective; check the sizes and memory the dream needs."""
    net, objective, guide = _objective(job)
    return _Prepared(net, objective, guide, _check_sizes(net, objective, job, guide))


def _objective(job: DreamJob) -> tuple:
    """Load the model and build the objective: (net, objective, guide image scaled to the
    memory budget or None)."""
    # Imported here, not at the top: these load TensorFlow, which the CLI imports (quietly)
    # only after the arguments are checked. The same holds in the commands below.
    from tf_impl.cli.limits import fit_to_budget, memory_budget
    from tf_impl.dream.objectives import make_objective
    from tf_impl.dream.precision import slow_precision_note, with_precision
    from tf_impl.models.loading import load_net

    note = slow_precision_note(job.precision)
    if note:
        print(note, file=sys.stderr)
    net = with_precision(load_net(job.spec), job.precision)
    budget = memory_budget(job.max_memory)
    layers = list(job.layer or [net.metadata.get("default_layer") or NOTEBOOK.end])
    channel_guide = job.guide_channels_rgb
    if channel_guide is not None:
        channel_guide = fit_to_budget(net, layers, channel_guide, budget, "--guide-channels image")
    objective = make_objective(
        net,
        layers,
        weights=job.weights,
        channels=job.channels,
        neuron=job.neuron,
        class_index=job.class_index,
        guided=job.guide is not None,
        channel_guide=channel_guide,
        top=job.top,
    )
    if channel_guide is not None:
        picked = " ".join(map(str, objective.channels))
        print(f"guide channels of {objective.blob}: {picked}", file=sys.stderr)
    guide = job.guide_rgb
    if guide is not None:
        guide = fit_to_budget(net, objective.blobs, guide, budget, "guide image")
    return net, objective, guide


def _check_sizes(net, objective, job: DreamJob, guide: np.ndarray | None):
    """The image and guide fit the blobs, the octaves too, the dream fits in memory; returns
    the tiling policy."""
    from tf_impl.cli.limits import check_memory
    from tf_impl.dream.deepdream import check_dream_size, octave_sizes
    from tf_impl.dream.tiling import TilePolicy, default_max_memory, fast_step_bytes, plan_tiles
    from tf_impl.net.input_size import check_image_fits

    height, width = job.rgb.shape[:2]
    check_image_fits(net, objective.blobs, height, width, "image")
    if guide is not None:
        check_image_fits(net, objective.blobs, *guide.shape[:2], "guide image")
    settings = job.settings
    # deepdream checks this too, but only after the progress bar has been drawn: check first
    # so a too-small image gives one clean error line.
    check_dream_size(
        net, objective.blobs, octave_sizes(height, width, settings.octave_n, settings.octave_scale)
    )
    max_memory = default_max_memory() if job.max_memory is None else job.max_memory
    tiling = TilePolicy(max_memory=max_memory, tile=job.tile, fast_step=fast_step_bytes())
    tiles = plan_tiles(net, objective, height, width, tiling)  # refuses impossible tiling
    check_memory(net, objective.blobs, height, width, None if tiles is None else max_memory)
    if job.tile is not None and tiles is not None:
        tile_h, tile_w = job.tile
        print(f"note: --tile {tile_h}x{tile_w}: {len(tiles)} tiles a step", file=sys.stderr)
    return tiling


def check_changed(result, rgb, job: DreamJob, what: str = "the dream") -> None:
    """A dream that left its input exactly as it was had a zero gradient all along (a dead
    unit): an error, before anything of it is written. ``what`` names the output."""
    if job.settings.iter_n == 0 or not np.array_equal(result, rgb):
        return  # 0 steps give the image back by design
    if job.neuron is not None or job.channels:
        advice = "a dead unit; try other --neuron/--channels, or another --layer"
    else:
        advice = "try another --layer"
    raise DeepDreamError(
        f"the objective's gradient is zero on this image, so {what} left it unchanged "
        f"({advice}); {what} was not written"
    )


def run_dream(job: DreamJob | BatchJob) -> int:
    """Dream on one image and write it (atomically), or dream a batch."""
    if isinstance(job, BatchJob):
        return run_batch(job)  # on Ray, this process never loads TensorFlow
    from tf_impl.dream.deepdream import deepdream
    from tf_impl.images.files import save_rgb

    prepared = prepare(job)
    settings = job.settings
    bar = progress(settings.steps(), "step", "dreaming", job.quiet)

    def on_step(octave: int, step: int) -> None:
        bar.set_postfix_str(f"octave {octave + 1}/{settings.octave_n}")
        bar.update(1)

    with bar:
        result = deepdream(
            prepared.net,
            job.rgb,
            settings,
            objective=prepared.objective,
            guide=prepared.guide_rgb,
            tiling=prepared.tiling,
            seed=job.seed,
            on_step=on_step,
        )
    check_changed(result, job.rgb, job)
    save_rgb(job.output, result)
    height, width = job.rgb.shape[:2]
    print(f"wrote {job.output} ({height}x{width})", file=sys.stderr)
    return 0


def _contents(path: str | Path | None) -> str | None:
    from conversion.download import sha1_of

    return None if path is None else sha1_of(Path(path))


def _model_identity(job: DreamJob) -> dict:
    """What identifies a resumable run's network side: the model's and the guides' contents,
    the precision."""
    return {
        "model": job.spec.model if job.spec.file is None else _contents(job.spec.file),
        "prototxt": _contents(job.spec.prototxt),
        "guide image": _contents(job.guide),
        "guide-channels image": _contents(job.guide_channels),
        "precision": job.precision,
    }


def inputs_identity(job: DreamJob, objective) -> dict:
    """What identifies a resumable run (zoom, video) besides the dream settings and its input:
    the model's and the guides' contents, the objective, precision and image size."""
    return {
        **_model_identity(job),
        "objective": repr(objective),
        "height": job.rgb.shape[0],
        "width": job.rgb.shape[1],
    }


def sequence_options(job: DreamJob, prepared: _Prepared, on_step) -> dict:
    """The keyword arguments a frame sequence (zoom, video) dreams every frame with: the seed,
    objective, guide, tiling, ``on_step`` and the dead-unit check of each frame."""
    return {
        "seed": job.seed if job.seed is not None else 0,
        "check_frame": lambda before, after: check_changed(after, before, job, "the frame"),
        "objective": prepared.objective,
        "guide": prepared.guide_rgb,
        "tiling": prepared.tiling,
        "on_step": on_step,
    }


def run_zoom(zoom_job: ZoomJob) -> int:
    """Dream a zoom sequence into a directory, resuming if it was interrupted."""
    from tf_impl.dream.zoom import run_zoom_sequence, write_animation

    job, zoom = zoom_job.dream, zoom_job.zoom
    out_dir = job.output
    prepared = prepare(job)
    settings = job.settings
    identity = {**inputs_identity(job, prepared.objective), "input image": _contents(job.input)}
    frames_bar = progress(zoom.frames, "frame", "zoom", job.quiet)
    steps_bar = progress(settings.steps(), "step", "dreaming", job.quiet)

    def on_frame(index: int, path: Path) -> None:
        frames_bar.update(1)
        steps_bar.reset()

    def on_step(octave: int, step: int) -> None:
        steps_bar.set_postfix_str(f"octave {octave + 1}/{settings.octave_n}")
        steps_bar.update(1)

    created = not out_dir.exists()
    out_dir.mkdir(exist_ok=True)
    try:
        with directory_lock(out_dir), frames_bar, steps_bar:
            paths = run_zoom_sequence(
                prepared.net,
                job.rgb,
                out_dir,
                settings,
                zoom,
                identity=identity,
                on_frame=on_frame,
                **sequence_options(job, prepared, on_step),
            )
    finally:
        if created and not any(out_dir.iterdir()):
            out_dir.rmdir()
    for animation in (zoom_job.gif, zoom_job.mp4):
        if animation:
            write_animation(paths, animation, fps=zoom_job.fps)
            print(f"wrote {animation}", file=sys.stderr)
    print(f"wrote {len(paths)} frames to {out_dir}", file=sys.stderr)
    return 0


class BatchDreamer:
    """The dream of a batch's images with one loaded network and objective (what a Ray worker
    holds): ``dreamer((name, rgb))`` -> the dream, (H, W, 3) RGB 0-255 float32, of the
    (H, W, 3) uint8 RGB image ``name``; DeepDreamError for an image the dream cannot take
    (too small, too large) or left unchanged."""

    def __init__(self, job: DreamJob):
        self.job = job
        self.net, self.objective, self.guide = _objective(job)

    def __call__(self, item: tuple[str, np.ndarray]) -> np.ndarray:
        from tf_impl.dream.deepdream import deepdream

        name, rgb = item
        job = replace(self.job, input=name, rgb=rgb)
        tiling = _check_sizes(self.net, self.objective, job, self.guide)
        result = deepdream(
            self.net,
            rgb,
            job.settings,
            objective=self.objective,
            guide=self.guide,
            tiling=tiling,
            seed=job.seed,
        )
        check_changed(result, rgb, job, f"the dream of {name}")
        return result


def batch_dreamer(job: DreamJob, spec: ModelSpec) -> BatchDreamer:
    """A :class:`BatchDreamer` of ``job`` with the model ``spec`` (a worker's own copy)."""
    return BatchDreamer(replace(job, spec=spec))


class _Images:
    """The images of a batch, read when asked for: images[i] -> (file name, (H, W, 3) uint8)."""

    def __init__(self, paths: list[Path]):
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[str, np.ndarray]:
        from tf_impl.images.files import load_rgb

        return self.paths[index].name, load_rgb(self.paths[index])


def _batch_identity(job: DreamJob) -> dict:
    """What identifies a batch of dreams: the dream settings, the objective's options, the
    seed and the inputs besides the images (each image's SHA-1 is recorded apart)."""
    options = {
        "--layer": job.layer,
        "--weights": job.weights,
        "--channels": job.channels,
        "--neuron": job.neuron,
        "--class": job.class_index,
        "--top": job.top,
        "--tile": job.tile,
        "seed": job.seed,
    }
    return {**job.settings.as_params(), **_model_identity(job), **options}


def run_batch(batch: BatchJob) -> int:
    """Dream every image of a batch not dreamed yet into the output folder (here or on Ray
    workers; the files are written here, atomically), resuming an interrupted batch."""
    from tf_impl.dream.batch import RECORD_FILE, open_batch, pending
    from tf_impl.images.files import save_rgb

    job, out_dir = batch.dream, batch.dream.output
    created = not out_dir.exists()
    out_dir.mkdir(exist_ok=True)
    try:
        with directory_lock(out_dir):
            open_batch(out_dir, _batch_identity(job), batch.inputs, batch.outputs)
            todo = pending(batch.outputs)
            images = _Images([batch.inputs[i] for i in todo])
            with progress(len(todo), "image", "dreams", job.quiet) as bar:
                update = with_throughput(bar, "image")

                def write(index: int, dream: np.ndarray) -> None:
                    save_rgb(batch.outputs[todo[index]], dream)
                    update(1)

                runner = ray_runner(batch.ray, job.spec, partial(batch_dreamer, job), job.quiet)
                if runner is not None:
                    runner(images, write)
                elif todo:
                    dreamer = BatchDreamer(job)
                    for index in range(len(images)):
                        write(index, dreamer(images[index]))
    finally:
        if created and not any(p.suffix == ".png" for p in out_dir.iterdir()):
            (out_dir / RECORD_FILE).unlink(missing_ok=True)  # a record of no dream
            out_dir.rmdir()
    kept = len(batch.outputs) - len(todo)
    print(f"wrote {len(todo)} dreams to {out_dir} ({kept} already there)", file=sys.stderr)
    return 0
