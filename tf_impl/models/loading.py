"""Load a network by path (``.caffemodel`` or ``.keras``) or by its name in the model table
(:data:`conversion.registry.MODELS`: ``bvlc_googlenet``, ``keras:InceptionV3``...)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import keras

from conversion import caffe_schema_pb2 as pb
from conversion.download import cache_dir, fetch_caffe_files
from conversion.errors import DeepDreamError
from conversion.model_files import ModelSpec, check_model_arguments, model_entry, model_file
from conversion.registry import ModelInfo, get_model_info
from conversion.synthetic import write_synthetic_model
from tf_impl.models import convert
from tf_impl.models.labels import SYNTHETIC_SEED
from tf_impl.net.network import DreamNet, load_dreamnet


def load_net(model: str | Path | ModelSpec, prototxt: str | Path | None = None) -> DreamNet:
    """Resolve ``model`` to a DreamNet. A :class:`~conversion.model_files.ModelSpec` (what
    :func:`~conversion.model_files.check_model_arguments` returns) is loaded as checked, its own
    prototxt going with it; a name or path is checked first.

    - a ``.keras`` file written by ``deepdream convert``: loaded as is;
    - a ``.caffemodel`` file: converted in memory (with ``prototxt`` if given);
    - a ``caffe`` name of the model table: the converted model cached in the user's cache
      directory, or else the caffemodel (downloaded and checksum checked on first use, with
      the model's own deploy prototxt where it has one) converted and cached;
    - a ``keras`` name (e.g. ``keras:InceptionV3``): a Keras application with ImageNet weights;
    - ``synthetic``: the seeded synthetic GoogLeNet, its metadata saying so (what is made with
      it is labelled as not GoogLeNet's features).
    """
    spec = model if isinstance(model, ModelSpec) else check_model_arguments(model, prototxt)
    model, prototxt = spec.model, spec.prototxt
    path = model_file(model)
    if path is not None:
        if path.suffix.lower() == ".keras":
            return load_dreamnet(path)
        return convert.convert_caffemodel(path, prototxt)
    info = model_entry(model)
    if info.kind == "keras":
        return load_keras_app(info.name)
    if info.kind == "synthetic":
        return load_synthetic_net(info)
    return _load_named_caffe(info)


def _load_named_caffe(info: ModelInfo) -> DreamNet:
    converted = cache_dir() / f"{info.name}.keras"
    if converted.is_file():
        net = load_dreamnet(converted)
        if net.metadata.get("converter_version") == convert.CONVERTER_VERSION:
            return net
    net = convert_named(info.name, *fetch_caffe_files(info.name))
    net.save(converted)
    return net


def convert_named(
    name: str, caffemodel: str | Path, prototxt: str | Path | pb.NetParameter | None
) -> DreamNet:
    """The model table's ``caffe`` entry ``name`` converted from its files (see
    :func:`conversion.download.fetch_caffe_files`), with the entry's preprocessing (mean,
    channel order, scale), name and default layer in its metadata."""
    info = get_model_info(name)
    net = convert.convert_caffemodel(caffemodel, prototxt)
    net.mean, net.channel_order, net.scale = info.mean, info.channel_order, info.scale
    net.metadata["name"] = info.name
    if info.default_layer is not None:
        net.metadata["default_layer"] = info.default_layer
    return net


def load_keras_app(name: str, weights: str | None = "imagenet") -> DreamNet:
    """A DreamNet for the model table's ``keras`` entry ``name`` (e.g. ``keras:InceptionV3``):
    ``keras.applications.<application>`` without its classifier head (any input size), with
    the entry's preprocessing. ``weights=None`` gives random weights (for tests, or offline)."""
    info = get_model_info(name)
    if info.kind != "keras":
        raise DeepDreamError(f"{name} is not a Keras application model")
    constructor = getattr(keras.applications, info.keras_application)
    try:
        model = constructor(include_top=False, weights=weights, input_shape=(None, None, 3))
    except Exception as exc:  # Keras raises plain Exceptions for failed weight downloads
        raise DeepDreamError(
            f"cannot build keras.applications.{info.keras_application} with {weights} weights "
            f"({exc}); the weights are downloaded by Keras on first use and need network access"
        ) from None
    return DreamNet(
        model,
        mean=info.mean,
        channel_order=info.channel_order,
        scale=info.scale,
        metadata={
            "source": f"keras.applications.{info.keras_application}",
            "default_layer": info.default_layer,
        },
    )


def load_synthetic_net(info: ModelInfo) -> DreamNet:
    """The model table's ``synthetic`` entry: GoogLeNet with seeded He-scaled Gaussian weights
    (seed :data:`SYNTHETIC_SEED`), converted in memory; its metadata says the weights are
    synthetic."""
    with tempfile.TemporaryDirectory() as directory:
        caffemodel, prototxt = write_synthetic_model(Path(directory), SYNTHETIC_SEED, "V2")
        net = convert.convert_caffemodel(caffemodel, prototxt)
    net.metadata.update(name=info.name, weights=f"synthetic (seed {SYNTHETIC_SEED})")
    return net
