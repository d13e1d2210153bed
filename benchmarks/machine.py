"""What machine a benchmark ran on, and its memory and load while it ran (Linux)."""

from __future__ import annotations

import datetime
import os
import platform
import re
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.python.util import _pywrap_util_port  # oneDNN's state as TF read it

from tf_impl.host.cpu_features import cpu_has_bfloat16, cpu_model, usable_cores


def gpu_devices() -> list[dict]:
    """[{'device': '/GPU:0', 'name': 'NVIDIA H100 ...'}] for every GPU TensorFlow sees."""
    gpus = []
    for index, gpu in enumerate(tf.config.list_physical_devices("GPU")):
        details = tf.config.experimental.get_device_details(gpu)
        gpus.append({"device": f"/GPU:{index}", "name": details.get("device_name", gpu.name)})
    return gpus


def onednn_state() -> str:
    """Whether TensorFlow runs its oneDNN kernels in this process (what TF itself read when it
    loaded, not the environment now), and why: TF_ENABLE_ONEDNN_OPTS as TF saw it (tf_impl sets
    it to 1 on x86-64 when unset), else TF's default."""
    state = "on" if _pywrap_util_port.IsMklEnabled() else "off"
    value = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    return f"{state} (TF_ENABLE_ONEDNN_OPTS={value})" if value else f"{state} (TF's default)"


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
