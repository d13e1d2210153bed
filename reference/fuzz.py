"""Small Caffe architectures that exercise what GoogLeNet does not, for parity with real Caffe.

Each net is a deploy prototxt (with the fork spelling ``ceil_mode: false`` that
brocolli-caffe reads, which the project's reader must translate) plus seeded He weights
(:func:`conversion.synthetic.synthetic_weights`) written as a V2 caffemodel with Caffe's Split
layers. Covered: convolutions with non-square kernels, per-axis stride and pad, dilation,
groups and no bias; MAX and AVE pooling with ceil and floor rounding, one-axis padding (Caffe's
drop rule then acts on both axes) and global pooling; LRN of three sizes and strengths (alpha
= 1 is where Caffe's own float32 drifts most from float64); ReLU with positive and negative
slopes, in place and not; InnerProduct after a convolution (C, H, W flatten) and after global
pooling; Concat, Dropout and Softmax. ResNet-family layers: BatchNorm (with eps), Scale (per
channel and scalar, with and without bias), Bias, Eltwise SUM with coefficients, PROD (both
backward forms) and MAX over three bottoms, Power (its special cases and the general pow),
all in place where ResNets put them, BatchNorm and Scale after an InnerProduct, and residual
blocks whose branches (a ceil-rounded pooling beside a floor-rounded strided convolution)
line up at the odd sizes only by Caffe's size rules. The issue's in-place ReLU with a negative
slope, and AVE pooling whose last window starts past the input (Caffe's -0.0). Names in
``blobs`` and ``ends`` are layer names: the layer's top right after it ran
(``reference.notebook_caffe.top_blob``), so an in-place layer's name is the value it wrote.
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
    FuzzNet(
        "residual",
        # Stem: conv (no bias) -> BatchNorm -> Scale -> ReLU, all but the conv in place.
        _conv("c1", "data", 8, "kernel_size: 3 pad: 1 bias_term: false")
        + _layer("bn1", "BatchNorm", ["c1"], top="c1")
        + _layer("sc1", "Scale", ["c1"], "scale_param { bias_term: true }", top="c1")
        + _layer("r1", "ReLU", ["c1"], top="c1")
        # Block 1: MAX pool 3/2 (ceil) beside conv 3/2 (floor, no pad): the same size only at
        # odd input sizes, and only by Caffe's two rounding rules (even sizes are refused).
        + _layer("pool2", "Pooling", ["c1"], "pooling_param { pool: MAX kernel_size: 3 stride: 2 }")
        + _conv("d", "c1", 8, "kernel_size: 3 stride: 2")
        + _layer("bn_d", "BatchNorm", ["d"], top="d")
        + _layer("sc_d", "Scale", ["d"], "scale_param { num_axes: 0 bias_term: true }", top="d")
        + _layer("sum1", "Eltwise", ["pool2", "d"], "eltwise_param { coeff: 0.5 coeff: -1.5 }")
        + _layer("r_sum1", "ReLU", ["sum1"], "relu_param { negative_slope: 0.1 }", top="sum1")
        # Block 2: a projection shortcut (1x1, stride 2) beside 1x1 stride 2 -> 3x3 pad 1.
        + _conv("proj", "sum1", 12, "kernel_size: 1 stride: 2 bias_term: false")
        + _layer("bn_proj", "BatchNorm", ["proj"], top="proj")
        + _layer("sc_proj", "Scale", ["proj"], "scale_param { bias_term: true }", top="proj")
        + _conv("a", "sum1", 6, "kernel_size: 1 stride: 2")
        + _layer("bn_a", "BatchNorm", ["a"], "batch_norm_param { eps: 0.001 }", top="a")
        + _layer("sc_a", "Scale", ["a"], "scale_param { bias_term: true }", top="a")
        + _layer("r_a", "ReLU", ["a"], top="a")
        + _conv("b", "a", 12, "kernel_size: 3 pad: 1")
        + _layer("bn_b", "BatchNorm", ["b"], "batch_norm_param { use_global_stats: true }", top="b")
        + _layer("sc_b", "Scale", ["b"], top="b")
        + _layer("bias_b", "Bias", ["b"], top="b")
        + _layer("sum2", "Eltwise", ["proj", "b"])
        + _layer("r_sum2", "ReLU", ["sum2"], top="sum2"),
        blobs=(
            "c1",
            "bn1",
            "sc1",
            "r1",
            "pool2",
            "d",
            "sc_d",
            "sum1",
            "r_sum1",
            "sc_proj",
            "bn_a",
            "r_a",
            "b",
            "bn_b",
            "sc_b",
            "bias_b",
            "sum2",
            "r_sum2",
        ),
        ends=("sc1", "r1", "sum1", "bn_b", "r_sum2"),
    ),
    FuzzNet(
        "eltwise_power",
        _conv("c1", "data", 6, "kernel_size: 3 pad: 1")
        + _conv("c2", "data", 6, "kernel_size: 3 pad: 1")
        + _conv("c3", "data", 6, "kernel_size: 1")
        + _layer("prod", "Eltwise", ["c1", "c2"], "eltwise_param { operation: PROD }")
        + _layer(
            "prod3",
            "Eltwise",
            ["c1", "c2", "c3"],
            "eltwise_param { operation: PROD stable_prod_grad: false }",
        )
        + _layer("mx", "Eltwise", ["c1", "c2", "c3"], "eltwise_param { operation: MAX }")
        # In place right after mx (an in-place layer must be its blob's only reader).
        + _layer("sc", "Scale", ["mx"], "scale_param { num_axes: 0 }", top="mx")
        + _layer("bias", "Bias", ["mx"], "bias_param { num_axes: 0 }", top="mx")
        + _layer(
            "sum", "Eltwise", ["c1", "c2", "c3"], "eltwise_param { coeff: 0.5 coeff: -1 coeff: 2 }"
        )
        + _layer("sq", "Power", ["sum"], "power_param { power: 2 scale: 0.5 shift: 1 }")
        + _layer("cube", "Power", ["mx"], "power_param { power: 3 scale: -0.25 }")
        + _layer("r3", "ReLU", ["c3"])
        + _layer("root", "Power", ["r3"], "power_param { power: 0.5 shift: 1 }")
        + _layer("pw", "Power", ["r3"], "power_param { power: 1.5 scale: 0.01 shift: 1 }")
        + _layer("lin", "Power", ["mx"], "power_param { scale: -2 shift: 3 }")
        + _layer("one", "Power", ["mx"], "power_param { power: 0 }"),
        blobs=(
            "prod",
            "prod3",
            "mx",
            "sum",
            "sq",
            "cube",
            "root",
            "pw",
            "lin",
            "one",
            "sc",
            "bias",
        ),
        ends=("prod", "prod3", "mx", "sq", "cube", "root", "pw", "lin", "bias"),
        sizes=SMALL_SIZES,
    ),
    FuzzNet(
        "flat_norm",
        _conv("c1", "data", 6, "kernel_size: 3 stride: 2")
        + _layer("g", "Pooling", ["c1"], "pooling_param { pool: AVE global_pooling: true }")
        + _layer("ip", "InnerProduct", ["g"], "inner_product_param { num_output: 10 }")
        + _layer("bn", "BatchNorm", ["ip"], top="ip")
        + _layer("sc", "Scale", ["ip"], "scale_param { bias_term: true }", top="ip"),
        blobs=("ip", "bn", "sc"),
        ends=("bn", "sc"),
        sizes=SMALL_SIZES,
    ),
    FuzzNet(
        # The audit's net: an in-place ReLU with a negative slope, whose backward Caffe
        # computes from the overwritten bottom (the output).
        "inplace_leaky",
        _conv("c", "data", 6, "kernel_size: 3 pad: 1")
        + _layer("r", "ReLU", ["c"], "relu_param { negative_slope: -0.5 }", top="c"),
        blobs=("c", "r"),
        ends=("r",),
        sizes=SMALL_SIZES,
    ),
    FuzzNet(
        # AVE pooling 1/3 without pad: at 13x17 (and 31x29) the last window along the width
        # starts past the input; Caffe divides its empty sum by -1: -0.0, not NaN.
        "ave_past_input",
        _conv("c1", "data", 4, "kernel_size: 3 pad: 1")
        + _layer("p", "Pooling", ["c1"], "pooling_param { pool: AVE kernel_size: 1 stride: 3 }")
        + _conv("c2", "p", 5, "kernel_size: 3 pad: 1"),
        blobs=("c1", "p", "c2"),
        ends=("p", "c2"),
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
