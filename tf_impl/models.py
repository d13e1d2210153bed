"""Load a network by name (``bvlc_googlenet``...) or by path (``.caffemodel`` or ``.keras``)."""

from __future__ import annotations

from pathlib import Path

from tf_impl.errors import DeepDreamError
from tf_impl.keras_models import load_keras_app
from tf_impl.model_files import KERAS_PREFIX, check_model_arguments
from tf_impl.network import DreamNet, load_dreamnet


def load_net(model: str | Path, prototxt: str | Path | None = None) -> DreamNet:
    """Resolve ``model`` to a DreamNet.

    - a ``.keras`` file written by ``deepdream convert``: loaded as is;
    - a ``.caffemodel`` file: converted in memory (with ``prototxt`` if given);
    - a registered name: the converted model cached in the user's cache directory, or else
      the caffemodel (downloaded and SHA-1 checked on first use) converted and cached;
    - ``keras:NAME`` (e.g. ``keras:InceptionV3``): a Keras application with ImageNet weights.
    """
    from conversion.convert import CONVERTER_VERSION, convert_caffemodel
    from conversion.download import cache_dir, fetch_caffemodel
    from conversion.googlenet import googlenet_deploy
    from conversion.registry import MODELS, get_model_info

    check_model_arguments(model, prototxt)
    if str(model).startswith(KERAS_PREFIX):
        return load_keras_app(str(model)[len(KERAS_PREFIX) :])
    path = Path(model)
    if path.suffix == ".keras":
        return load_dreamnet(path)
    if path.suffix == ".caffemodel" or path.is_file():
        if not path.is_file():
            raise DeepDreamError(f"{path}: no such file")
        return convert_caffemodel(path, prototxt)
    if str(model) not in MODELS:
        raise DeepDreamError(
            f"'{model}' is neither a model file (.caffemodel or .keras) nor a known model name; "
            f"known names: {', '.join(sorted(MODELS))}"
        )
    info = get_model_info(str(model))
    converted = cache_dir() / f"{info.name}.keras"
    if converted.is_file():
        net = load_dreamnet(converted)
        if net.metadata.get("converter_version") == CONVERTER_VERSION:
            return net
    caffemodel = fetch_caffemodel(info.name)
    net = convert_caffemodel(caffemodel, googlenet_deploy(info.num_classes, info.name))
    net.metadata["name"] = info.name
    net.save(converted)
    return net
