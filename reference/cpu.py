"""Which CPU (and which of its vector extensions) a result was computed on.

Float32 results differ in their last bits between CPUs with AVX-512 and AVX2-only ones (BLAS
and oneDNN pick other kernels), so stored reference data and benchmark results record it, with
the settings that narrow what the libraries may use."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

# The extensions that decide which float32 kernels OpenBLAS and oneDNN run.
VECTOR_EXTENSIONS = (
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_bf16",
)
# Environment variables that restrict the kernels (OPENBLAS_CORETYPE=Haswell and
# ONEDNN_MAX_CPU_ISA=AVX2 make an AVX-512 machine compute as an AVX2 one) or the threads.
KERNEL_SETTINGS = (
    "OPENBLAS_CORETYPE",
    "ONEDNN_MAX_CPU_ISA",
    "TF_ENABLE_ONEDNN_OPTS",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
)


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


def cpu_facts() -> dict:
    """{"model", "vector_extensions": [...present...], "settings": {env var: value}}."""
    flags = cpu_flags()
    return {
        "model": cpu_model(),
        "vector_extensions": [e for e in VECTOR_EXTENSIONS if e in flags],
        "settings": {k: os.environ[k] for k in KERNEL_SETTINGS if k in os.environ},
    }
