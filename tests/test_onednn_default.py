"""tf_impl turns TensorFlow's oneDNN kernels on for x86-64 CPUs (tf_impl/__init__.py), which
TensorFlow reads once, when it loads: every entry point that loads TensorFlow must import
tf_impl first. The tests' conftest and `make bench` once loaded TensorFlow through another
module first and ran with oneDNN off on AVX2-only CPUs."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Modules that load TensorFlow when imported, or whose commands do.
ENTRY_POINTS = ("tests.conftest", "benchmarks.run", "reference.report", "tf_impl.cli")


@pytest.mark.skipif(
    platform.machine().lower() not in {"x86_64", "amd64"}, reason="oneDNN's default is x86-64's"
)
@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_tensorflow_loads_with_onednn_on(module):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA")
    }
    code = (
        f"import {module}\n"
        "from tensorflow.python.util import _pywrap_util_port\n"
        "print('oneDNN', _pywrap_util_port.IsMklEnabled())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "oneDNN True"
