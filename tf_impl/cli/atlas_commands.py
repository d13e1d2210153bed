"""``deepdream atlas``, ``deepdream channels`` and ``deepdream page``: what each channel
represents, which channels an image excites, and a browsable site of both."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path

import numpy as np

from conversion.errors import DeepDreamError
from conversion.locks import directory_lock
from conversion.model_files import (
    ModelSpec,
    check_model_arguments,
    describe_network,
    same_network,
)
from conversion.output_checks import check_output_dir, check_output_file
from conversion.outputs import atomic_output
from tf_impl.atlas.render_settings import RENDERERS, Settings, check_atlas_settings, option
from tf_impl.cli.options import (
    add_channels_option,
    add_memory_option,
    add_model_options,
    add_ray_options,
    model_spec,
    ray_runner,
    ray_settings,
)
from tf_impl.cli.parsing import finite_float
from tf_impl.cli.progress import progress, with_throughput
from tf_impl.cluster.ray_pool import RayOptions

ATLAS_EXAMPLES = """examples:
  deepdream atlas --model bvlc_googlenet --layer inception_3b/output -o atlas/ --html
  deepdream atlas --model bvlc_googlenet --layer inception_4c/output --channels 0-63 -o atlas/ \
      --render notebook
  deepdream atlas --model synthetic --layer inception_3a/output -o atlas/ --html --images photos/
  deepdream atlas --model open_nsfw --layer eltwise_stage1_block1 --negatives --diversity 2 \
      --channels 0-7 -o lucid/ --html
  (run it again after an interruption: finished channels are kept)
"""
CHANNELS_EXAMPLES = """examples:
  deepdream channels sky.jpg --layer inception_4c/output --top 10 --json top.json -o top.png
  deepdream channels sky.jpg --layer inception_3b/output --atlas atlas/ -o top.png
"""
RENDER_HELP = {
    "size": "side of the picture (notebook: of the starting noise), pixels",
    "octaves": "number of image sizes",
    "octave_scale": "size ratio between octaves",
    "steps": "optimisation steps (notebook: per octave)",
    "step_size": "pixels (0-255) per unit of normalised gradient",
    "lapnorm": "Laplacian pyramid levels of the gradient normalisation",
    "grey": "grey level of the start (0-255)",
    "noise": "+- uniform noise around the grey (0-255)",
    "seed": "seed of the start and of the random shifts or transformations",
    "batch": "channels rendered together",
    "contrast": "display contrast (the notebook's visstd factor)",
    "learning_rate": "Adam's learning rate on the Fourier coefficients",
    "decay": "the spectrum is scaled by 1 / frequency ** decay",
    "init_std": "standard deviation of the starting coefficients",
    "pad": "pixels of mean colour around the picture before each step",
    "jitter": "random crop offset before each step, +- pixels",
    "scale": "random scale before each step, 1 +- this",
    "rotation": "random rotation before each step, +- degrees",
    "diversity": "pictures per channel, made to differ (Gram-matrix diversity term)",
    "diversity_weight": "weight of the diversity term (fraction of the mean |activation|)",
    "negatives": "also render what minimises each channel",
}


def register(subparsers) -> None:
    """Add the atlas, channels and page subcommands."""
    atlas = subparsers.add_parser(
        "atlas",
        help="one picture per channel of some blobs, and a contact sheet per blob",
        description="Dream each channel of the given blobs from seeded noise: --render lucid "
        "(the default, Lucid's way: a decorrelated Fourier-basis image, random pad, jitter, "
        "scale and rotation before each of a few hundred Adam steps; with --diversity and "
        "--negatives) or --render notebook (the TF1 notebook's feature renderer: octaves "
        "growing the image, Laplacian-normalised gradient; about 10 times faster). Writes "
        "DIR/<blob>/channel_NNNN.png and "
        "DIR/<blob>/sheet.png; rerun to resume. The renderer's options are listed below with "
        "each renderer's default.",
        epilog=ATLAS_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_options(atlas)
    atlas.add_argument(
        "--layer",
        nargs="+",
        required=True,
        metavar="BLOB",
        help="blob(s), or 'all': every module's output and the stem's convolutions (GoogLeNet: "
        "12 blobs, 5,808 channels)",
    )
    atlas.add_argument("-o", "--output", required=True, help="atlas directory")
    add_channels_option(atlas, "channels to render, e.g. 0-15,32 (default all)")
    names = list(RENDERERS)
    atlas.add_argument(
        "--render", choices=names, default=names[0], help=f"renderer (default: {names[0]})"
    )
    for name, default in _render_defaults().items():
        kinds = ", ".join(f"{k} {v}" for k, v in default.items())
        example = next(iter(default.values()))
        kwargs = (
            {"action": "store_const", "const": True}
            if isinstance(example, bool)
            else {"type": finite_float if isinstance(example, float) else int}
        )
        atlas.add_argument(option(name), **kwargs, help=f"{RENDER_HELP[name]} (default: {kinds})")
    atlas.add_argument("--html", action="store_true", help="also write the browsable site")
    atlas.add_argument(
        "--images",
        help="with --html: folder of images for the dataset examples (default: the built-in "
        "photographs)",
    )
    add_memory_option(atlas, "a batch of channels")
    add_ray_options(atlas, "render the channel groups")
    atlas.add_argument("--quiet", action="store_true", help="no progress bar")
    atlas.set_defaults(func=run_atlas, check=check_atlas)

    channels = subparsers.add_parser(
        "channels",
        help="which channels of a blob an image excites most",
        description="Mean and max activation of every channel of a blob for an image (at its "
        "own size); prints the top K as a table, optionally as JSON and as a picture of their "
        "activation maps over the image (beside their atlas pictures with --atlas).",
        epilog=CHANNELS_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    channels.add_argument("image", help="input image")
    add_model_options(channels)
    channels.add_argument("--layer", required=True, metavar="BLOB", help="blob to inspect")
    channels.add_argument("--top", type=int, default=10, help="how many (default: 10)")
    channels.add_argument("--by", choices=("mean", "max"), default="mean", help="rank by")
    channels.add_argument("--json", help="write the top channels to this .json file")
    channels.add_argument("-o", "--output", help="write the overlay picture (.png...)")
    channels.add_argument("--atlas", help="atlas directory: put each channel's picture beside")
    add_memory_option(channels, "the image's pass (a larger image is scaled down)")
    channels.set_defaults(func=run_channels, check=check_channels)

    page = subparsers.add_parser(
        "page",
        help="write the browsable site of an atlas directory",
        description="Write a static site (plain HTML, relative links) into an atlas "
        "directory: blobs overview, a channel grid per blob, one page per channel with the "
        "regions of a set of images (--images, or the built-in photographs) that excite it "
        "most.",
        epilog="example: deepdream page atlas/ --images photos/",
    )
    page.add_argument("atlas", help="atlas directory (from deepdream atlas)")
    page.add_argument(
        "--images", help="folder of images for the crops (default: the built-in photographs)"
    )
    page.add_argument("--model", help="the atlas's model (default: the one it records)")
    page.add_argument("--prototxt", help="deploy .prototxt for a .caffemodel")
    page.set_defaults(func=run_page, check=check_page)


@dataclass(frozen=True)
class AtlasJob:
    """A checked ``atlas``: the model, where, which blobs and channels, how."""

    spec: ModelSpec
    network: dict
    output: Path
    layers: tuple[str, ...]
    channels: tuple[int, ...] | None
    settings: Settings
    images: str | None
    html: bool
    max_memory: int | None
    quiet: bool
    ray: RayOptions | None = None


@dataclass(frozen=True)
class ChannelsJob:
    """A checked ``channels``: the image ((H, W, 3) uint8 RGB) and what to write."""

    spec: ModelSpec
    image: str
    rgb: np.ndarray
    layer: str
    top: int
    by: str
    json: Path | None
    output: Path | None
    atlas: Path | None
    max_memory: int | None


@dataclass(frozen=True)
class PageJob:
    """A checked ``page``: the atlas directory and index, ``--images`` (None: the built-in
    photographs) and the model (checked to be the atlas's own network)."""

    root: Path
    index: dict
    images: str | None
    spec: ModelSpec


def _render_defaults() -> dict[str, dict[str, object]]:
    """{settings field: {renderer: its default}} over every renderer's fields."""
    found: dict[str, dict[str, object]] = {}
    for kind, settings_class in RENDERERS.items():
        for field in fields(settings_class):
            found.setdefault(field.name, {})[kind] = field.default
    return found


def _settings(args) -> Settings:
    """The --render renderer's settings with the options given; an option of another
    renderer only is refused."""
    kind = RENDERERS[args.render]
    own = {f.name for f in fields(kind)}
    given = {n: getattr(args, n) for n in _render_defaults() if getattr(args, n) is not None}
    foreign = sorted(set(given) - own)
    if foreign:
        others = [k for k, c in RENDERERS.items() if foreign[0] in {f.name for f in fields(c)}]
        raise DeepDreamError(
            f"{option(foreign[0])} is an option of --render {others[0]}, not of --render "
            f"{args.render}"
        )
    settings = kind(**given)
    check_atlas_settings(settings)
    return settings


def _existing_index(root: Path) -> dict:
    from tf_impl.atlas.layout import AtlasDir

    return AtlasDir(root).index() if root.is_dir() else {}


def _refuse_other_network(index: dict, spec: ModelSpec, where: Path) -> None:
    """An atlas records its network (name, or file and SHA-1); refuse another one."""
    stored = index.get("network")
    if stored is not None and not same_network(stored, spec.identity()):
        raise DeepDreamError(
            f"{where} is an atlas of {describe_network(stored)}, not of "
            f"{describe_network(spec.identity())}; give that model with --model, or use "
            "another atlas"
        )


def check_atlas(args) -> AtlasJob:
    """``atlas``'s checks before TensorFlow: the model, the output directory, the settings,
    --images, and that an atlas already there is of the same network."""
    spec = model_spec(args)
    if args.images and not args.html:
        raise DeepDreamError("--images goes with --html (the crops are shown on the site)")
    if args.images and not Path(args.images).is_dir():
        raise DeepDreamError(f"--images {args.images}: no such directory")
    output = check_output_dir(args.output)
    settings = _settings(args)
    network = spec.identity()
    _refuse_other_network(_existing_index(output), spec, output)
    return AtlasJob(
        spec=spec,
        network=network,
        output=output,
        layers=tuple(args.layer),
        channels=tuple(args.channels) if args.channels else None,
        settings=settings,
        images=args.images,
        html=args.html,
        max_memory=args.max_memory,
        quiet=args.quiet,
        ray=ray_settings(args),
    )


def _check_batch_memory(net, plan: dict, job: AtlasJob) -> None:
    """Refuse, before any rendering, a batch of channels whose step at the last octave's size
    would not fit in the memory budget (the batch holds only the channels asked for)."""
    from tf_impl.atlas.render import channel_groups
    from tf_impl.cli.limits import memory_budget, pass_bytes, refuse_over_budget

    budget = memory_budget(job.max_memory)
    side = job.settings.input_side()
    pictures = len(job.settings.pictures())
    for blob, channels in plan.items():
        batch = max(map(len, channel_groups(channels, job.settings.batch).values()), default=0)
        refuse_over_budget(
            pass_bytes(net, [blob], side, side, batch * pictures),
            budget,
            f"rendering {batch} channel(s) of '{blob}' together ({pictures} picture(s) each) "
            f"at up to {side}x{side} (from --size {job.settings.size})",
            "use a smaller --size or --batch",
        )


def run_atlas(job: AtlasJob) -> int:
    """Render (or resume) an atlas, then its sheets and, with --html, its site."""
    from tf_impl.atlas.atlas_dir import group_renderer, pending_count, plan_atlas, render_atlas
    from tf_impl.models.loading import load_net
    from tf_impl.net.network import main_blobs

    images = _image_set(job.images) if job.html else ()
    net = load_net(job.spec)
    channels = list(job.channels) if job.channels else None
    created = not job.output.exists()
    job.output.mkdir(exist_ok=True)
    try:
        with directory_lock(job.output):
            # Checked again under the lock: another run may have written atlas.json since.
            layers = main_blobs(net) if job.layers == ("all",) else list(job.layers)
            plan = plan_atlas(net, job.output, layers, job.settings, channels, job.network)
            _check_batch_memory(net, plan, job)
            total = pending_count(job.output, plan, job.settings)
            with progress(total, "channel", "atlas", job.quiet) as bar:
                atlas = render_atlas(
                    net,
                    job.settings,
                    job.output,
                    plan,
                    with_throughput(bar, "channel"),
                    network=job.network,
                    render_groups=ray_runner(
                        job.ray, job.spec, partial(group_renderer, job.settings), job.quiet
                    ),
                )
            print(f"wrote {total} channel pictures and {len(plan)} sheet(s) in {atlas.root}")
            if job.html:
                _write_site(net, atlas.root, list(plan), images)
    finally:
        if created and not any(job.output.iterdir()):
            job.output.rmdir()
    return 0


def _image_set(folder: str | None) -> list:
    """The dataset examples' images: ``folder``'s, or the built-in photographs."""
    from tf_impl.atlas.dataset_crops import builtin_images, load_image_folder

    return load_image_folder(folder) if folder else builtin_images()


def _write_site(net, root, blobs, images) -> None:
    from tf_impl.atlas.dataset_crops import dataset_examples
    from tf_impl.atlas.site import write_site

    index = write_site(root, dataset_examples(net, images, blobs), images)
    print(f"wrote the site: {index}")


def check_page(args) -> PageJob:
    """``page``'s checks before TensorFlow: an atlas is there; --images, if given, is a
    folder; the model, which must be the network the atlas was made with (recorded in
    atlas.json)."""
    root = check_output_dir(args.atlas)
    index = _existing_index(root)
    if not index.get("blobs"):
        raise DeepDreamError(f"{args.atlas}: no atlas here; run 'deepdream atlas' first")
    if args.images and not Path(args.images).is_dir():
        raise DeepDreamError(f"--images {args.images}: no such directory")
    stored = index.get("network") or {}
    model = args.model or stored.get("file") or stored.get("name") or index.get("model")
    spec = check_model_arguments(model, args.prototxt)
    _refuse_other_network(index, spec, root)
    return PageJob(root, index, args.images, spec)


def run_page(job: PageJob) -> int:
    """Write the site of an existing atlas directory."""
    from tf_impl.models.loading import load_net

    with directory_lock(job.root):
        images = _image_set(job.images)
        net = load_net(job.spec)
        _write_site(net, job.root, list(job.index["blobs"]), images)
    return 0


def check_channels(args) -> ChannelsJob:
    """``channels``' checks before TensorFlow: the model, the outputs, the atlas (of the same
    network), the image read."""
    from tf_impl.images.files import check_output_path, load_rgb

    spec = model_spec(args)
    inputs = (args.image, spec.file, spec.prototxt)
    json_path = check_output_file(args.json, (".json",), inputs) if args.json else None
    output = check_output_path(args.output, inputs) if args.output else None
    atlas = None
    if args.atlas:
        atlas = Path(args.atlas)
        if not (atlas / "atlas.json").is_file():
            raise DeepDreamError(f"--atlas {args.atlas}: no atlas there (no atlas.json)")
        index = _existing_index(atlas)
        _refuse_other_network(index, spec, atlas)
        if args.layer not in index.get("blobs", {}):
            listed = ", ".join(index.get("blobs", {})) or "none"
            print(
                f"note: --atlas {args.atlas} has no pictures of '{args.layer}' (it has: "
                f"{listed}); the sheet shows grey boxes in their place",
                file=sys.stderr,
            )
    if args.top < 1:
        raise DeepDreamError(f"--top must be at least 1 (got {args.top})")
    rgb = load_rgb(args.image)
    return ChannelsJob(
        spec, args.image, rgb, args.layer, args.top, args.by, json_path, output, atlas,
        args.max_memory,
    )  # fmt: skip


def run_channels(job: ChannelsJob) -> int:
    """Print, and optionally write, the channels an image excites most."""
    from tf_impl.atlas.overlay import overlay_sheet
    from tf_impl.cli.limits import fit_to_budget, memory_budget
    from tf_impl.images.files import save_rgb
    from tf_impl.models.labels import model_title, weights_label
    from tf_impl.models.loading import load_net
    from tf_impl.net.channel_stats import blob_activations, channel_stats, top_channels

    net = load_net(job.spec)
    net.channels(job.layer)  # unknown names: one line, with suggestions
    rgb = fit_to_budget(net, [job.layer], job.rgb, memory_budget(job.max_memory), "image")
    activations = blob_activations(net, rgb, job.layer)
    top = top_channels(channel_stats(activations), job.top, job.by)
    label = weights_label(net)
    print(f"{job.layer} on {job.image} ({model_title(net)}), top {len(top)} by {job.by}:")
    if label:
        print(f"({label})")
    print(f"{'rank':>4} {'channel':>7} {'mean':>12} {'max':>12}")
    for rank, stat in enumerate(top, start=1):
        print(f"{rank:>4} {stat.channel:>7} {stat.mean:>12.5g} {stat.max:>12.5g}")
    if job.json:
        record = {
            "image": str(job.image),
            "layer": job.layer,
            "model": model_title(net),
            "weights_label": label,
            "ranked_by": job.by,
            "channels": [vars(s) for s in top],
        }
        with atomic_output(job.json) as tmp:
            tmp.write_text(json.dumps(record, indent=1))
        print(f"wrote {job.json}", file=sys.stderr)
    if job.output:
        title = f"{job.layer}: top {len(top)} channels by {job.by} ({model_title(net)})"
        sheet = overlay_sheet(
            rgb,
            activations,
            top,
            title=title,
            warning=label,
            atlas_dir=job.atlas,
            blob=job.layer,
        )
        save_rgb(job.output, np.asarray(sheet))
        print(f"wrote {job.output}", file=sys.stderr)
    return 0
