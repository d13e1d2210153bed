"""What a benchmark process reads about itself, TensorFlow-free (the PyTorch worker uses it
too): resident memory (MiB, from Linux's /proc; None elsewhere), the load average, and handing
freed heap back to the OS."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import re
from pathlib import Path

_STATUS = Path("/proc/self/status")


def reset_peak_rss() -> None:
    """Reset this process's peak resident set size (VmHWM) to its current RSS (Linux >= 4.0;
    a no-op elsewhere)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _status_mb(field: str) -> float | None:
    """A memory field of /proc/self/status (VmHWM, VmRSS) in MiB; None off Linux."""
    try:
        match = re.search(field + r":\s+(\d+) kB", _STATUS.read_text())
    except OSError:
        return None
    return round(int(match.group(1)) / 1024, 1) if match else None


def peak_rss_mb() -> float | None:
    """This process's peak resident set size since the last reset, in MiB (None off Linux)."""
    return _status_mb("VmHWM")


def rss_mb() -> float | None:
    """This process's resident set size now, in MiB (None off Linux)."""
    return _status_mb("VmRSS")


def release_memory() -> None:
    """Collect garbage and hand freed heap memory back to the OS (glibc's malloc_trim), so
    the next large measurement (or another process) finds it free."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def load_average() -> float:
    """The 1-minute load average (other processes competing for the cores show here)."""
    return round(os.getloadavg()[0], 2)
