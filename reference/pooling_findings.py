"""Caffe pooling through ONNX at odd sizes: what ONNX Runtime and onnx2tf get right and wrong.

Two ONNX encodings of one Caffe Pooling layer are run by both runtimes and compared with
Caffe's loops restated in NumPy (reference/caffe_pooling.py):

- ``export``: this project's (:mod:`conversion.onnx_export`): floor rounding with explicit
  end pads, AVE as a zero Pad then AveragePool(count_include_pad=0);
- ``ceil_mode``: the usual direct translation: ``ceil_mode=1``, symmetric pads and, for AVE,
  ``count_include_pad=1``.

Each result is "ok" (max relative error <= 1e-6), "wrong" (the values or the shape differ),
or "fails" (conversion or run raised). Used by the parity tests and ``make report``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from conversion import caffe_schema_pb2 as pb
from conversion.caffe_files import LayerSpec, NetSpec
from conversion.onnx_export import IR_VERSION, OPSET, export_spec
from reference.onnx_references import onnx2tf_blobs, onnx2tf_model, ort_blobs, ort_session

# (method, kernel, stride, pad), (h, w) each: GoogLeNet's own pools, a last window dropped
# by Caffe's padding rule (pad > kernel - stride), and a pad on one axis only.
CASES = [
    ("MAX", (3, 3), (2, 2), (0, 0)),
    ("MAX", (3, 3), (2, 2), (1, 1)),
    ("AVE", (3, 3), (2, 2), (1, 1)),
    ("MAX", (3, 3), (3, 3), (2, 2)),
    ("AVE", (3, 3), (3, 3), (2, 2)),
    ("AVE", (3, 3), (2, 2), (1, 0)),
]
SIZES = [(7, 9), (8, 11)]
MAX_REL = 1e-6
ENCODINGS = ("export", "ceil_mode")
RUNTIMES = ("ONNX Runtime", "onnx2tf")


@dataclass(frozen=True)
class Finding:
    """One (case, size, encoding, runtime) result: 'ok', 'wrong' or 'fails', and detail."""

    case: tuple
    size: tuple[int, int]
    encoding: str
    runtime: str
    verdict: str
    detail: str


def case_label(case: tuple) -> str:
    method, kernel, stride, pad = case
    return f"{method} k{kernel[0]}x{kernel[1]} s{stride[0]}x{stride[1]} p{pad[0]}x{pad[1]}"


def pool_spec(method: str, kernel, stride, pad, ceil: bool = True) -> NetSpec:
    """A net of one Caffe Pooling layer 'pool' on a 3-channel input blob 'data'."""
    param = pb.LayerParameter(name="pool", type="Pooling", bottom=["data"], top=["pool"])
    p = param.pooling_param
    p.pool = pb.PoolingParameter.PoolMethod.Value(method)
    p.kernel_h, p.kernel_w = kernel
    p.stride_h, p.stride_w = stride
    p.pad_h, p.pad_w = pad
    if not ceil:
        p.round_mode = pb.PoolingParameter.FLOOR
    layer = LayerSpec("pool", "Pooling", ("data",), ("pool",), param)
    return NetSpec("pool_net", "data", (layer,), "V2")


def ceil_mode_model(method: str, kernel, stride, pad) -> onnx.ModelProto:
    """The direct ONNX translation of a Caffe pooling: ceil_mode=1, symmetric pads."""
    attrs = {
        "kernel_shape": list(kernel),
        "strides": list(stride),
        "pads": [pad[0], pad[1], pad[0], pad[1]],
        "ceil_mode": 1,
    }
    op = "MaxPool" if method == "MAX" else "AveragePool"
    if op == "AveragePool":
        attrs["count_include_pad"] = 1
    graph = helper.make_graph(
        [helper.make_node(op, ["data"], ["pool"], **attrs)],
        "pool_net",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["batch", 3, "h", "w"])],
        [helper.make_tensor_value_info("pool", TensorProto.FLOAT, ["batch", 3, None, None])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model


def _verdict(ours: np.ndarray, caffe: np.ndarray) -> tuple[str, str]:
    if ours.shape != caffe.shape:
        return "wrong", f"shape {ours.shape[:2]}, Caffe {caffe.shape[:2]}"
    error = float(np.abs(ours - caffe).max() / np.abs(caffe).max())
    return ("ok" if error <= MAX_REL else "wrong"), f"max rel {error:.1e}"


def _ort_pool(path: Path, x: np.ndarray) -> np.ndarray:
    return ort_blobs(ort_session(path), x, ["pool"])["pool"]


def _onnx2tf_pool(path: Path, x: np.ndarray, workdir: Path) -> np.ndarray:
    return onnx2tf_blobs(onnx2tf_model(path, x.shape[:2], workdir), x, ["pool"])["pool"]


def _attempt(run: Callable[[], np.ndarray], caffe: np.ndarray) -> tuple[str, str]:
    try:
        ours = run()
    except Exception as exc:  # a converter's failure is the finding
        return "fails", f"{type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
    return _verdict(ours, caffe)


def measure(
    caffe_pool: Callable[..., np.ndarray], workdir: str | Path, runtimes=RUNTIMES
) -> list[Finding]:
    """Every (case, size, encoding, runtime) of CASES x SIZES; ``caffe_pool(x, method, kernel,
    stride, pad)`` is the Caffe reference on an (H, W, C) float64 array."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    findings = []
    for case in CASES:
        models = {"export": export_spec(pool_spec(*case)), "ceil_mode": ceil_mode_model(*case)}
        for size in SIZES:
            x = rng.standard_normal((*size, 3)).astype(np.float32)
            caffe = caffe_pool(x.astype(np.float64), *case)
            for encoding, model in models.items():
                path = workdir / f"{encoding}.onnx"
                onnx.save(model, path)
                for runtime in runtimes:
                    if runtime == "ONNX Runtime":
                        run = functools.partial(_ort_pool, path, x)
                    else:
                        run = functools.partial(_onnx2tf_pool, path, x, workdir / "onnx2tf")
                    verdict, detail = _attempt(run, caffe)
                    findings.append(Finding(case, size, encoding, runtime, verdict, detail))
    return findings


def summary_rows(findings: list[Finding]) -> list[list[str]]:
    """One row per case: label, then for each (encoding, runtime) the verdicts at SIZES."""
    rows = []
    for case in CASES:
        row = [case_label(case)]
        for encoding in ENCODINGS:
            for runtime in RUNTIMES:
                verdicts = [
                    f.verdict
                    for f in findings
                    if f.case == case and f.encoding == encoding and f.runtime == runtime
                ]
                row.append(" / ".join(verdicts) if verdicts else "-")
        rows.append(row)
    return rows
