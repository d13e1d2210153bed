"""The named Caffe GoogLeNet models this project knows how to fetch and convert.

All three share the GoogLeNet (Inception v1) architecture of ``bvlc_googlenet``; they differ
only in their weights and in the classifier's output count (``num_classes``). A SHA-1 is listed
only where it is known for certain: a model with ``sha1=None`` (or ``url=None``) is never
downloaded automatically, the user fetches it and passes the file instead.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from tf_impl.errors import DeepDreamError


@dataclass(frozen=True)
class ModelInfo:
    """One downloadable ``.caffemodel``.

    Attributes:
        name: registry key, e.g. ``"bvlc_googlenet"``.
        caffemodel_file: file name of the weights in the cache directory.
        url: direct download URL of ``caffemodel_file``, or ``None`` when there is none (for
            example when the weights are only published inside an archive).
        sha1: lowercase hex SHA-1 of the ``.caffemodel`` file, or ``None`` when not known.
        num_classes: output count of the final classifier layer.
        description: one or two sentences for listings and error messages.
        license: terms under which the weights are published.
    """

    name: str
    caffemodel_file: str
    url: str | None
    sha1: str | None
    num_classes: int
    description: str
    license: str


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
            url=None,
            sha1=None,
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
            sha1=None,
            num_classes=365,
            description=(
                "MIT Places GoogLeNet trained on 365 scene categories (Places365-Standard)."
            ),
            license="Creative Commons Attribution (CC BY); cite Zhou et al., TPAMI 2017",
        ),
    )
}


def get_model_info(name: str) -> ModelInfo:
    """Return the registry entry called ``name``.

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
    raise DeepDreamError(f"unknown model {name!r}; {hint}known models: {', '.join(sorted(MODELS))}")
