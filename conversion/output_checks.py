"""Checks of an output before any work starts: its name, its directory, that it is no input
and that its directory can be written (a probe file made and removed there). The writes
themselves are :mod:`conversion.outputs`'.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from conversion.errors import DeepDreamError
from conversion.outputs import temp_prefix

Inputs = tuple[str | Path | None, ...]


def check_output_file(path: str | Path, suffixes: tuple[str, ...], inputs: Inputs = ()) -> Path:
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
    probe_writable(target.parent, temp_prefix(target), target.suffix, what=str(path))
    return path


def check_not_an_input(path: str | Path, inputs: Inputs) -> None:
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


def check_output_dir(
    path: str | Path, inputs: Inputs = (), *, prefix: str = ".write-check.", suffix: str = ""
) -> Path:
    """Validate an output directory before any work: not one of ``inputs``, an existing
    directory that can be written to, or one that can be made in an existing writable
    directory (a probe file named ``prefix...suffix`` is created and removed). Refuses a file
    and a symbolic link that does not resolve (dangling or looping). Nothing is left behind."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise DeepDreamError(
            f"{path}: is a symbolic link to '{os.readlink(path)}', which does not resolve "
            "(missing or a loop); remove the link or choose another directory"
        )
    check_not_an_input(path, inputs)
    if path.exists() and not path.is_dir():
        raise DeepDreamError(f"{path}: exists and is not a directory; -o takes a directory")
    parent = path.absolute().parent
    if not path.is_dir() and not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise DeepDreamError(f"{path}: {parent} {what}; create that directory first")
    probe_writable(path if path.is_dir() else parent, prefix, suffix, what=str(path))
    return path
