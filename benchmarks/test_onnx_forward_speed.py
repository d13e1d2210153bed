"""pytest-benchmark: forward only to inception_4c/output, ONNX Runtime on the exported file
beside TF2's compiled forward (ONNX Runtime has no input gradient: no dream step)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from benchmarks.onnx_forward import BLOB

pytest.importorskip("onnxruntime")


def test_onnx_runtime_forward(benchmark, model_files, image, size, rounds, tmp_path):
    from conversion.onnx_export import export_onnx
    from reference.onnx_references import ort_session, to_nchw

    path = tmp_path / "f.onnx"
    export_onnx(model_files[0], path, outputs=[BLOB])
    session = ort_session(path)
    batch = to_nchw(image.numpy())
    result = benchmark.pedantic(
        lambda: session.run([BLOB], {"data": batch})[0], rounds=rounds, warmup_rounds=1
    )
    assert result.shape[:2] == (1, 512)


def test_tf_forward(benchmark, net, image, size, rounds):
    forward = tf.function(net.submodel([BLOB]))
    batch = image[None]
    result = benchmark.pedantic(lambda: forward(batch).numpy(), rounds=rounds, warmup_rounds=1)
    assert result.shape[-1] == 512 and np.isfinite(result).all()
