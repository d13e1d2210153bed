"""Talk to real Caffe from the project's venv: a long-lived ``reference/caffe_bench.py``
subprocess under Caffe's own Python (Caffe is never imported here).

One process holds the net for the whole run, so Caffe requests can be interleaved with
TensorFlow timings and Caffe's setup (net loading, first allocation at a size) stays outside
the timed calls.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from reference.caffe_job import CAFFE_PYTHON, REFERENCE_DIR

WORKER = REFERENCE_DIR / "caffe_bench.py"
_MARK = "@@bench "


class CaffeWorker:
    """A running Caffe worker for one (prototxt, caffemodel); use as a context manager.

    :meth:`request` sends one request (see reference/caffe_bench.py) and returns its answer;
    a failed request raises RuntimeError with Caffe's message.
    """

    def __init__(self, prototxt: Path, caffemodel: Path):
        self.command = ["bash", str(CAFFE_PYTHON), str(WORKER), str(prototxt), str(caffemodel)]
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
            if line.startswith(_MARK):
                answer = json.loads(line[len(_MARK) :])
                if "error" in answer:
                    raise RuntimeError(f"Caffe worker, {op}: {answer['error']}")
                return answer
        status = self.proc.wait()
        why = " (killed: out of memory?)" if status == -9 else ""
        raise RuntimeError(f"Caffe worker exited ({status}){why} during {op}")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        self.proc.wait(timeout=60)
        self.proc.stdout.close()

    def __enter__(self) -> CaffeWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
