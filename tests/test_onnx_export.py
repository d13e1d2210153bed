"""``deepdream export`` and :mod:`conversion.onnx_export`: Caffe semantics in ONNX operators.

Pooling is where ONNX and Caffe part ways (output length, the dropped last window, AVE's
divisor), so single-layer pooling nets are checked against the NumPy restatement of Caffe's
loops (reference/caffe_pooling.py) at odd sizes, through ONNX Runtime: max relative
error <= 1e-6 (a handful of float32 additions; measured about 1e-7). The whole network's
parity is in tests/test_parity_onnx.py.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest

from conversion import caffe_schema_pb2 as pb
from conversion.errors import DeepDreamError
from conversion.onnx_export import caffe_end_pad, export_spec
from reference.caffe_pooling import caffe_pool, pooled_length
from tf_impl.cli import main

pytest.importorskip("onnxruntime")

from reference.onnx_references import ort_blobs, ort_session
from reference.pooling_findings import pool_spec

# (method, kernel, stride, pad): GoogLeNet's own pools, and cases where Caffe drops a last
# window that starts in the padding (pad > kernel - stride), with stride above the kernel,
# and with a pad on one axis only (the drop rule then still applies to both axes).
POOL_CASES = [
    ("MAX", (3, 3), (2, 2), (0, 0)),
    ("MAX", (3, 3), (1, 1), (1, 1)),
    ("AVE", (7, 7), (1, 1), (0, 0)),
    ("MAX", (3, 3), (2, 2), (1, 1)),
    ("AVE", (3, 3), (2, 2), (1, 1)),
    ("MAX", (2, 2), (2, 2), (1, 1)),
    ("AVE", (2, 2), (2, 2), (1, 1)),
    ("MAX", (3, 3), (3, 3), (2, 2)),
    ("AVE", (3, 3), (3, 3), (2, 2)),
    ("MAX", (2, 3), (3, 2), (1, 2)),
    ("AVE", (2, 3), (3, 2), (1, 2)),
    ("MAX", (3, 3), (2, 2), (0, 1)),
    ("AVE", (3, 3), (2, 2), (1, 0)),
]
ODD_SIZES = [(7, 9), (8, 11), (13, 10), (17, 23)]
POOL_MAX_REL = 1e-6


def test_end_pad_gives_caffes_length_at_every_size():
    """ONNX floor rounding with caffe_end_pad = Caffe's length, drop rule included."""
    for k in range(1, 6):
        for s in range(1, 6):
            for p in range(k):  # Caffe requires pad < kernel
                for drop in (True, False) if p == 0 else (True,):
                    e = caffe_end_pad(p, s, k, drop)
                    for size in range(max(1, k - 2 * p), 60):
                        onnx_len = (size + p + e - k) // s + 1
                        caffe_len = pooled_length(size, k, s, p, True, drop)
                        assert onnx_len == caffe_len, (k, s, p, drop, size)


@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: f"{c[0]}-k{c[1]}-s{c[2]}-p{c[3]}")
def test_pooling_matches_caffes_loops_at_odd_sizes(case, tmp_path):
    method, kernel, stride, pad = case
    path = tmp_path / "pool.onnx"
    onnx.save(export_spec(pool_spec(*case)), path)
    session = ort_session(path)
    rng = np.random.default_rng(0)
    for size in ODD_SIZES:
        x = rng.standard_normal((*size, 3)).astype(np.float32)
        ours = ort_blobs(session, x, ["pool"])["pool"]
        theirs = caffe_pool(x.astype(np.float64), method, kernel, stride, pad)
        assert ours.shape == theirs.shape, (size, ours.shape, theirs.shape)
        error = np.abs(ours - theirs).max() / np.abs(theirs).max()
        assert error <= POOL_MAX_REL, (size, error)


def test_floor_rounding_pooling(tmp_path):
    path = tmp_path / "pool.onnx"
    onnx.save(export_spec(pool_spec("AVE", (3, 3), (2, 2), (1, 1), ceil=False)), path)
    x = np.random.default_rng(1).standard_normal((10, 13, 3)).astype(np.float32)
    ours = ort_blobs(ort_session(path), x, ["pool"])["pool"]
    theirs = caffe_pool(x.astype(np.float64), "AVE", (3, 3), (2, 2), (1, 1), ceil_mode=False)
    assert ours.shape == (
        pooled_length(10, 3, 2, 1, False, True),
        pooled_length(13, 3, 2, 1, False, True),
        3,
    )
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6 * np.abs(theirs).max())


def test_export_is_symbolic_named_and_checked(model_files, tmp_path, capsys):
    out = tmp_path / "g.onnx"
    blobs = ["conv2/3x3_reduce", "conv2/relu_3x3_reduce", "inception_4c/output"]
    assert (
        main(["export", "--model", str(model_files["V1"]), "-o", str(out), "--outputs", *blobs])
        == 0
    )
    assert "wrote" in capsys.readouterr().out
    model = onnx.load(out)
    onnx.checker.check_model(model, full_check=True)
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
    assert [o.name for o in model.graph.output] == blobs
    # Only what the outputs need: nothing after inception_4c.
    assert not [n for n in model.graph.node if n.name.startswith(("inception_5", "loss3"))]
    values = ort_blobs(ort_session(out), np.zeros((61, 83, 3), np.float32) - 50, blobs[:2])
    pre, post = values[blobs[0]], values[blobs[1]]
    assert pre.min() < 0
    np.testing.assert_array_equal(post, np.maximum(pre, 0))


def test_export_default_output_is_the_last_layer(model_files, tmp_path):
    out = tmp_path / "g.onnx"
    argv = ["export", "--model", model_files["V2"], "--prototxt", model_files["prototxt"]]
    assert main([str(a) for a in [*argv, "-o", out]]) == 0
    model = onnx.load(out)
    assert [o.name for o in model.graph.output] == ["prob"]
    prob = ort_blobs(ort_session(out), np.zeros((224, 224, 3), np.float32), ["prob"])["prob"]
    assert prob.shape == (1000,)
    assert abs(float(prob.sum()) - 1.0) < 1e-5


def test_export_runs_without_tensorflow(model_files, tmp_path):
    """The CLI path (argument parsing, every subcommand module, the exporter) never imports
    TensorFlow or Keras for an export."""
    argv = ["export", "--model", str(model_files["V1"]), "-o", str(tmp_path / "g.onnx")]
    code = (
        "import sys; from tf_impl.cli import main; "
        f"assert main({argv!r}) == 0; "
        "sys.exit(1 if 'tensorflow' in sys.modules or 'keras' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
    assert (tmp_path / "g.onnx").is_file()


def _error(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("deepdream: error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_unknown_output_blob(model_files, tmp_path, capsys):
    out = tmp_path / "g.onnx"
    err = _error(
        ["export", "--model", str(model_files["V1"]), "-o", str(out), "--outputs", "nope"], capsys
    )
    assert "unknown blob 'nope'" in err
    assert not out.exists()


def test_keras_model_is_refused_with_a_hint(keras_model_file, tmp_path, capsys):
    err = _error(
        ["export", "--model", str(keras_model_file), "-o", str(tmp_path / "g.onnx")], capsys
    )
    assert "cannot be exported faithfully" in err and "pass the .caffemodel" in err


def test_layer_onnx_cannot_express(model_files, tmp_path, capsys):
    net = pb.NetParameter(name="n", input=["data"])
    net.layer.add(name="sig", type="Sigmoid", bottom=["data"], top=["sig"])
    prototxt = tmp_path / "sig.prototxt"
    from google.protobuf import text_format

    prototxt.write_text(text_format.MessageToString(net))
    out = tmp_path / "g.onnx"
    argv = [
        "export",
        "--model",
        str(model_files["V1"]),
        "--prototxt",
        str(prototxt),
        "-o",
        str(out),
    ]
    err = _error(argv, capsys)
    assert "layer 'sig' has type 'Sigmoid'" in err and "cannot express" in err
    assert not out.exists()


def test_output_must_be_onnx_and_is_checked_first(model_files, tmp_path, capsys):
    missing = str(tmp_path / "missing.caffemodel")
    err = _error(["export", "--model", missing, "-o", str(tmp_path / "g.pb")], capsys)
    assert "must end in .onnx" in err


def test_pooling_pad_not_smaller_than_kernel_is_refused():
    with pytest.raises(DeepDreamError, match=r"pad \(3, 3\) is not smaller than its kernel"):
        export_spec(pool_spec("MAX", (3, 3), (2, 2), (3, 3)))


def test_keras_application_name_is_refused(tmp_path, capsys):
    err = _error(["export", "--model", "keras:InceptionV3", "-o", str(tmp_path / "g.onnx")], capsys)
    assert "is a Keras application, not a Caffe model" in err
