"""The GoogLeNet (Inception v1) deploy network of Caffe's model zoo, generated in code.

Structure identical to BVLC's ``models/bvlc_googlenet/deploy.prototxt`` (layer names, types,
blobs, kernel/stride/pad, LRN settings), minus training-only fields. The Places205 and
Places365 GoogLeNets differ only in the classifier's number of outputs.
"""

from __future__ import annotations

from google.protobuf import text_format

from conversion import caffe_schema_pb2 as pb
from conversion.errors import DeepDreamError

# (1x1, 3x3_reduce, 3x3, 5x5_reduce, 5x5, pool_proj) output channels per inception module.
INCEPTION_CHANNELS = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


class _Builder:
    def __init__(self, name: str):
        self.net = pb.NetParameter(name=name)

    def layer(self, name: str, type_: str, bottoms: list[str], top: str) -> pb.LayerParameter:
        layer = self.net.layer.add(name=name, type=type_)
        layer.bottom.extend(bottoms)
        layer.top.append(top)
        return layer

    def conv_relu(self, name, relu_name, bottom, num_output, kernel, stride=1, pad=0) -> str:
        conv = self.layer(name, "Convolution", [bottom], name)
        p = conv.convolution_param
        p.num_output = num_output
        p.kernel_size.append(kernel)
        if stride != 1:
            p.stride.append(stride)
        if pad:
            p.pad.append(pad)
        self.layer(relu_name, "ReLU", [name], name)
        return name

    def pool(self, name, bottom, method, kernel, stride, pad=0) -> str:
        p = self.layer(name, "Pooling", [bottom], name).pooling_param
        p.pool = pb.PoolingParameter.PoolMethod.Value(method)
        p.kernel_size = kernel
        p.stride = stride
        if pad:
            p.pad = pad
        return name

    def lrn(self, name, bottom) -> str:
        p = self.layer(name, "LRN", [bottom], name).lrn_param
        p.local_size, p.alpha, p.beta = 5, 0.0001, 0.75
        return name

    def inception(self, module: str, bottom: str) -> str:
        c1, c3r, c3, c5r, c5, cp = INCEPTION_CHANNELS[module]
        pre = f"inception_{module}/"
        b1 = self.conv_relu(pre + "1x1", pre + "relu_1x1", bottom, c1, 1)
        r3 = self.conv_relu(pre + "3x3_reduce", pre + "relu_3x3_reduce", bottom, c3r, 1)
        b3 = self.conv_relu(pre + "3x3", pre + "relu_3x3", r3, c3, 3, pad=1)
        r5 = self.conv_relu(pre + "5x5_reduce", pre + "relu_5x5_reduce", bottom, c5r, 1)
        b5 = self.conv_relu(pre + "5x5", pre + "relu_5x5", r5, c5, 5, pad=2)
        pool = self.pool(pre + "pool", bottom, "MAX", 3, 1, pad=1)
        bp = self.conv_relu(pre + "pool_proj", pre + "relu_pool_proj", pool, cp, 1)
        self.layer(pre + "output", "Concat", [b1, b3, b5, bp], pre + "output")
        return pre + "output"


def googlenet_deploy(num_classes: int = 1000, name: str = "GoogleNet") -> pb.NetParameter:
    """GoogLeNet's deploy net (V2 layers, an Input layer 'data' of 10x3x224x224)."""
    b = _Builder(name)
    data = b.layer("data", "Input", [], "data")
    data.input_param.shape.add().dim.extend([10, 3, 224, 224])
    x = b.conv_relu("conv1/7x7_s2", "conv1/relu_7x7", "data", 64, 7, stride=2, pad=3)
    x = b.pool("pool1/3x3_s2", x, "MAX", 3, 2)
    x = b.lrn("pool1/norm1", x)
    x = b.conv_relu("conv2/3x3_reduce", "conv2/relu_3x3_reduce", x, 64, 1)
    x = b.conv_relu("conv2/3x3", "conv2/relu_3x3", x, 192, 3, pad=1)
    x = b.lrn("conv2/norm2", x)
    x = b.pool("pool2/3x3_s2", x, "MAX", 3, 2)
    for module in ("3a", "3b"):
        x = b.inception(module, x)
    x = b.pool("pool3/3x3_s2", x, "MAX", 3, 2)
    for module in ("4a", "4b", "4c", "4d", "4e"):
        x = b.inception(module, x)
    x = b.pool("pool4/3x3_s2", x, "MAX", 3, 2)
    for module in ("5a", "5b"):
        x = b.inception(module, x)
    x = b.pool("pool5/7x7_s1", x, "AVE", 7, 1)
    b.layer("pool5/drop_7x7_s1", "Dropout", [x], x).dropout_param.dropout_ratio = 0.4
    classifier = b.layer("loss3/classifier", "InnerProduct", [x], "loss3/classifier")
    classifier.inner_product_param.num_output = num_classes
    b.layer("prob", "Softmax", ["loss3/classifier"], "prob")
    return b.net


def googlenet_deploy_prototxt(num_classes: int = 1000, name: str = "GoogleNet") -> str:
    """The deploy net of :func:`googlenet_deploy` as prototxt text."""
    return text_format.MessageToString(googlenet_deploy(num_classes, name))


def check_not_cut_googlenet(layer_names: list[str], where: str) -> None:
    """Refuse a GoogLeNet caffemodel that ends early: its layers of the deploy net (Split
    fan-outs and the training net's auxiliary heads aside) are the first ones of
    :func:`googlenet_deploy`, in order, but stop before its classifier. A file cut exactly
    between two layers is still valid protobuf, and would convert as a shorter network."""
    full = [layer.name for layer in googlenet_deploy().layer if layer.type != "Input"]
    full = full[:-1] if full[-1] == "prob" else full  # train_val files end at the classifier
    known = set(full)
    mine = [name for name in layer_names if name in known]
    if 0 < len(mine) < len(full) and mine == full[: len(mine)]:
        raise DeepDreamError(
            f"{where}: ends after layer '{mine[-1]}' ({len(mine)} of GoogLeNet's {len(full)} "
            f"layers; next would be '{full[len(mine)]}'): the file looks cut short; download "
            "it again, or give a --prototxt that lists only the layers it holds"
        )
