"""Long-lived timing workers the benchmarks talk to over pipes: real Caffe under Caffe's own
Python (``reference/caffe_bench.py``) and the PyTorch peer (``python -m
benchmarks.torch_peer``), each in a process of its own.

A worker holds its net for the whole run, so its requests interleave with TensorFlow's timings
while its setup (loading the net, first allocation at a size) stays outside the timed calls;
and no two frameworks share a process: PyTorch's OpenMP threads spin for a while after each
parallel region, which in one process made TensorFlow's steps beside them 1.1-1.5x slower,
while telling them to sleep (``OMP_WAIT_POLICY=PASSIVE``) made PyTorch's own 210x373 step
1.2-1.4x slower (2-core AVX2 EPYC, idle).

Requests are JSON lines on stdin; each answer is one line ``@@bench {json}`` on stdout (any
other output, e.g. Caffe's log, is ignored). Both workers answer ``{"op": "step", "h", "w",
"end", "reps"}`` with ``times_s``, ``cpu_s`` (seconds per rep), ``rss_before_mb``,
``peak_rss_mb`` and ``process_threads``, on the seeded image the TensorFlow rows use.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from reference.caffe_job import CAFFE_PYTHON, REFERENCE_DIR

MARK = "@@bench "


def step_image(height: int, width: int) -> np.ndarray:
    """The seeded (H, W, 3) float32 network-input image (uniform in -100..100) every step row
    times at a size: TensorFlow's (benchmarks.suite) and the PyTorch worker's."""
    rng = np.random.default_rng(height * width)
    return rng.uniform(-100, 100, (height, width, 3)).astype(np.float32)


class BenchWorker:
    """A running worker process; use as a context manager.

    :meth:`request` sends one request and returns its answer; a failed request raises
    RuntimeError with the worker's message. ``name``: who it is, for those messages.
    """

    def __init__(self, name: str, command: list[str]):
        self.name, self.command = name, command
        self.restarts = 0
        self.proc = self._start()

    def _start(self) -> subprocess.Popen:
        return subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def restart(self) -> None:
        """A fresh worker: Caffe never shrinks its buffers, so this is how memory held for a
        large size is given back. Also done automatically after the worker died (e.g. killed
        by the kernel for lack of memory)."""
        self.close()
        self.proc = self._start()
        self.restarts += 1

    def request(self, op: str, **fields) -> dict:
        if self.proc.poll() is not None:
            self.restart()
        try:
            self.proc.stdin.write(json.dumps({"op": op, **fields}) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # reported below with the exit status
        for line in self.proc.stdout:
            if line.startswith(MARK):
                answer = json.loads(line[len(MARK) :])
                if "error" in answer:
                    raise RuntimeError(f"{self.name} worker, {op}: {answer['error']}")
                return answer
        status = self.proc.wait()
        why = " (killed: out of memory?)" if status == -9 else ""
        raise RuntimeError(f"{self.name} worker exited ({status}){why} during {op}")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        self.proc.wait(timeout=60)
        self.proc.stdout.close()

    def __enter__(self) -> BenchWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def close_all(*workers: BenchWorker | None) -> None:
    """Close every worker given (None: none started)."""
    for worker in workers:
        if worker is not None:
            worker.close()


def caffe_worker(prototxt: Path, caffemodel: Path) -> BenchWorker:
    """Real Caffe (``make caffe``) holding one net (see reference/caffe_bench.py for its
    requests: info, matmul, step, dream)."""
    script = REFERENCE_DIR / "caffe_bench.py"
    command = ["bash", str(CAFFE_PYTHON), str(script), str(prototxt), str(caffemodel)]
    return BenchWorker("Caffe", command)


def torch_worker(caffemodel: Path, prototxt: Path | None, settings: dict) -> BenchWorker:
    """The PyTorch peer (the optional ``peer`` extra) holding one net in this venv's Python;
    ``settings``: the step's constants (see :func:`benchmarks.torch_peer.serve`)."""
    command = [sys.executable, "-m", "benchmarks.torch_peer", str(caffemodel)]
    command += [str(prototxt or ""), json.dumps(settings)]
    return BenchWorker("PyTorch", command)
