"""What machine a benchmark ran on, and its memory and load while it ran (Linux)."""

from __future__ import annotations

import datetime
import os
import platform
import re
from pathlib import Path

import numpy as np
import tensorflow as tf

from tf_impl.host.cpu_features import cpu_flags, cpu_has_bfloat16, cpu_model, usable_cores


def gpu_devices() -> list[dict]:
    """[{'device': '/GPU:0', 'name': 'NVIDIA H100 ...'}] for every GPU TensorFlow sees."""
    gpus = []
    for index, gpu in enumerate(tf.config.list_physical_devices("GPU")):
        details = tf.config.experimental.get_device_details(gpu)
        gpus.append({"device": f"/GPU:{index}", "name": details.get("device_name", gpu.name)})
    return gpus


def onednn_state() -> str:
    """Whether TensorFlow's oneDNN graph rewrites are on: TF_ENABLE_ONEDNN_OPTS when set, else
    TF's default, which on x86 is on only for CPUs with AVX512_VNNI, AVX512_BF16 or AMX."""
    if "TF_ENABLE_ONEDNN_OPTS" in os.environ:
        value = os.environ["TF_ENABLE_ONEDNN_OPTS"]
        state = "off" if value in ("0", "false", "False") else "on"
        return f"{state} (TF_ENABLE_ONEDNN_OPTS={value})"
    modern = cpu_flags() & {"avx512_vnni", "avx512_bf16", "amx_tile"}
    return (
        "on (default: CPU has " + ", ".join(sorted(modern)) + ")"
        if modern
        else ("off (default: CPU lacks AVX512_VNNI, AVX512_BF16 and AMX)")
    )


def tf_threads() -> dict:
    """TF's intra-/inter-op thread pool sizes: configured (0 = TF's default) and effective
    (TF's default for both is the number of usable cores)."""
    intra = tf.config.threading.get_intra_op_parallelism_threads()
    inter = tf.config.threading.get_inter_op_parallelism_threads()
    return {
        "intra_op": intra or usable_cores(),
        "inter_op": inter or usable_cores(),
        "configured": {"intra_op": intra, "inter_op": inter},
        "onednn": onednn_state(),
    }


def machine_info() -> dict:
    """Hardware and software facts recorded with every result file."""
    try:
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    except (OSError, AttributeError):
        mem_kb = 0
    return {
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "cpu_bf16": cpu_has_bfloat16(),
        "gpus": gpu_devices(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "tf_threads": tf_threads(),
    }


def machine_slug(info: dict) -> str:
    """A file-name-safe machine name: CPU model, core count and GPU model, e.g.
    ``amd-epyc-2c`` or ``intel-xeon-platinum-8480-16c-nvidia-h100-80gb-hbm3``."""
    parts = [info["cpu"], f"{info['cores']}c", *(g["name"] for g in info["gpus"][:1])]
    text = "-".join(parts).lower().replace("(r)", "").replace("(tm)", "")
    text = re.sub(r"\bcpu\b|\bprocessor\b|@.*?ghz", "", text)
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def today() -> str:
    return datetime.date.today().isoformat()


def reset_gpu_peak(device: str) -> None:
    if device.startswith("/GPU"):
        tf.config.experimental.reset_memory_stats(device.strip("/"))


def gpu_peak_mb(device: str) -> float | None:
    """Peak TensorFlow-allocated memory on ``device`` since the last reset, MiB (None on CPU)."""
    if not device.startswith("/GPU"):
        return None
    return round(tf.config.experimental.get_memory_info(device.strip("/"))["peak"] / 2**20, 1)
