"""What a model argument (``--model``, ``--prototxt``) names, and its checks, with no
TensorFlow: a file (:func:`model_file`) or an entry of the model table (:func:`model_entry`),
the one resolution that loading (:func:`tf_impl.models.loading.load_net`) and ONNX export
(:func:`conversion.onnx_export.resolve_caffe_files`) share. The checks run before TensorFlow
is imported, so a wrong path costs milliseconds, not seconds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conversion.download import sha1_of
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


@dataclass(frozen=True)
class ModelSpec:
    """A checked model argument: ``model`` as given (a name such as ``bvlc_googlenet`` or a
    path), the ``file`` it names (None for a name) and the ``prototxt`` to go with it."""

    model: str
    file: Path | None = None
    prototxt: Path | None = None

    def identity(self) -> dict:
        """What identifies this network across runs, JSON-ready: a name, or the file's
        absolute path and SHA-1 (two files of one name differ here), with the prototxt's."""
        if self.file is None:
            found = {"name": self.model}
        else:
            found = {"file": str(self.file.absolute()), "sha1": sha1_of(self.file)}
        if self.prototxt is not None:
            found["prototxt_sha1"] = sha1_of(self.prototxt)
        return found


def same_network(stored: dict, current: dict) -> bool:
    """Whether two :meth:`ModelSpec.identity` records name one network: the same name, or
    files with the same contents (a moved or copied file is the same network)."""
    return {k: v for k, v in stored.items() if k != "file"} == {
        k: v for k, v in current.items() if k != "file"
    }


def describe_network(identity: dict) -> str:
    """A short human-readable form of a :meth:`ModelSpec.identity`."""
    if "sha1" in identity:
        return f"{identity['file']} (SHA-1 {identity['sha1'][:12]})"
    return str(identity.get("name"))


def model_entry(model: str | Path) -> ModelInfo:
    """The model table's entry named ``model`` (:data:`conversion.registry.MODELS`), for an
    argument that names no file; DeepDreamError listing the known names otherwise."""
    if str(model) not in MODELS:
        raise DeepDreamError(
            f"'{model}' is neither a model file (.caffemodel or .keras) nor a known model name "
            f"(known names: {', '.join(sorted(MODELS))}); give a weights file with --model FILE"
        )
    return MODELS[str(model)]


def check_model_arguments(model: str | Path, prototxt: str | Path | None = None) -> ModelSpec:
    """The checked :class:`ModelSpec`; DeepDreamError for a model file that is missing or is a
    prototxt given as weights, or a ``prototxt`` that is missing or is weights. Names are
    checked on load (:func:`model_entry`)."""
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
        if not looks_like_prototxt(proto):
            raise DeepDreamError(
                f"{proto}: is not a network description (a .prototxt: text with 'layer {{' "
                "blocks); give the deploy .prototxt with --prototxt"
            )
    return ModelSpec(str(model), path, None if prototxt is None else Path(prototxt))
