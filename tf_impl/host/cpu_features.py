"""What the CPU is and which instructions it has (Linux's /proc/cpuinfo), without TensorFlow."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

# Flags of CPUs that compute bfloat16 in hardware: AVX512-BF16 (dot products, conversions)
# and AMX-BF16 (tile matrix multiplies). oneDNN runs TensorFlow's bfloat16 convolutions on
# them; without either, bfloat16 is emulated in float32 and slower than float32 itself.
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")


def _cpuinfo_field(name: str) -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    match = re.search(rf"^{name}\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else None


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo), or the platform's processor string."""
    return _cpuinfo_field("model name") or platform.processor() or "unknown CPU"


def cpu_flags() -> set[str]:
    """The CPU's feature flags (/proc/cpuinfo), empty where unknown."""
    return set((_cpuinfo_field("flags") or "").split())


def cpu_has_bfloat16() -> bool:
    """Whether the CPU has bfloat16 instructions (any of :data:`BFLOAT16_FLAGS`): the one
    test the CLI's note and the benchmark's bfloat16 target both use."""
    return bool(cpu_flags() & set(BFLOAT16_FLAGS))


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask), else os.cpu_count(): what TensorFlow
    sizes its thread pools by."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
