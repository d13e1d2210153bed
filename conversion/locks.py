"""A lock on an output directory, so that two processes never write the same resumable
output (a zoom sequence, an atlas)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from conversion.errors import DeepDreamError

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock (flock) on ``directory`` itself, so that two processes
    never write the same resumable output; DeepDreamError when another one holds it. Where
    flock does not exist (Windows) nothing is locked."""
    if fcntl is None:
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
