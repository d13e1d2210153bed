"""OpenCV's Caffe importer as an independent forward reference for the converted model.

OpenCV (``opencv-python-headless<5``; 5.x dropped ``readNetFromCaffe``) reads the same
prototxt and caffemodel with its own parser and its own layer code. It names outputs by
layer, so an in-place ReLU's value is asked for by the ReLU layer's name. It needs every
layer of the prototxt to have a valid shape, so the prototxt is cut after the last blob
compared. Layer fusion is disabled so a convolution's own output stays pre-ReLU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from google.protobuf import text_format

from conversion import caffe_schema_pb2 as pb


def cut_prototxt(net: pb.NetParameter, keep: set[str], path: Path) -> Path:
    """Write ``net`` with only its layers up to the last one named in ``keep``."""
    last = max(i for i, layer in enumerate(net.layer) if layer.name in keep)
    cut = pb.NetParameter()
    cut.CopyFrom(net)
    del cut.layer[last + 1 :]
    path.write_text(text_format.MessageToString(cut))
    return path


def opencv_blobs(
    prototxt: Path, caffemodel: Path, net_input: np.ndarray, names: list[str]
) -> dict[str, np.ndarray]:
    """OpenCV's values of ``names`` for one (H, W, 3) BGR mean-subtracted input, as NHWC
    less N ((h, w, c), or (units,) for InnerProduct/Softmax outputs)."""
    import cv2

    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    net.enableFusion(False)
    net.enableWinograd(False)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    net.setInput(np.ascontiguousarray(net_input.transpose(2, 0, 1)[None], dtype=np.float32))
    outputs = net.forward(names)
    result = {}
    for name, value in zip(names, outputs, strict=True):
        value = value[0]
        result[name] = value.transpose(1, 2, 0) if value.ndim == 3 else value.reshape(-1)
    return result
