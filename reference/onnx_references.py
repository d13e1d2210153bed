"""Two more independent forward references, both from the exported ONNX file: ONNX Runtime
(runs it as is, any height and width) and onnx2tf (converts it to a TensorFlow model at one
fixed input size).

Both take the network input as the project's other references do, an (H, W, 3) float32 BGR
mean-subtracted 0-255 image, and return blobs as NHWC less N: (h, w, c), or (units,) after an
InnerProduct. Neither has an input gradient: they are forward-only references.

onnx2tf, offline: when the input has a fixed batch and 3 channels it loads a calibration
sample, ``calibration_image_sample_data_20x128x128x3_float32.npy``, from the current directory
or else downloads it (and fails without a network). :func:`onnx2tf_model` runs it in a
scratch directory holding a seeded uniform [0, 1) sample of that shape, so nothing is fetched;
onnx2tf uses the sample only for its own accuracy self-check, not for the conversion.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

CALIBRATION_FILE = "calibration_image_sample_data_20x128x128x3_float32.npy"


def to_nchw(net_input: np.ndarray) -> np.ndarray:
    """(H, W, 3) network input -> contiguous (1, 3, H, W) float32."""
    return np.ascontiguousarray(np.asarray(net_input, np.float32).transpose(2, 0, 1)[None])


def _nhwc(value: np.ndarray) -> np.ndarray:
    """(1, C, h, w) -> (h, w, C); (1, units) -> (units,)."""
    return caffe_to_nhwc(value[0])


def caffe_to_nhwc(value: np.ndarray) -> np.ndarray:
    """A pycaffe blob without its batch axis, (C, h, w) or (units,), as (h, w, C) / (units,)."""
    return value.transpose(1, 2, 0) if value.ndim == 3 else value.reshape(-1)


def ort_session(path: str | Path, threads: int | None = None):
    """An ONNX Runtime CPU session for ``path`` (``threads`` intra-op threads, default all)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # keep its unused-initializer warnings quiet
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ort_blobs(session, net_input: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
    """ONNX Runtime's values of ``names`` (graph outputs) for one (H, W, 3) network input."""
    input_name = session.get_inputs()[0].name
    values = session.run(list(names), {input_name: to_nchw(net_input)})
    return {n: _nhwc(v) for n, v in zip(names, values, strict=True)}


def onnx2tf_model(onnx_path: str | Path, size: tuple[int, int], workdir: str | Path):
    """onnx2tf's TensorFlow (tf_keras) model of ``onnx_path`` with the input fixed to
    (1, 3, H, W); it takes (1, H, W, 3) NHWC and returns NHWC outputs in graph-output order.
    Runs offline in ``workdir`` (see the module docstring); its console output is dropped."""
    import onnx2tf

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    sample = np.random.default_rng(0).uniform(0, 1, (20, 128, 128, 3)).astype(np.float32)
    np.save(workdir / CALIBRATION_FILE, sample)
    previous = Path.cwd()
    os.chdir(workdir)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return onnx2tf.convert(
                input_onnx_file_path=str(Path(onnx_path).resolve()),
                output_folder_path=str(workdir / "saved_model"),
                overwrite_input_shape=[f"data:1,3,{size[0]},{size[1]}"],
                not_use_onnxsim=True,
                disable_model_save=True,
                non_verbose=True,
            )
    finally:
        os.chdir(previous)


def onnx2tf_blobs(model, net_input: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
    """onnx2tf's values of ``names`` for one (H, W, 3) network input; ``names`` are the
    exported graph's outputs, in order."""
    values = model(np.asarray(net_input, np.float32)[None], training=False)
    if not isinstance(values, list | tuple):
        values = [values]
    result = {}
    for name, value in zip(names, values, strict=True):
        value = np.asarray(value)[0]
        result[name] = value if value.ndim == 3 else value.reshape(-1)
    return result
