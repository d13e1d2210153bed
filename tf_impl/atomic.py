"""Atomic file writes: write to a temporary file beside the target, then rename it into place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from conversion.errors import DeepDreamError


def check_output_file(
    path: str | Path, suffixes: tuple[str, ...], inputs: tuple[str | Path, ...] = ()
) -> Path:
    """Validate an output path before any work: one of ``suffixes`` (case-insensitive), an
    existing directory, and not one of ``inputs`` (an input is never overwritten)."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise DeepDreamError(f"{path}: the file name must end in {' or '.join(suffixes)}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise DeepDreamError(f"{path}: directory {parent} does not exist; create it first")
    for source in inputs:
        if path.exists() and Path(source).exists() and path.samefile(source):
            raise DeepDreamError(
                f"{path}: is the input file; choose another output path "
                "(the input is never overwritten)"
            )
    return path


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s directory; on success rename it to ``path``.

    On any exception (including KeyboardInterrupt) the temporary file is removed and ``path``
    is left as it was, so readers never see a half-written file.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file private (0600); give it the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
