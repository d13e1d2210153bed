"""Where a model's weights come from, for labelling what is made with them.

Images made with the seeded synthetic GoogLeNet (the project's stand-in where the real
weights cannot be downloaded) must never pass for what GoogLeNet sees: :func:`weights_label`
gives the label every sheet, page and overlay carries for such a model.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tf_impl.errors import DeepDreamError
from tf_impl.network import DreamNet

SYNTHETIC_MODEL = "synthetic"
SYNTHETIC_LABEL = "synthetic weights (seeded), not GoogLeNet's features"


def is_synthetic_name(model: str) -> bool:
    """True for the model names ``synthetic`` and ``synthetic:SEED``."""
    return model == SYNTHETIC_MODEL or model.startswith(SYNTHETIC_MODEL + ":")


def load_synthetic_net(model: str) -> DreamNet:
    """The synthetic GoogLeNet (He-scaled Gaussian weights) for ``synthetic[:SEED]`` (seed 0 by
    default), converted in memory; its metadata says the weights are synthetic."""
    from conversion.convert import convert_caffemodel
    from conversion.synthetic import write_synthetic_caffemodel

    seed_text = model.partition(":")[2] or "0"
    if not seed_text.isdigit():
        raise DeepDreamError(f"'{model}': the synthetic model's seed must be a number")
    seed = int(seed_text)
    with tempfile.TemporaryDirectory() as directory:
        path = write_synthetic_caffemodel(Path(directory) / "synthetic.caffemodel", seed, "V2")
        net = convert_caffemodel(path)
    net.metadata.update(name=f"{SYNTHETIC_MODEL}:{seed}", weights=f"synthetic (seed {seed})")
    return net


def weights_label(net: DreamNet) -> str | None:
    """:data:`SYNTHETIC_LABEL` when ``net``'s metadata says its weights are synthetic."""
    return SYNTHETIC_LABEL if str(net.metadata.get("weights", "")).startswith("synthetic") else None


def model_title(net: DreamNet) -> str:
    """A short name for the model: its registered name, else the file it came from."""
    return str(net.metadata.get("name") or net.metadata.get("source") or "model")
