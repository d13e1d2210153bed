"""How much memory one dream step needs, estimated from the network's blob shapes."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

from tf_impl.net.naming import caffe_name
from tf_impl.net.network import DreamNet
from tf_impl.net.shapes import blob_shapes

# Peak bytes of one compiled step (forward values kept for the backward pass, the gradients,
# TF's scratch) per byte of float32 activations of the layers the step runs. Measured as the
# peak RSS growth of one step to inception_4c/output of GoogLeNet (TF 2.21, CPU): 0.705 GB
# at 1000x1000 (activations 0.674 GB: ratio 1.05), 2.71 GB at 2000x2000 (2.70 GB: 1.00).
STEP_BYTES_PER_ACTIVATION_BYTE = 1.05


def step_memory_needed(net: DreamNet, blobs: Sequence[str], height: int, width: int) -> int:
    """Estimated peak memory in bytes of one dream step on a (height, width) image whose
    objective reads ``blobs``: the outputs of every layer the step runs (input to the
    deepest blob) in the net's compute dtype (4 bytes a value in float32, 2 in bfloat16),
    scaled by the measured ratio :data:`STEP_BYTES_PER_ACTIVATION_BYTE`."""
    shapes = blob_shapes(net, height, width)
    layers = net.submodel(list(blobs)).layers
    values = sum(prod(max(d, 0) for d in shapes[caffe_name(layer.name)]) for layer in layers)
    return int(STEP_BYTES_PER_ACTIVATION_BYTE * net.compute_dtype.size * values)
