"""Caffe's Split layers, inserted where Caffe inserts them (``insert_splits.cpp``).

When a blob feeds several layers, Caffe's ``Net::Init`` adds a ``Split`` layer after the layer
that last wrote it, with one top per reader, and rewires each reader to its own top. Caffe
saves the net as it runs it, so every ``.caffemodel`` it writes from such a net holds these
layers (the real ``bvlc_googlenet.caffemodel`` does). The synthetic model writers use this to
write files shaped like Caffe's.

Names (Caffe's): the layer ``<blob>_<writer layer>_<top index>_split``, its k-th top
``<blob>_<writer layer>_<top index>_split_<k>``, readers numbered in layer order.
"""

from __future__ import annotations

from conversion import caffe_schema_pb2 as pb


def split_layer_name(writer: str, blob: str, top_index: int) -> str:
    """Caffe's name for the Split layer of ``blob``, top ``top_index`` of layer ``writer``."""
    return f"{blob}_{writer}_{top_index}_split"


def insert_splits(net: pb.NetParameter) -> pb.NetParameter:
    """A copy of ``net`` (V1 ``layers`` or V2 ``layer``) with Caffe's Split layers inserted.

    As Caffe: a blob read by more than one layer (a top with a non-zero ``loss_weight`` counts
    as one more reader) gets a Split; in-place layers (top == bottom) make the last writer the
    Split's source. Raises ValueError for a layer reading a blob no earlier layer writes.
    """
    v1 = bool(net.layers)
    layers = net.layers if v1 else net.layer
    last_writer: dict[str, tuple[int, int]] = {}
    source: dict[tuple[int, int], tuple[int, int]] = {}
    readers: dict[tuple[int, int], int] = {}
    loss_weight: dict[tuple[int, int], float] = {}
    for i, layer in enumerate(layers):
        for j, blob in enumerate(layer.bottom):
            if blob not in last_writer:
                raise ValueError(f"layer '{layer.name}' reads unknown blob '{blob}'")
            source[(i, j)] = last_writer[blob]
            readers[last_writer[blob]] = readers.get(last_writer[blob], 0) + 1
        for j, blob in enumerate(layer.top):
            last_writer[blob] = (i, j)
        for j in range(min(len(layer.loss_weight), len(layer.top))):
            top = last_writer[layer.top[j]]
            loss_weight[top] = layer.loss_weight[j]
            if layer.loss_weight[j]:
                readers[top] = readers.get(top, 0) + 1

    out = pb.NetParameter()
    out.CopyFrom(net)
    out_layers = out.layers if v1 else out.layer
    del out_layers[:]
    next_split: dict[tuple[int, int], int] = {}
    for i, layer in enumerate(layers):
        copy = out_layers.add()
        copy.CopyFrom(layer)
        for j, blob in enumerate(copy.bottom):
            top = source[(i, j)]
            if readers.get(top, 0) > 1:
                writer = layers[top[0]].name
                k = next_split.get(top, 0)
                next_split[top] = k + 1
                copy.bottom[j] = f"{split_layer_name(writer, blob, top[1])}_{k}"
        for j, blob in enumerate(copy.top):
            count = readers.get((i, j), 0)
            if count <= 1:
                continue
            split = out_layers.add(name=split_layer_name(layer.name, blob, j))
            split.type = pb.V1LayerParameter.SPLIT if v1 else "Split"
            split.bottom.append(blob)
            split.top.extend(f"{split.name}_{k}" for k in range(count))
            weight = loss_weight.get((i, j), 0.0)
            if weight:
                split.loss_weight.extend([weight] + [0.0] * (count - 1))
                del copy.loss_weight[:]
                next_split[(i, j)] = next_split.get((i, j), 0) + 1
    return out
