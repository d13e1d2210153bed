"""A static, self-contained web site for an atlas directory (plain HTML and CSS, relative
links, no script, no server):

    index.html                      every blob: a strip of its first channels (depth order)
    <blob>/index.html               the blob's channel grid
    <blob>/channel_0007.html        one channel: its picture(s) large (the lucid renderer's
                                    diverse ones and negatives too), the dataset examples
                                    that excite it most with their activation, and its
                                    activation statistics over the image set
    <blob>/crops/channel_0007_1.png those crops (receptive field around the strongest unit)
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from conversion.errors import DeepDreamError
from conversion.outputs import atomic_output
from tf_impl.atlas.atlas_dir import AtlasDir, rendered_channels
from tf_impl.atlas.dataset_crops import ChannelExamples, crop_image
from tf_impl.images.files import save_rgb

STRIP_CHANNELS = 12
STYLE = """
body { font-family: sans-serif; margin: 1.5em; background: #fafafa; color: #222; }
.warning { color: #b00000; font-weight: bold; }
.grid { display: flex; flex-wrap: wrap; gap: 6px; }
.grid a { text-decoration: none; color: #222; text-align: center; font-size: 13px; }
.grid img { display: block; width: 96px; height: 96px; }
.large { width: 256px; height: 256px; image-rendering: auto; margin-right: 6px; }
.stats td, .stats th { padding: 2px 10px; text-align: right; }
.crops figure { display: inline-block; margin: 4px; font-size: 12px; }
nav a { margin-right: 1em; }
"""


def _page(title: str, body: str, warning: str | None) -> str:
    banner = f'<p class="warning">{html.escape(warning)}</p>' if warning else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1>{banner}\n{body}\n</body></html>\n"
    )


def _write(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _channel_link(channel: int, prefix: str = "") -> str:
    return (
        f'<a href="{prefix}channel_{channel:04d}.html">'
        f'<img src="{prefix}channel_{channel:04d}.png" alt="channel {channel}">{channel}</a>'
    )


def write_site(
    atlas_dir: str | Path,
    examples: dict[str, list[ChannelExamples]] | None = None,
    images: Sequence[tuple[str, np.ndarray]] = (),
) -> Path:
    """Write the site's pages (and the crop images, given ``examples`` from
    :func:`tf_impl.atlas.dataset_crops.dataset_examples` over ``images``: [(name, (H, W, 3)
    uint8 RGB)]); returns index.html."""
    atlas = AtlasDir(Path(atlas_dir))
    index = atlas.index()
    if not index.get("blobs"):
        raise DeepDreamError(f"{atlas.root}: no atlas here; run 'deepdream atlas' first")
    warning = index.get("weights_label")
    model = index.get("model", "model")
    sections = []
    for blob, info in index["blobs"].items():
        channels = rendered_channels(atlas, blob)
        if not channels:
            continue
        prefix = f"{info['dir']}/"
        strip = "".join(_channel_link(c, prefix) for c in channels[:STRIP_CHANNELS])
        sections.append(
            f'<h2><a href="{prefix}index.html">{html.escape(blob)}</a> '
            f"({len(channels)} of {info['channels']} channels)</h2>"
            f'<div class="grid">{strip}</div>'
        )
        _write_blob_pages(atlas, blob, channels, model, warning, (examples or {}).get(blob), images)
    settings = html.escape(", ".join(f"{k} {v}" for k, v in index.get("settings", {}).items()))
    body = (
        f"<p>Model: {html.escape(model)}. Each picture is dreamed from noise to excite one "
        "channel; blobs are listed from shallow to deep, so the pictures grow from textures "
        f"to parts and objects down the page. Renderer: {settings}.</p>" + "".join(sections)
    )
    path = atlas.root / "index.html"
    _write(path, _page(f"Channel atlas: {model}", body, warning))
    return path


def _write_blob_pages(atlas, blob, channels, model, warning, examples, images) -> None:
    grid = "".join(_channel_link(c) for c in channels)
    nav = '<nav><a href="../index.html">all blobs</a><a href="sheet.png">contact sheet</a></nav>'
    body = f'{nav}<div class="grid">{grid}</div>'
    _write(atlas.blob_dir(blob) / "index.html", _page(f"{blob} ({model})", body, warning))
    for position, channel in enumerate(channels):
        links = ['<a href="../index.html">all blobs</a>', f'<a href="index.html">{blob}</a>']
        if position > 0:
            links.append(f'<a href="channel_{channels[position - 1]:04d}.html">previous</a>')
        if position + 1 < len(channels):
            links.append(f'<a href="channel_{channels[position + 1]:04d}.html">next</a>')
        body = f"<nav>{''.join(links)}</nav>" + _pictures_section(atlas, blob, channel)
        if examples is not None:
            body += _examples_section(atlas, blob, channel, examples[channel], images)
        title = f"{blob} channel {channel} ({model})"
        _write(atlas.blob_dir(blob) / f"channel_{channel:04d}.html", _page(title, body, warning))


def _pictures_section(atlas, blob, channel) -> str:
    """The channel's pictures: those that excite it, then (if rendered) those that inhibit it."""
    folder = atlas.blob_dir(blob)
    first = f"channel_{channel:04d}"
    positive = [f"{first}.png", *sorted(p.name for p in folder.glob(f"{first}_v*.png"))]
    negative = sorted(p.name for p in folder.glob(f"{first}_neg*.png"))
    parts = [("What excites it", positive), ("What inhibits it (the negative)", negative)]
    html_parts = []
    for heading, names in parts:
        if not names:
            continue
        pictures = "".join(
            f'<img class="large" src="{n}" alt="{html.escape(blob)} {html.escape(n)}">'
            for n in names
        )
        html_parts.append(f"<h2>{heading}</h2><p>{pictures}</p>")
    return "".join(html_parts)


def _examples_section(atlas, blob, channel, examples: ChannelExamples, images) -> str:
    crop_dir = atlas.blob_dir(blob) / "crops"
    crop_dir.mkdir(exist_ok=True)
    stats = (
        '<table class="stats"><tr><th>mean</th><th>max</th><th>positive</th></tr>'
        f"<tr><td>{examples.mean:.4g}</td><td>{examples.max:.4g}</td>"
        f"<td>{examples.positive:.1%}</td></tr></table>"
    )
    heading = (
        f"<h2>Activation over the {len(images)} images</h2><p>Over every position of every "
        f"image large enough for the blob:</p>{stats}"
    )
    figures = []
    for rank, crop in enumerate(examples.crops, start=1):
        name = f"channel_{channel:04d}_{rank}.png"
        save_rgb(crop_dir / name, crop_image(images[crop.image][1], crop))
        caption = f"{html.escape(images[crop.image][0])}: {crop.value:.3g}"
        figures.append(
            f'<figure><img src="crops/{name}" alt="{caption}"><figcaption>{caption}'
            "</figcaption></figure>"
        )
    if not figures:
        return "<p>No image was large enough for this blob.</p>"
    return (
        heading + "<h2>Image regions that excite it most</h2><p>The receptive field around "
        "the strongest unit of each image, highest activation first (the number: that "
        f'activation).</p><div class="crops">{"".join(figures)}</div>'
    )
