"""``deepdream atlas``, ``deepdream channels`` and ``deepdream page``: what each channel
represents, which channels an image excites, and a browsable site of both."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields, replace
from pathlib import Path

from conversion.errors import DeepDreamError
from tf_impl.atlas.render_settings import RenderSettings
from tf_impl.cli.options import add_model_options, parse_channels
from tf_impl.cli.parsing import finite_float

ATLAS_EXAMPLES = """examples:
  deepdream atlas --model bvlc_googlenet --layer inception_3b/output -o atlas/ --html
  deepdream atlas --model bvlc_googlenet --layer inception_4c/output --channels 0-63 -o atlas/
  deepdream atlas --model synthetic --layer inception_3a/output -o atlas/ --html --images photos/
  (run it again after an interruption: finished channels are kept)
"""
CHANNELS_EXAMPLES = """examples:
  deepdream channels sky.jpg --layer inception_4c/output --top 10 --json top.json -o top.png
  deepdream channels sky.jpg --layer inception_3b/output --atlas atlas/ -o top.png
"""
RENDER_HELP = {
    "size": "side of the starting noise image, pixels",
    "octaves": "number of image sizes",
    "octave_scale": "size ratio between octaves",
    "steps": "ascent steps per octave",
    "step_size": "pixels (0-255) per unit of normalised gradient",
    "lapnorm": "Laplacian pyramid levels of the gradient normalisation",
    "grey": "grey level of the start (0-255)",
    "noise": "+- uniform noise around the grey (0-255)",
    "seed": "noise and shift seed",
    "batch": "channels dreamed together",
    "contrast": "display contrast (the notebook's visstd factor)",
}


def register(subparsers) -> None:
    """Add the atlas, channels and page subcommands."""
    atlas = subparsers.add_parser(
        "atlas",
        help="one picture per channel of some blobs, and a contact sheet per blob",
        description="Dream each channel of the given blobs from seeded noise (the TF1 "
        "notebook's feature renderer: octaves growing the image, Laplacian-normalised "
        "gradient). Writes DIR/<blob>/channel_NNNN.png and DIR/<blob>/sheet.png; rerun to "
        "resume.",
        epilog=ATLAS_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_options(atlas)
    atlas.add_argument("--layer", nargs="+", required=True, metavar="BLOB", help="blob(s)")
    atlas.add_argument("-o", "--output", required=True, help="atlas directory")
    atlas.add_argument(
        "--channels", type=parse_channels, help="channels to render, e.g. 0-15,32 (default all)"
    )
    defaults = RenderSettings()
    for field in fields(RenderSettings):
        default = getattr(defaults, field.name)
        atlas.add_argument(
            "--" + field.name.replace("_", "-"),
            type=finite_float if isinstance(default, float) else type(default),
            help=f"{RENDER_HELP[field.name]} (default: {default})",
        )
    atlas.add_argument("--html", action="store_true", help="also write the browsable site")
    atlas.add_argument("--images", help="with --html: folder of images for the crops")
    atlas.add_argument("--quiet", action="store_true", help="no progress bar")
    atlas.set_defaults(func=run_atlas)

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
    channels.set_defaults(func=run_channels)

    page = subparsers.add_parser(
        "page",
        help="write the browsable site of an atlas directory",
        description="Write a static site (plain HTML, relative links) into an atlas "
        "directory: blobs overview, a channel grid per blob, one page per channel; with "
        "--images, the regions of those images that excite each channel most.",
        epilog="example: deepdream page atlas/ --images photos/",
    )
    page.add_argument("atlas", help="atlas directory (from deepdream atlas)")
    page.add_argument("--images", help="folder of images for the crops")
    page.add_argument(
        "--model", help="model for --images (default: the atlas's, when it is a name)"
    )
    page.add_argument("--prototxt", help="deploy .prototxt for a .caffemodel")
    page.set_defaults(func=run_page)


def _settings(args) -> RenderSettings:
    given = {
        f.name: getattr(args, f.name)
        for f in fields(RenderSettings)
        if getattr(args, f.name) is not None
    }
    return replace(RenderSettings(), **given)


def run_atlas(args) -> int:
    """Render (or resume) an atlas, then its sheets and, with --html, its site."""
    from tqdm import tqdm

    from conversion.output_checks import check_output_dir
    from tf_impl.atlas.atlas_dir import pending_count, plan_atlas, render_atlas
    from tf_impl.atlas.dataset_crops import load_image_folder
    from tf_impl.models.loading import load_net

    if args.images and not args.html:
        raise DeepDreamError("--images goes with --html (the crops are shown on the site)")
    check_output_dir(args.output)
    images = load_image_folder(args.images) if args.images else ()
    settings = _settings(args)
    net = load_net(args.model, args.prototxt)
    plan = plan_atlas(net, args.output, args.layer, settings, args.channels)
    total = pending_count(args.output, plan, settings.sizes()[-1])
    with tqdm(
        total=total, unit="channel", desc="atlas", disable=args.quiet, file=sys.stderr
    ) as bar:
        atlas = render_atlas(net, settings, args.output, plan, on_channels=bar.update)
    print(f"wrote {total} channel pictures and {len(plan)} sheet(s) in {atlas.root}")
    if args.html:
        _write_site(net, atlas.root, list(plan), images)
    return 0


def _write_site(net, root, blobs, images) -> None:
    from tf_impl.atlas.dataset_crops import strongest_crops
    from tf_impl.atlas.site import write_site

    crops = strongest_crops(net, images, blobs) if images else None
    index = write_site(root, crops, images)
    print(f"wrote the site: {index}")


def run_page(args) -> int:
    """Write the site of an existing atlas directory."""
    from conversion.output_checks import check_output_dir
    from tf_impl.atlas.atlas_dir import AtlasDir
    from tf_impl.atlas.dataset_crops import load_image_folder
    from tf_impl.atlas.site import write_site
    from tf_impl.models.loading import load_net

    atlas = AtlasDir(check_output_dir(args.atlas))
    index = atlas.index()
    if not index.get("blobs"):
        raise DeepDreamError(f"{args.atlas}: no atlas here; run 'deepdream atlas' first")
    if not args.images:
        print(f"wrote the site: {write_site(atlas.root)}")
        return 0
    images = load_image_folder(args.images)
    net = load_net(args.model or index["model"], args.prototxt)
    _write_site(net, atlas.root, list(index["blobs"]), images)
    return 0


def run_channels(args) -> int:
    """Print, and optionally write, the channels an image excites most."""
    import numpy as np

    from conversion.output_checks import check_output_file
    from conversion.outputs import atomic_output
    from tf_impl.atlas.overlay import overlay_sheet
    from tf_impl.images.files import check_output_path, load_rgb, save_rgb
    from tf_impl.models.labels import model_title, weights_label
    from tf_impl.models.loading import load_net
    from tf_impl.net.channel_stats import blob_activations, channel_stats, top_channels

    if args.json:
        check_output_file(args.json, (".json",), (args.image,))
    if args.output:
        check_output_path(args.output, (args.image,))
    if args.atlas and not (Path(args.atlas) / "atlas.json").is_file():
        raise DeepDreamError(f"--atlas {args.atlas}: no atlas there (no atlas.json)")
    rgb = load_rgb(args.image)
    net = load_net(args.model, args.prototxt)
    activations = blob_activations(net, rgb, args.layer)
    top = top_channels(channel_stats(activations), args.top, args.by)
    label = weights_label(net)
    print(f"{args.layer} on {args.image} ({model_title(net)}), top {len(top)} by {args.by}:")
    if label:
        print(f"({label})")
    print(f"{'rank':>4} {'channel':>7} {'mean':>12} {'max':>12}")
    for rank, stat in enumerate(top, start=1):
        print(f"{rank:>4} {stat.channel:>7} {stat.mean:>12.5g} {stat.max:>12.5g}")
    if args.json:
        record = {
            "image": str(args.image),
            "layer": args.layer,
            "model": model_title(net),
            "weights_label": label,
            "ranked_by": args.by,
            "channels": [vars(s) for s in top],
        }
        with atomic_output(args.json) as tmp:
            tmp.write_text(json.dumps(record, indent=1))
        print(f"wrote {args.json}", file=sys.stderr)
    if args.output:
        title = f"{args.layer}: top {len(top)} channels by {args.by} ({model_title(net)})"
        sheet = overlay_sheet(
            rgb,
            activations,
            top,
            title=title,
            warning=label,
            atlas_dir=args.atlas,
            blob=args.layer,
        )
        save_rgb(args.output, np.asarray(sheet))
        print(f"wrote {args.output}", file=sys.stderr)
    return 0
