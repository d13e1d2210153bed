"""The generated GoogLeNet deploy net equals BVLC's upstream deploy.prototxt in structure."""

from __future__ import annotations

from conversion import caffe_schema_pb2 as pb
from conversion.caffe_files import read_prototxt
from conversion.googlenet import googlenet_deploy


def _structure(layer: pb.LayerParameter):
    conv, pool, lrn = layer.convolution_param, layer.pooling_param, layer.lrn_param
    return (
        layer.name,
        layer.type,
        tuple(layer.bottom),
        tuple(layer.top),
        (conv.num_output, tuple(conv.kernel_size), tuple(conv.stride), tuple(conv.pad)),
        (pool.pool, pool.kernel_size, pool.stride, pool.pad),
        (lrn.local_size, round(lrn.alpha, 9), lrn.beta, lrn.k),
        layer.inner_product_param.num_output,
        round(layer.dropout_param.dropout_ratio, 6),
    )


def test_generated_deploy_matches_upstream(shared):
    upstream = read_prototxt(shared / "data/bvlc_googlenet/deploy.prototxt")
    generated = googlenet_deploy()
    assert [_structure(x) for x in generated.layer] == [_structure(x) for x in upstream.layer]


def test_places_variants_differ_only_in_classes():
    base, places = googlenet_deploy(1000), googlenet_deploy(365)
    differing = [a.name for a, b in zip(base.layer, places.layer, strict=True) if a != b]
    assert differing == ["loss3/classifier"]
    assert places.layer[-2].inner_product_param.num_output == 365
