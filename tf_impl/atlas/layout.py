"""Where an atlas keeps its files (the layout :mod:`tf_impl.atlas.atlas_dir` describes), without
TensorFlow: the command line reads an atlas's index here before TensorFlow loads."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from conversion.errors import DeepDreamError
from tf_impl.atlas.render_settings import Settings
from tf_impl.images.files import is_complete_image
from tf_impl.net.naming import keras_name

ATLAS_FILE = "atlas.json"
SHEET_FILE = "sheet.png"


@dataclass(frozen=True)
class AtlasDir:
    """Paths inside an atlas directory ``root``."""

    root: Path

    def blob_dir(self, blob: str) -> Path:
        """The blob's directory (its Keras-safe name, e.g. inception_3b.output)."""
        return self.root / keras_name(blob)

    def channel_png(self, blob: str, channel: int, suffix: str = "") -> Path:
        """One channel's picture: (S, S, 3) RGB PNG; ``suffix`` names its other pictures
        (see :meth:`~tf_impl.atlas.render_settings.LucidSettings.pictures`)."""
        return self.blob_dir(blob) / f"channel_{channel:04d}{suffix}.png"

    def sheet(self, blob: str) -> Path:
        """The blob's contact sheet."""
        return self.blob_dir(blob) / SHEET_FILE

    def index(self) -> dict:
        """The atlas.json contents ({} when there is none yet)."""
        path = self.root / ATLAS_FILE
        if not path.is_file():
            return {}
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            raise DeepDreamError(
                f"{path}: unreadable atlas index; remove it or use a new directory"
            ) from None

    def finished(self, blob: str, channels: Sequence[int], settings: Settings) -> list[int]:
        """The channels among ``channels`` whose PNGs are all complete (readable, at the
        settings' side)."""
        size = (settings.side(), settings.side())
        return [
            c
            for c in channels
            if all(
                is_complete_image(self.channel_png(blob, c, s), size) for s in settings.pictures()
            )
        ]
