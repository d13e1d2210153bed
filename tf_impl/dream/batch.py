"""A batch of dreams on disk: several images (or a folder) in, one folder out, resumable.

Layout of an output folder::

    dreams.json         the settings that made the dreams (dream settings, objective options,
                        the model's name or SHA-1, seed...) and each input's SHA-1
    <stem>.png          the dream of input <stem>.<ext>, the input's size

Every image is written atomically, so an interruption leaves no partial file; a rerun with the
same settings skips the dreams already written and makes the others, byte for byte what one
uninterrupted run writes (each image's jitter comes from the one seed, whatever the order or
the machine that dreams it). A rerun with other settings, or an input whose contents changed
under an existing dream, is refused, naming what differs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from conversion.download import sha1_of
from conversion.errors import DeepDreamError
from conversion.outputs import atomic_output, remove_stale_temporaries
from tf_impl.dream.resume import check_same_run
from tf_impl.images.files import image_files, is_complete_image

RECORD_FILE = "dreams.json"


def batch_inputs(inputs: Sequence[str | Path]) -> list[Path]:
    """The image files a batch reads: each file given, and each folder's images
    (:func:`~tf_impl.images.files.image_files`), in the order given. Raises DeepDreamError for
    a missing path."""
    found = []
    for given in map(Path, inputs):
        if given.is_dir():
            found.extend(image_files(given))
        elif given.is_file():
            found.append(given)
        else:
            raise DeepDreamError(f"{given}: no such file or folder")
    return found


def batch_outputs(inputs: Sequence[Path], out_dir: Path) -> list[Path]:
    """``out_dir/<stem>.png`` for each input; DeepDreamError when two inputs share a stem (their
    dreams would have one name)."""
    seen: dict[str, Path] = {}
    for path in inputs:
        other = seen.setdefault(path.stem, path)
        if other != path:
            raise DeepDreamError(
                f"{other} and {path} would both be dreamed into {out_dir / (path.stem + '.png')}; "
                "rename one, or dream them into two folders"
            )
    return [out_dir / f"{p.stem}.png" for p in inputs]


# Record keys that are no dream setting, by their CLI option.
BATCH_OPTIONS = {"seed": "--seed", "precision": "--precision"}


def open_batch(out_dir: Path, settings: dict, inputs: Sequence[Path], outputs: Sequence[Path]):
    """Before any dream: remove the temporary files a killed run left, refuse a folder whose
    record holds other ``settings`` (JSON-able) or an input changed under its finished dream,
    then record ``settings`` and the inputs' SHA-1 (atomically). ``out_dir`` must exist."""
    stems = "|".join(map(re.escape, sorted({p.stem for p in outputs}))) or "(?!)"
    remove_stale_temporaries(out_dir, stems, ".png")
    remove_stale_temporaries(out_dir, Path(RECORD_FILE).stem, Path(RECORD_FILE).suffix)
    record = _read_record(out_dir)
    contents = {o.name: sha1_of(i) for i, o in zip(inputs, outputs, strict=True)}
    if record:
        check_same_run(out_dir, "dreams", record["settings"], settings, BATCH_OPTIONS)
        for name, sha1 in contents.items():
            before = record["inputs"].get(name)
            if before not in (None, sha1) and (out_dir / name).is_file():
                raise DeepDreamError(
                    f"{out_dir / name} was dreamed from another image of that name (its "
                    f"contents changed); delete {out_dir / name} to dream it again"
                )
    merged = {**record.get("inputs", {}), **contents}
    with atomic_output(out_dir / RECORD_FILE) as tmp:
        tmp.write_text(json.dumps({"settings": settings, "inputs": merged}, indent=1))


def pending(outputs: Sequence[Path]) -> list[int]:
    """Indices of the ``outputs`` not finished yet (missing, or not an image that decodes)."""
    return [i for i, path in enumerate(outputs) if not is_complete_image(path)]


def _read_record(out_dir: Path) -> dict:
    path = out_dir / RECORD_FILE
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        record = None
    if not isinstance(record, dict) or not {"settings", "inputs"} <= record.keys():
        raise DeepDreamError(
            f"{path}: unreadable record of a batch of dreams; remove it or use a new folder"
        )
    return record
