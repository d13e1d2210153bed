"""Forward parity of the converted GoogLeNet against OpenCV's independent Caffe importer.

Every blob of the network (each convolution pre-ReLU, each ReLU post-ReLU, every pooling,
LRN and Concat stage, and at 224x224 the classifier and softmax) is compared at the
notebook's octave sizes and more, from V1 and V2 files, on pixel-scale (0-255) inputs.
Tolerance: max|tf - ref| / max|ref| <= 1e-5 per blob (float32 rounding; measured worst
about 3e-6). OpenCV's Winograd 3x3 convolution is disabled: it alone is off by ~5e-6.
"""

from __future__ import annotations

import numpy as np
import pytest

from conversion.googlenet import googlenet_deploy
from reference.opencv_forward import cut_prototxt, opencv_blobs
from tf_impl.net.shapes import blob_shapes

pytest.importorskip("cv2")

SIZES = [(224, 224), (575, 1024), (411, 731), (294, 522), (210, 373), (97, 173)]
TOLERANCE = 1e-5


def _pixel_input(height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(height * 10007 + width)
    rgb = rng.uniform(0, 255, (height, width, 3)).astype(np.float32)
    return rgb[..., ::-1] - np.array([104.0, 116.0, 122.0], np.float32)


@pytest.mark.parametrize("size", SIZES, ids=[f"{h}x{w}" for h, w in SIZES])
@pytest.mark.parametrize("source", ["V1", "V2"])
def test_every_blob_matches_opencv(source, size, nets, model_files, tmp_path, capsys):
    net = nets[source]
    deploy = googlenet_deploy()
    deploy_names = {layer.name for layer in deploy.layer}
    shapes = blob_shapes(net, *size)
    names = [
        n
        for n in net.blob_names()[1:]
        if n in deploy_names
        and min(shapes[n]) > 0
        # InnerProduct has a fixed input size: the classifier only exists at 224x224.
        and (size == (224, 224) or not n.startswith(("loss3/", "prob")))
    ]
    assert "inception_4c/output" in names and "inception_3b/5x5_reduce" in names
    net_input = _pixel_input(*size)
    ours = net.blobs(net_input, names)
    prototxt = cut_prototxt(deploy, set(names), tmp_path / "cut.prototxt")
    reference = opencv_blobs(prototxt, model_files[source], net_input, names)

    errors = {}
    for name in names:
        assert ours[name].shape == reference[name].shape, name
        assert ours[name].shape == shapes[name], name  # the shape calculator agrees too
        scale = float(np.abs(reference[name]).max())
        assert scale > 0, f"{name} is all zeros: the synthetic weights are degenerate"
        errors[name] = float(np.abs(ours[name] - reference[name]).max()) / scale
    worst = max(errors, key=errors.get)
    with capsys.disabled():
        print(
            f"\nparity vs OpenCV {source} {size[0]}x{size[1]}: {len(names)} blobs, "
            f"worst max-rel {errors[worst]:.2e} at {worst}"
        )
    bad = {n: e for n, e in errors.items() if e > TOLERANCE}
    assert not bad, f"blobs over {TOLERANCE}: {bad}"


def test_pre_and_post_relu_blobs_differ(net):
    """The conv name is the pre-ReLU value (negative entries), the ReLU name post-ReLU."""
    values = net.blobs(
        _pixel_input(97, 173), ["inception_3b/5x5_reduce", "inception_3b/relu_5x5_reduce"]
    )
    pre, post = values["inception_3b/5x5_reduce"], values["inception_3b/relu_5x5_reduce"]
    assert pre.min() < 0
    np.testing.assert_array_equal(post, np.maximum(pre, 0))
