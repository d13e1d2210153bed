"""Small Caffe architectures that exercise what GoogLeNet does not, for parity with real Caffe.

Each net is a deploy prototxt (with the fork spelling ``ceil_mode: false`` that
brocolli-caffe reads, which the project's reader must translate) plus seeded He weights
(:func:`conversion.synthetic.synthetic_weights`) written as a V2 caffemodel with Caffe's Split
layers. Covered: convolutions with non-square kernels, per-axis stride and pad, dilation,
groups and no bias; MAX and AVE pooling with ceil and floor rounding, one-axis padding (Caffe's
drop rule then acts on both axes) and global pooling; LRN of three sizes and strengths (alpha
= 1 is where Caffe's own float32 drifts most from float64); ReLU with positive and negative
slopes, in place and not; InnerProduct after a convolution (C, H, W flatten) and after global
pooling; Concat, Dropout and Softmax. Every layer is named after its top, so ``forward(end=X)``
and ``blobs[X]`` agree (except in-place ReLUs, whose blob is the convolution's).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conversion.caffe_files import read_prototxt
from conversion.splits import insert_splits
from conversion.synthetic import synthetic_weights

WEIGHTS_SEED = 7
ODD_SIZES = ((13, 17), (31, 29), (97, 173))
# Nets whose layers do not depend on the size (LRN, global pooling, stride-1 branches) skip
# 97x173, to keep the stored data small.
SMALL_SIZES = ((13, 17), (31, 29))
_INPUT = (
    'name: "{name}"\n'
    'layer {{ name: "data" type: "Input" top: "data" '
    "input_param {{ shape {{ dim: 1 dim: 3 dim: {h} dim: {w} }} }} }}\n"
)


@dataclass(frozen=True)
class FuzzNet:
    """One architecture: prototxt layers (after the Input layer), the sizes it runs at, the
    blobs compared, and the blobs whose 0.5 * sum(a^2) input gradient is compared."""

    name: str
    layers: str
    blobs: tuple[str, ...]
    ends: tuple[str, ...]
    sizes: tuple[tuple[int, int], ...] = ODD_SIZES

    def prototxt(self) -> str:
        """The deploy prototxt (input declared at the first size; Caffe reshapes it)."""
        h, w = self.sizes[0]
        return _INPUT.format(name=self.name, h=h, w=w) + self.layers


def _conv(name, bottom, num_output, extra="", top=None):
    return (
        f'layer {{ name: "{name}" type: "Convolution" bottom: "{bottom}" top: "{top or name}" '
        f"convolution_param {{ num_output: {num_output} {extra} }} }}\n"
    )


def _layer(name, type_, bottoms, extra="", top=None):
    bottom = " ".join(f'bottom: "{b}"' for b in bottoms)
    return f'layer {{ name: "{name}" type: "{type_}" {bottom} top: "{top or name}" {extra} }}\n'


NETS = [
    FuzzNet(
        "conv_shapes",
        _conv(
            "c1",
            "data",
            6,
            "kernel_h: 3 kernel_w: 5 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 2 bias_term: false",
        )
        + _layer("r1", "ReLU", ["c1"], "relu_param { negative_slope: -0.3 }")
        + _conv("c2", "r1", 4, "kernel_size: 3 dilation: 2 pad: 2 group: 2")
        + _layer("r2", "ReLU", ["c2"], "relu_param { negative_slope: 0.1 }", top="c2")
        + _conv("c3", "c2", 5, "kernel_size: 1 stride: 2"),
        blobs=("c1", "r1", "c2", "c3"),
        ends=("c3", "r1"),
    ),
    FuzzNet(
        "pooling_modes",
        _conv("c1", "data", 8, "kernel_size: 3 pad: 1")
        + _layer("p1", "Pooling", ["c1"], "pooling_param { pool: MAX kernel_size: 3 stride: 2 }")
        + _layer(
            "p2",
            "Pooling",
            ["p1"],
            "pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 ceil_mode: false }",
        )
        + _layer(
            "p3",
            "Pooling",
            ["c1"],
            "pooling_param { pool: MAX kernel_h: 3 kernel_w: 1 "
            "stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 0 }",
        )
        + _layer(
            "p4",
            "Pooling",
            ["c1"],
            "pooling_param { pool: AVE kernel_h: 2 kernel_w: 3 "
            "stride_h: 2 stride_w: 2 pad_h: 0 pad_w: 1 }",
        )
        + _layer(
            "p5",
            "Pooling",
            ["c1"],
            "pooling_param { pool: MAX kernel_size: 2 stride: 2 pad: 1 ceil_mode: false }",
        )
        + _layer("p6", "Pooling", ["c1"], "pooling_param { pool: AVE kernel_size: 3 stride: 2 }"),
        blobs=("c1", "p1", "p2", "p3", "p4", "p5", "p6"),
        ends=("p2", "p3", "p4", "p5", "p6"),
    ),
    FuzzNet(
        "global_classifier",
        _conv("c1", "data", 8, "kernel_size: 3 stride: 2")
        + _layer("r1", "ReLU", ["c1"], top="c1")
        + _layer("g", "Pooling", ["c1"], "pooling_param { pool: AVE global_pooling: true }")
        + _layer("gm", "Pooling", ["c1"], "pooling_param { pool: MAX global_pooling: true }")
        + _layer("ip", "InnerProduct", ["g"], "inner_product_param { num_output: 10 }")
        + _layer("sm", "Softmax", ["ip"]),
        blobs=("c1", "g", "gm", "ip", "sm"),
        ends=("ip", "sm", "gm"),
        sizes=SMALL_SIZES,
    ),
    FuzzNet(
        "flatten_classifier",
        _conv("c1", "data", 4, "kernel_size: 3 stride: 2")
        + _layer("ip", "InnerProduct", ["c1"], "inner_product_param { num_output: 7 }"),
        blobs=("c1", "ip"),
        ends=("ip",),
        sizes=((13, 17),),
    ),
    FuzzNet(
        "lrn_strengths",
        _conv("c1", "data", 16, "kernel_size: 3 pad: 1")
        + _layer("n1", "LRN", ["c1"], "lrn_param { local_size: 3 alpha: 1 beta: 0.75 k: 2 }")
        + _layer("n2", "LRN", ["c1"], "lrn_param { local_size: 7 alpha: 0.01 beta: 0.5 k: 1 }")
        + _layer("n3", "LRN", ["c1"], "lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 }"),
        blobs=("c1", "n1", "n2", "n3"),
        ends=("n1", "n2", "n3"),
        sizes=SMALL_SIZES,
    ),
    FuzzNet(
        "branches",
        _conv("c1", "data", 6, "kernel_size: 3 pad: 1")
        + _layer("r1", "ReLU", ["c1"], top="c1")
        + _conv("a", "c1", 4, "kernel_size: 1")
        + _conv("b", "c1", 3, "kernel_size: 3 pad: 1")
        + _layer("p", "Pooling", ["c1"], "pooling_param { pool: MAX kernel_size: 3 pad: 1 }")
        + _layer("cat", "Concat", ["a", "b", "p"])
        + _layer("d", "Dropout", ["cat"], top="cat")
        + _conv("c2", "cat", 5, "kernel_size: 3 stride: 2"),
        blobs=("c1", "a", "b", "p", "cat", "c2"),
        ends=("c2", "cat"),
        sizes=SMALL_SIZES,
    ),
]


def input_image(size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 RGB noise at ``size`` (RandomState: the same bytes on every NumPy)."""
    return np.random.RandomState(size[0] * 7919 + size[1]).randint(0, 256, (*size, 3), np.uint8)


def write_files(net: FuzzNet, directory: Path) -> tuple[Path, Path]:
    """Write ``net``'s prototxt and its seeded V2 caffemodel (with Split layers) into
    ``directory``; returns (caffemodel, prototxt)."""
    directory.mkdir(parents=True, exist_ok=True)
    prototxt = directory / f"{net.name}.prototxt"
    prototxt.write_text(net.prototxt())
    structure = read_prototxt(prototxt)  # ceil_mode read as round_mode
    fixed = net.sizes[0] if len(net.sizes) == 1 else None
    weights = synthetic_weights(structure, WEIGHTS_SEED, fixed)
    for layer in structure.layer:
        for array in weights.get(layer.name, []):
            blob = layer.blobs.add()
            blob.shape.dim.extend(array.shape)
            blob.data.extend(array.ravel().tolist())
    caffemodel = directory / f"{net.name}.caffemodel"
    caffemodel.write_bytes(insert_splits(structure).SerializeToString())
    return caffemodel, prototxt
