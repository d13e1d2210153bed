"""Caffe-side timing worker for ``benchmarks.run``: a long-lived pycaffe process.

Runs only under Caffe's Python (``reference/caffe_python.sh``); the project's venv talks to it
through ``benchmarks.workers``, so Caffe and TensorFlow timings can be interleaved in one
run without ever loading both into one process::

    caffe_python.sh reference/caffe_bench.py DEPLOY.prototxt WEIGHTS.caffemodel

Requests are JSON lines on stdin; each answer is one line ``@@bench {json}`` on stdout (other
output, e.g. from Caffe itself, is ignored by the client). Requests (times in seconds, memory
in MiB, images (H, W, 3) RGB 0-255 ``.npy`` files):

- ``{"op": "info"}``: BLAS library and thread counts, environment, versions.
- ``{"op": "matmul", "n": 2048, "reps": 5}``: numpy float32 n^3 matmul (numpy here links the
  same OpenBLAS as Caffe): ``times_s``, ``gflops``.
- ``{"op": "step", "h", "w", "end", "reps"}``: the bare forward to ``end`` + backward to the
  input (the notebook's objective_L2): ``times_s``, ``cpu_s`` (per rep), ``rss_before_mb``,
  ``peak_rss_mb``.
- ``{"op": "dream", "image", "output", "offsets" (.npy, optional), "seed", "params"}``: the
  notebook's ``deepdream`` (reference/notebook_caffe.py) timed: ``wall_s``, ``cpu_s``; the
  result is saved to ``output``.
- ``{"op": "quit"}``.
"""

import ctypes
import json
import os
import re
import sys
import time

import numpy as np
from notebook_caffe import Offsets, deepdream, load_net, objective_L2


def peak_rss_reset():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def status_mb(field):
    """A /proc/self/status memory field (VmHWM: peak RSS, VmRSS: RSS now) in MiB."""
    with open("/proc/self/status") as f:
        return round(int(re.search(field + r":\s+(\d+) kB", f.read()).group(1)) / 1024, 1)


def blas_info():
    """OpenBLAS' own report (the library Caffe's GEMMs run in) and this process's threads."""
    info = {"library": "unknown"}
    try:
        blas = ctypes.CDLL("libopenblas.so.0")
        blas.openblas_get_config.restype = ctypes.c_char_p
        blas.openblas_get_corename.restype = ctypes.c_char_p
        info = {
            "library": blas.openblas_get_config().decode(),
            "core": blas.openblas_get_corename().decode(),
            "threads": blas.openblas_get_num_threads(),
        }
    except (OSError, AttributeError):
        pass
    return info


def info(net, request):
    import caffe

    env = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "GOTO_NUM_THREADS")
    return {
        "caffe": getattr(caffe, "__version__", "unknown"),
        "mode": "CPU",
        "numpy": np.__version__,
        "blas": blas_info(),
        "env": {k: os.environ.get(k) for k in env},
        "process_threads": len(os.listdir("/proc/self/task")),
    }


def matmul(net, request):
    n, reps = request.get("n", 2048), request.get("reps", 5)
    rng = np.random.RandomState(0)
    a, b = rng.standard_normal((2, n, n)).astype(np.float32)
    a.dot(b)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        a.dot(b)
        times.append(time.perf_counter() - start)
    return {"n": n, "times_s": times, "gflops": 2 * n**3 / float(np.median(times)) / 1e9}


def step(net, request):
    h, w, end = request["h"], request["w"], request["end"]
    src, dst = net.blobs["data"], net.blobs[end]
    src.reshape(1, 3, h, w)
    src.data[0] = np.random.RandomState(h * w).uniform(-100, 100, (3, h, w))
    peak_rss_reset()
    rss_before = status_mb("VmRSS")
    walls, cpus = [], []
    for _ in range(request.get("reps", 1)):
        wall, cpu = time.perf_counter(), time.process_time()
        net.forward(end=end)
        objective_L2(dst)
        net.backward(start=end)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {
        "times_s": walls,
        "cpu_s": cpus,
        "rss_before_mb": rss_before,
        "peak_rss_mb": status_mb("VmHWM"),
        "process_threads": len(os.listdir("/proc/self/task")),
    }


def dream(net, request):
    image = np.load(request["image"]).astype(np.float32)
    given = np.load(request["offsets"]) if request.get("offsets") else None
    offsets = Offsets(given, request.get("seed"))
    wall, cpu = time.perf_counter(), time.process_time()
    result = deepdream(net, image, offsets, **request.get("params", {}))
    answer = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
    if request.get("output"):
        np.save(request["output"], result.astype(np.float32))
    return answer


OPS = {"info": info, "matmul": matmul, "step": step, "dream": dream}


def main(prototxt, caffemodel):
    net = load_net(prototxt, caffemodel)
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "quit":
            break
        try:
            answer = OPS[request["op"]](net, request)
        except Exception as error:  # reported to the client, which raises it
            answer = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write("@@bench " + json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
