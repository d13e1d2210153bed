"""Atomic file writes: write to a temporary file beside the target, then rename it into place.
(Checks of an output path before the work: :mod:`conversion.output_checks`; a lock on an
output directory: :mod:`conversion.locks`.)

An output that is a symbolic link is written through: the link's final target is replaced
(atomically, in the target's directory) and the link itself stays. A file that is replaced
keeps its permission bits; a new file gets the usual umask-based mode.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from conversion.errors import DeepDreamError


def temp_prefix(path: Path) -> str:
    """The name start of the temporary files written for ``path``: ``.<stem>.``."""
    return f".{path.stem}."


def remove_stale_temporaries(directory: Path, stem_pattern: str, suffix: str) -> int:
    """Delete the temporary files :func:`atomic_output` leaves when a process is killed
    mid-write, for targets in ``directory`` whose stem matches the regular expression
    ``stem_pattern`` and whose suffix is ``suffix``; returns how many were removed."""
    name = re.compile(rf"\.(?:{stem_pattern})\.[a-z0-9_]{{8}}{re.escape(suffix)}")
    removed = 0
    for entry in directory.iterdir():
        if name.fullmatch(entry.name) and entry.is_file():
            entry.unlink()
            removed += 1
    return removed


def _mode_for(target: Path) -> int:
    """The permission bits the written file gets: the replaced file's, else 0666 & ~umask."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_output(path: str | Path, fix: str = "nothing was changed") -> Iterator[Path]:
    """Yield a temporary path beside ``path``'s final target; on success rename it there.

    On any exception (including KeyboardInterrupt) the temporary file is removed and ``path``
    is left as it was, so readers never see a half-written file. An OSError while writing
    (full disk, read-only file system...) becomes one DeepDreamError line ending in ``fix``.
    """
    path = Path(path)
    target = Path(os.path.realpath(path))  # a link is written through to its target
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(
            dir=target.parent, prefix=temp_prefix(target), suffix=target.suffix
        )
        os.close(fd)
        yield Path(tmp)
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DeepDreamError(f"{path}: could not be written ({reason}); {fix}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
