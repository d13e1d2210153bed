"""The memory this process can still use: the host's (the kernel's estimate, bounded by a
cgroup limit), and where TensorFlow runs steps on a GPU, that GPU's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class DeviceMemory:
    """A GPU that TensorFlow sees: its name ('GPU:0') and the bytes TensorFlow can still
    allocate on it (its allocator's limit less what it holds now)."""

    name: str
    free: int


def gpu_memory() -> list[DeviceMemory]:
    """TensorFlow's visible GPUs in placement order (steps run on the first) with their free
    memory; [] when it sees none. Imports TensorFlow."""
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return []
    from tensorflow.python.client import device_lib  # the one API that gives the limit

    gpus = []
    for device in device_lib.list_local_devices():
        if device.device_type == "GPU":
            name = device.name.split("device:")[-1]
            held = tf.config.experimental.get_memory_info(name)["current"]
            gpus.append(DeviceMemory(name, max(int(device.memory_limit) - held, 0)))
    return gpus


def step_memory_available(
    gpus: Sequence[DeviceMemory] | None = None,
    host: Callable[[], tuple[int | None, str]] = available_memory,
) -> tuple[int | None, str]:
    """(bytes a dream step can use, where the figure comes from): the first GPU's free memory
    when TensorFlow sees a GPU (it places the step there), else the host's ``host()``
    (:func:`available_memory`). ``gpus`` defaults to :func:`gpu_memory`."""
    gpus = gpu_memory() if gpus is None else gpus
    if gpus:
        return gpus[0].free, f"{gpus[0].name} memory"
    return host()
