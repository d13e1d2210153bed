"""A channel atlas on disk: one picture per channel of some blobs, and a contact sheet per blob.

Layout of an atlas directory::

    atlas.json                      model, the network's identity (name, or file and SHA-1),
                                    weights label, renderer settings, blobs rendered
    <blob>/channel_0007.png         one channel (blob directory: the Keras-safe blob name,
                                    e.g. inception_3b.output)
    <blob>/channel_0007_v1.png      with the lucid renderer's --diversity 2 and up: the
    <blob>/channel_0007_neg.png     channel's other pictures; with --negatives, what
                                    minimises it (LucidSettings.pictures names them)
    <blob>/sheet.png                all channels so far (their first picture), labelled

Resumable: a channel whose PNG is present and readable at the expected size is kept; every
other one is rendered (all writes are atomic, so an interruption leaves no partial file, and a
damaged file is redone). Channels are rendered in fixed groups (:func:`channel_groups`), each
group batching only the channels asked for, so a resumed run of the same request computes
exactly what an uninterrupted one does and writes identical bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from conversion.errors import DeepDreamError
from conversion.model_files import ModelSpec, describe_network, same_network
from conversion.output_checks import check_output_dir
from conversion.outputs import atomic_output, remove_stale_temporaries
from tf_impl.atlas.contact_sheet import labelled_grid
from tf_impl.atlas.layout import ATLAS_FILE, AtlasDir
from tf_impl.atlas.lucid import LucidRenderer
from tf_impl.atlas.render import ChannelRenderer, channel_groups
from tf_impl.atlas.render_settings import LucidSettings, Settings, check_atlas_settings
from tf_impl.images.files import save_rgb
from tf_impl.models.labels import model_title, weights_label
from tf_impl.models.loading import load_net
from tf_impl.net.channel_stats import check_spatial_blob
from tf_impl.net.naming import keras_name
from tf_impl.net.network import DreamNet

SHEET_TILE = 96


def plan_atlas(
    net: DreamNet,
    out_dir: str | Path,
    blobs: Sequence[str],
    settings: Settings,
    channels: Sequence[int] | None = None,
    network: dict | None = None,
) -> dict[str, list[int]]:
    """Check everything before any work and return {blob: channels to have}: the blobs are
    known, spatial and not empty at the smallest octave; the channels are in range; the
    directory is writable; an existing atlas there was made with the same model and settings.
    ``channels``: a subset for every blob (default: all channels of each). ``network``: the
    model's :meth:`~conversion.model_files.ModelSpec.identity`; an atlas that recorded another
    network (another file of the same name, say) is refused."""
    root = check_output_dir(out_dir)
    check_atlas_settings(settings)
    plan = {}
    for blob in blobs:
        n = check_spatial_blob(net, blob, settings.smallest_side(), settings.smallest_side())
        wanted = list(channels) if channels is not None else list(range(n))
        bad = [c for c in wanted if not 0 <= c < n]
        if bad:
            raise DeepDreamError(
                f"channel {bad[0]} is out of range for '{blob}', which has channels 0-{n - 1}"
            )
        plan[blob] = wanted
    existing = AtlasDir(root).index()
    stored = existing.get("network")
    if network is not None and stored is not None and not same_network(stored, network):
        raise DeepDreamError(
            f"{root} holds an atlas of another network, {describe_network(stored)}; this run's "
            f"is {describe_network(network)}; one atlas never mixes two networks: use a new "
            "directory"
        )
    if existing and (
        existing.get("settings") != settings.as_dict() or existing.get("model") != model_title(net)
    ):
        raise DeepDreamError(
            f"{root} holds an atlas of {existing.get('model')} with other renderer settings "
            f"({existing.get('settings')}); use a new directory or the same settings"
        )
    return plan


def write_index(
    atlas: AtlasDir, net: DreamNet, settings: Settings, blobs, network: dict | None = None
) -> None:
    """Write atlas.json (atomically), adding ``blobs`` to the blobs already listed, with the
    ``network`` identity (see :func:`plan_atlas`; kept from before when None)."""
    index = atlas.index()
    listed = dict(index.get("blobs", {}))
    for blob in blobs:
        listed[blob] = {"dir": keras_name(blob), "channels": net.channels(blob)}
    order = net.blob_names()  # shallow to deep, as the site shows them
    index = {
        "model": model_title(net),
        "network": network if network is not None else index.get("network"),
        "weights_label": weights_label(net),
        "settings": settings.as_dict(),
        "blobs": {b: listed[b] for b in sorted(listed, key=order.index)},
    }
    with atomic_output(atlas.root / ATLAS_FILE) as tmp:
        tmp.write_text(json.dumps(index, indent=1))


def make_renderer(
    net: DreamNet, settings: Settings, blob: str, whole_blob: bool = False
) -> ChannelRenderer | LucidRenderer:
    """The renderer of ``settings``' kind for ``blob`` (``whole_blob``: see the renderers)."""
    kind = LucidRenderer if isinstance(settings, LucidSettings) else ChannelRenderer
    return kind(net, settings, blob, whole_blob)


@dataclass(frozen=True)
class GroupTask:
    """One fixed channel group of a blob (:func:`~tf_impl.atlas.render.channel_groups`): its
    requested ``members`` are rendered together (the batch a picture depends on) and its
    ``missing`` ones written."""

    blob: str
    members: tuple[int, ...]
    missing: tuple[int, ...]


def atlas_tasks(atlas: AtlasDir, plan: dict[str, list[int]], settings: Settings) -> list[GroupTask]:
    """The groups of ``plan`` that have a channel not finished yet, blob by blob; makes the
    blob directories and removes the temporary files a killed run left there."""
    tasks = []
    for blob, channels in plan.items():
        atlas.blob_dir(blob).mkdir(exist_ok=True)
        remove_stale_temporaries(atlas.blob_dir(blob), r"channel_\d{4}(?:_[a-z0-9]+)?", ".png")
        done = set(atlas.finished(blob, channels, settings))
        for members in channel_groups(channels, settings.batch).values():
            missing = tuple(c for c in members if c not in done)
            if missing:
                tasks.append(GroupTask(blob, members, missing))
    return tasks


# {channel: {picture suffix: (S, S, 3) uint8 RGB}} (see LucidSettings.pictures).
Pictures = dict[int, dict[str, np.ndarray]]


class GroupRenderer:
    """Renders groups for :func:`render_atlas`, keeping the last blob's compiled renderer:
    ``renderer((blob, members))`` -> the pictures of ``members`` (:data:`Pictures`)."""

    def __init__(self, net: DreamNet, settings: Settings):
        self.net, self.settings = net, settings
        self._renderer: ChannelRenderer | LucidRenderer | None = None

    def __call__(self, item: tuple[str, tuple[int, ...]]) -> Pictures:
        blob, members = item
        if self._renderer is None or self._renderer.layer != blob:
            self._renderer = make_renderer(self.net, self.settings, blob)
        return self._renderer.pictures(list(members))


def group_renderer(settings: Settings, spec: ModelSpec) -> GroupRenderer:
    """A :class:`GroupRenderer` of the model ``spec`` names (what a Ray worker runs)."""
    return GroupRenderer(load_net(spec), settings)


# render_groups(items, on_result): computes each item (blob, members) -> pictures somewhere
# (e.g. on Ray workers) and calls on_result(index, pictures) in this process.
GroupRunner = Callable[[list, Callable[[int, Pictures], None]], None]


def render_atlas(
    net: DreamNet,
    settings: Settings,
    out_dir: str | Path,
    plan: dict[str, list[int]],
    on_channels: Callable[[int], None] | None = None,
    network: dict | None = None,
    render_groups: GroupRunner | None = None,
) -> AtlasDir:
    """Render the channels of ``plan`` (from :func:`plan_atlas`) that are not finished yet,
    then each blob's contact sheet. A group's unfinished channels are rendered together with
    the group's other requested channels (never more: a batch holds only what was asked).
    ``on_channels(n)`` is called after each group with the number of channels written;
    ``network`` is recorded (:func:`write_index`). ``render_groups`` renders the groups
    elsewhere (default: here, one after another, with :class:`GroupRenderer`); the pictures
    are written here either way, atomically. Returns the atlas directory."""
    atlas = AtlasDir(Path(out_dir))
    atlas.root.mkdir(exist_ok=True)
    write_index(atlas, net, settings, plan, network)
    tasks = atlas_tasks(atlas, plan, settings)

    def write(index: int, pictures: Pictures) -> None:
        task = tasks[index]
        for channel in task.missing:
            for suffix, picture in pictures[channel].items():
                save_rgb(atlas.channel_png(task.blob, channel, suffix), picture)
        if on_channels:
            on_channels(len(task.missing))

    items = [(task.blob, task.members) for task in tasks]
    if render_groups is None:
        renderer = GroupRenderer(net, settings)
        for index, item in enumerate(items):
            write(index, renderer(item))
    else:
        render_groups(items, write)
    for blob in plan:
        write_sheet(atlas, net, blob)
    return atlas


def pending_count(atlas_dir: str | Path, plan: dict[str, list[int]], settings: Settings) -> int:
    """How many channels of ``plan`` still have to be rendered."""
    atlas = AtlasDir(Path(atlas_dir))
    return sum(len(ch) - len(atlas.finished(b, ch, settings)) for b, ch in plan.items())


def rendered_channels(atlas: AtlasDir, blob: str) -> list[int]:
    """Channel numbers with a PNG in ``blob``'s directory, ascending."""
    names = sorted(atlas.blob_dir(blob).glob("channel_[0-9][0-9][0-9][0-9].png"))
    return [int(p.stem.split("_")[1]) for p in names]


def write_sheet(atlas: AtlasDir, net: DreamNet, blob: str) -> Path:
    """The blob's contact sheet: every rendered channel, numbered, with the model and, for
    synthetic weights, the label saying so."""
    channels = rendered_channels(atlas, blob)
    tiles = [(np.asarray(Image.open(atlas.channel_png(blob, c))), str(c)) for c in channels]
    sheet = labelled_grid(
        tiles,
        tile_size=SHEET_TILE,
        columns=min(len(tiles), 16) or 1,
        title=[f"{blob}: {len(channels)} channels, {model_title(net)}"],
        warning=weights_label(net),
    )
    return save_rgb(atlas.sheet(blob), np.asarray(sheet))
