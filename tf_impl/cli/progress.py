"""Progress for the long commands: a tqdm bar on a terminal, one plain line per step where
stderr is a file or a pipe (a log then reads ``dreaming: 3/40 step (octave 1/4)``)."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


class LineProgress:
    """tqdm's interface as these commands use it (update, set_postfix_str, reset, a context
    manager), writing one line to stderr per update."""

    def __init__(self, total: int, unit: str, desc: str):
        self.total, self.unit, self.desc = total, unit, desc
        self.done, self.postfix = 0, ""

    def update(self, n: int = 1) -> None:
        """Count ``n`` more done and print the line."""
        self.done += n
        extra = f" ({self.postfix})" if self.postfix else ""
        print(f"{self.desc}: {self.done}/{self.total} {self.unit}{extra}", file=sys.stderr)

    def set_postfix_str(self, text: str) -> None:
        """Text shown after the count on the next line."""
        self.postfix = text

    def reset(self) -> None:
        """Start counting again (the next frame's steps)."""
        self.done = 0

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc) -> None:
        return None


class _Silent(LineProgress):
    def update(self, n: int = 1) -> None:
        self.done += n


def progress(total: int, unit: str, desc: str, quiet: bool) -> tqdm | LineProgress:
    """A progress display of ``total`` ``unit``s: nothing when ``quiet``, a tqdm bar when
    stderr is a terminal, else :class:`LineProgress`."""
    if quiet:
        return _Silent(total, unit, desc)
    if sys.stderr.isatty():
        return tqdm(total=total, unit=unit, desc=desc, file=sys.stderr)
    return LineProgress(total, unit, desc)


def with_throughput(bar, unit: str):
    """An ``update(n)`` for ``bar`` that also shows the rate so far, e.g. ``12.5 channel/min``
    (counted from this call: what a run of many items reads off its log)."""
    started = time.monotonic()
    done = 0

    def update(n: int = 1) -> None:
        nonlocal done
        done += n
        minutes = max(time.monotonic() - started, 1e-9) / 60.0
        bar.set_postfix_str(f"{done / minutes:.1f} {unit}/min")
        bar.update(n)

    return update
