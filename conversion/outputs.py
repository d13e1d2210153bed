"""Atomic file writes: write to a temporary file beside the target, then rename it into place.

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


def _temp_prefix(path: Path) -> str:
    return f".{path.stem}."


def check_output_file(
    path: str | Path, suffixes: tuple[str, ...], inputs: tuple[str | Path | None, ...] = ()
) -> Path:
    """Validate an output path before any work: one of ``suffixes`` (case-insensitive), not a
    directory, a directory that exists and can be written to (a probe file is created and
    removed there), and not one of ``inputs`` (an input is never overwritten)."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise DeepDreamError(f"{path}: the file name must end in {' or '.join(suffixes)}")
    check_not_an_input(path, inputs)
    if path.is_dir():
        raise DeepDreamError(f"{path}: is a directory; give a file name for the output")
    target = Path(os.path.realpath(path))
    if not target.parent.is_dir():
        raise DeepDreamError(f"{path}: directory {target.parent} does not exist; create it first")
    probe_writable(target.parent, _temp_prefix(target), target.suffix, what=str(path))
    return path


def check_not_an_input(path: str | Path, inputs: tuple[str | Path | None, ...]) -> None:
    """Raise DeepDreamError when ``path`` names (through links too) one of ``inputs``."""
    resolved = os.path.realpath(path)
    for source in inputs:
        if source is None or not Path(source).exists():
            continue
        same = os.path.realpath(source) == resolved or (
            Path(path).exists() and Path(path).samefile(source)
        )
        if same:
            raise DeepDreamError(
                f"{path}: is the input file '{source}'; choose another output path "
                "(inputs are never overwritten)"
            )


def check_output_dir(path: str | Path, prefix: str = ".write-check.", suffix: str = "") -> Path:
    """Validate an output directory before any work: an existing directory that can be written
    to, or one that can be made in an existing writable directory (a probe file named
    ``prefix...suffix`` is created and removed). Refuses a file and a symbolic link that does
    not resolve (dangling or looping). Nothing is left behind."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise DeepDreamError(
            f"{path}: is a symbolic link to '{os.readlink(path)}', which does not resolve "
            "(missing or a loop); remove the link or choose another directory"
        )
    if path.exists() and not path.is_dir():
        raise DeepDreamError(f"{path}: exists and is not a directory; -o takes a directory")
    parent = path.absolute().parent
    if not path.is_dir() and not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise DeepDreamError(f"{path}: {parent} {what}; create that directory first")
    probe_writable(path if path.is_dir() else parent, prefix, suffix, what=str(path))
    return path


def probe_writable(directory: Path, prefix: str, suffix: str, what: str) -> None:
    """Create and remove a file in ``directory``; DeepDreamError naming ``what`` if it fails."""
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=suffix)
    except OSError as exc:
        raise DeepDreamError(
            f"{what}: cannot write in {directory} ({exc.strerror}); choose another output path"
        ) from None
    os.close(fd)
    os.unlink(probe)


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


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock (flock) on ``directory`` itself, so that two processes
    never write the same resumable output; DeepDreamError when another one holds it. Where
    flock does not exist (Windows) nothing is locked."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DeepDreamError(
                f"{directory}: another deepdream process is writing there; wait for it to "
                "finish or use another directory"
            ) from None
        yield
    finally:
        os.close(fd)


def _mode_for(target: Path) -> int:
    """The permission bits the written file gets: the replaced file's, else 0666 & ~umask."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``'s final target; on success rename it there.

    On any exception (including KeyboardInterrupt) the temporary file is removed and ``path``
    is left as it was, so readers never see a half-written file. An OSError while writing
    (full disk, read-only file system...) becomes one DeepDreamError line.
    """
    path = Path(path)
    target = Path(os.path.realpath(path))  # a link is written through to its target
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(
            dir=target.parent, prefix=_temp_prefix(target), suffix=target.suffix
        )
        os.close(fd)
        yield Path(tmp)
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DeepDreamError(
            f"{path}: could not be written ({reason}); nothing was changed"
        ) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
