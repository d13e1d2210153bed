"""The memory this process can still use: the kernel's estimate, bounded by a cgroup limit."""

from __future__ import annotations

from pathlib import Path

_CGROUP_FILES = (
    # (limit, usage): cgroup v2, then v1
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
)


def available_memory() -> tuple[int | None, str]:
    """(bytes available, where the figure comes from): /proc/meminfo's MemAvailable, or the
    room left under the process's cgroup memory limit when that is smaller; (None, '') when
    neither can be read (not Linux)."""
    best, source = None, ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                best, source = int(line.split()[1]) * 1024, "MemAvailable"
    except OSError:
        pass
    for limit_file, usage_file in _CGROUP_FILES:
        try:
            limit_text = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if not limit_text.isdigit() or int(limit_text) >= 1 << 60:
            continue  # "max" or v1's "unlimited" sentinel
        room = max(int(limit_text) - usage, 0)
        if best is None or room < best:
            best, source = room, "cgroup memory limit"
        break
    return best, source
