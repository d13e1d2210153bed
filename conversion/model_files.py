"""What a model argument (``--model``, ``--prototxt``) names, and its checks, with no
TensorFlow: a file (:func:`model_file`) or an entry of the model table (:func:`model_entry`),
the one resolution that loading (:func:`tf_impl.models.loading.load_net`) and ONNX export
(:func:`conversion.onnx_export.resolve_caffe_files`) share. The checks run before TensorFlow
is imported, so a wrong path costs milliseconds, not seconds."""

from __future__ import annotations

from pathlib import Path

from conversion.errors import DeepDreamError
from conversion.registry import MODELS, ModelInfo

_PROTOTXT_SUFFIXES = (".prototxt", ".pbtxt")


def looks_like_prototxt(path: Path) -> bool:
    """True for a Caffe network description (text), by suffix or by its first bytes."""
    if path.suffix.lower() in _PROTOTXT_SUFFIXES:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return False
    return any(word in text for word in ("layer {", "layer{", "layers {", "input:"))


def model_file(model: str | Path) -> Path | None:
    """The file ``model`` names (.keras, .caffemodel or any existing file), None for a model
    name (``bvlc_googlenet``, ``keras:InceptionV3``: see :func:`model_entry`)."""
    path = Path(model)
    if path.suffix.lower() in (".keras", ".caffemodel", *_PROTOTXT_SUFFIXES) or path.is_file():
        return path
    return None


def model_entry(model: str | Path) -> ModelInfo:
    """The model table's entry named ``model`` (:data:`conversion.registry.MODELS`), for an
    argument that names no file; DeepDreamError listing the known names otherwise."""
    if str(model) not in MODELS:
        raise DeepDreamError(
            f"'{model}' is neither a model file (.caffemodel or .keras) nor a known model name; "
            f"known names: {', '.join(sorted(MODELS))}"
        )
    return MODELS[str(model)]


def check_model_arguments(model: str | Path, prototxt: str | Path | None = None) -> None:
    """Raise DeepDreamError for a model file that is missing or is a prototxt given as
    weights, or a ``prototxt`` that is missing or is weights. Names are checked on load."""
    path = model_file(model)
    if path is not None:
        if not path.exists():
            raise DeepDreamError(f"{path}: no such model file")
        if path.is_dir():
            raise DeepDreamError(f"{path}: is a directory, expected a model file")
        if looks_like_prototxt(path):
            raise DeepDreamError(
                f"{path}: is a network description (prototxt), not weights; give the weights "
                f"with --model FILE.caffemodel and this file with --prototxt {path}"
            )
    if prototxt is not None:
        proto = Path(prototxt)
        if not proto.is_file():
            raise DeepDreamError(f"{proto}: no such prototxt file")
        if proto.suffix.lower() in (".caffemodel", ".keras"):
            raise DeepDreamError(
                f"{proto}: --prototxt takes the network description (.prototxt), not a weights file"
            )
