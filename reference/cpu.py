"""Which CPU (and which of its vector extensions) a result was computed on.

Float32 results differ in their last bits between CPUs with AVX-512 and AVX2-only ones (BLAS
and oneDNN pick other kernels), so stored reference data and benchmark results record it, with
the settings that narrow what the libraries may use."""

from __future__ import annotations

import os

from tf_impl.host.cpu_features import cpu_flags, cpu_model

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


def cpu_facts() -> dict:
    """{"model", "vector_extensions": [...present...], "settings": {env var: value}}."""
    flags = cpu_flags()
    return {
        "model": cpu_model(),
        "vector_extensions": [e for e in VECTOR_EXTENSIONS if e in flags],
        "settings": {k: os.environ[k] for k in KERNEL_SETTINGS if k in os.environ},
    }
