"""Where a model's weights come from, for labelling what is made with them (the loader of the
synthetic model, which sets what these labels read, is :mod:`tf_impl.models.loading`'s).

Images made with the seeded synthetic GoogLeNet (the project's stand-in where the real
weights cannot be downloaded; ``--model synthetic``) must never pass for what GoogLeNet sees:
:func:`weights_label` gives the label every sheet, page and overlay carries for such a model.
"""

from __future__ import annotations

from conversion.synthetic import SYNTHETIC_NET_NAME
from tf_impl.net.network import DreamNet

SYNTHETIC_SEED = 0
SYNTHETIC_LABEL = "synthetic weights (seeded), not GoogLeNet's features"


def weights_label(net: DreamNet) -> str | None:
    """:data:`SYNTHETIC_LABEL` when ``net``'s metadata says its weights are synthetic: the
    ``synthetic`` model, a ``synthetic-model`` file, or a file converted from one."""
    meta = net.metadata
    synthetic = (
        str(meta.get("weights", "")).startswith("synthetic")
        or meta.get("synthetic") is True
        or str(meta.get("net_name", "")).startswith(SYNTHETIC_NET_NAME)
    )
    return SYNTHETIC_LABEL if synthetic else None


def model_title(net: DreamNet) -> str:
    """A short name for the model: its table name, else the file it came from."""
    return str(net.metadata.get("name") or net.metadata.get("source") or "model")
