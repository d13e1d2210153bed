"""TF2 with the real bvlc_googlenet against the notebook's published dreams (Google, 2015).

Runs only when ``DEEPDREAM_BVLC_GOOGLENET_CAFFEMODEL`` names the real caffemodel and the
shared reference material (``../shared`` or ``$DEEPDREAM_SHARED``) is present; otherwise it
skips, saying which is missing. It dreams ``sky1024px.jpg`` (575x1024) with the notebook's
settings and compares with ``dream_inception_4c_output.jpg``, ``dream_inception_3b_5x5_reduce
.jpg`` and ``guided_inception_3b_output_flowers.jpg`` (guide ``flowers.jpg`` at
``inception_3b/output``). About 6 CPU dreams at 575x1024: minutes.

The notebook drew its jitter from an unrecorded random state, and a whole dream decorrelates
its fine detail from any change (tests/reference_data.py: even Caffe against itself), so
pixels cannot be compared. The measure is a feature statistic at the dream's own blob: the
Gram matrix ``G = F^T F / (h w)`` of the (h*w, c) activations ``F``, and
``d(a, b) = ||G_a - G_b|| / sqrt(||G_a|| ||G_b||)`` (Frobenius norms): what the objective
amplified, regardless of where. Both sides go through the notebook's 8-bit conversion and the
published file's own JPEG settings (its quantisation tables are PIL's quality 75 with 4:2:0,
what ``showarray`` wrote): JPEG alone moves d by several hundredths.

Pass: ``d_published <= 2 * d_seeds + 0.01``, with three TF2 dreams (jitter seeds 1, 2, 3):
``d_published`` the mean distance from the published image to them, ``d_seeds`` the mean
distance between them. If TF2 is the notebook's algorithm, the published image is one more
draw of the same process (another jitter, Caffe's rounding), so on average it sits as far from
the TF2 dreams as they sit from each other; 2x allows for it being a single draw, 0.01 for
what is left of encoder differences. The bar must also reject the undreamed input
(``d(input, published)`` above it), else the measure would say nothing. On the synthetic
weights (200x300, notebook settings) a fourth TF2 dream lands at 0.8x ``d_seeds`` and the input
at 8x; a dream with half the steps fails (see the self-tests below).

The ``inception_3b/5x5_reduce`` case is an expected (non-strict) failure: the notebook ran it
right after the ``inception_4c/output`` dream in the same Caffe session, and Caffe's backward
from a blob inside a module also runs the module's earlier sibling branches with their stale
diffs (reference/notebook_caffe.py), so the published image holds leaked gradient that TF2,
which computes the clean gradient, does not reproduce. On the synthetic weights the leak puts
a session dream at d = 0.13 from a fresh one, against 0.04 between jitter seeds.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reference.procedural_images import make_image
from tf_impl.dream.deepdream import deepdream
from tf_impl.dream.settings import NOTEBOOK, DreamSettings
from tf_impl.images.files import to_uint8
from tf_impl.models.convert import convert_caffemodel

WEIGHTS_ENV = "DEEPDREAM_BVLC_GOOGLENET_CAFFEMODEL"
SEEDS = (1, 2, 3)
FACTOR, EPSILON = 2.0, 0.01
LEAK = (
    "the published 3b/5x5_reduce dream carries Caffe's stale diffs from the 4c dream run before "
    "it in the same session (see the module docstring)"
)
CASES = [
    pytest.param("dream_inception_4c_output.jpg", "inception_4c/output", None, id="4c_output"),
    pytest.param(
        "dream_inception_3b_5x5_reduce.jpg",
        "inception_3b/5x5_reduce",
        None,
        id="3b_5x5_reduce",
        marks=pytest.mark.xfail(strict=False, reason=LEAK),
    ),
    pytest.param(
        "guided_inception_3b_output_flowers.jpg",
        "inception_3b/output",
        "flowers.jpg",
        id="guided_3b_output",
    ),
]


def load_image(path: Path) -> np.ndarray:
    """The notebook's ``np.float32(PIL.Image.open(path))``: (H, W, 3) float32 RGB 0-255."""
    with Image.open(path) as image:
        return np.float32(image.convert("RGB"))


def jpeg_settings(path: Path) -> dict:
    """PIL save options that reproduce a JPEG file's quantisation tables and subsampling."""
    from PIL import JpegImagePlugin

    with Image.open(path) as image:
        return {"qtables": image.quantization, "subsampling": JpegImagePlugin.get_sampling(image)}


def as_published(rgb: np.ndarray, settings: dict) -> np.ndarray:
    """The notebook's display conversion (:func:`~tf_impl.images.files.to_uint8`) through a JPEG
    written with ``settings`` (see :func:`jpeg_settings`) and back: (H, W, 3) float32."""
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(rgb)).save(buffer, "jpeg", **settings)
    buffer.seek(0)
    return load_image(buffer)


def gram(net, rgb: np.ndarray, blob: str) -> np.ndarray:
    """(c, c) float64 Gram matrix of blob ``blob`` for an (H, W, 3) RGB 0-255 image,
    normalised by the number of positions."""
    features = net.blobs(net.preprocess(rgb), [blob])[blob].astype(np.float64)
    features = features.reshape(-1, features.shape[-1])
    return features.T @ features / len(features)


def gram_distance(net, a: np.ndarray, b: np.ndarray, blob: str) -> float:
    """Symmetric, scale-free distance between the Gram matrices of two images at ``blob``."""
    ga, gb = gram(net, a, blob), gram(net, b, blob)
    scale = np.sqrt(np.linalg.norm(ga) * np.linalg.norm(gb))
    return float(np.linalg.norm(ga - gb) / scale) if scale > 0 else 0.0


@dataclass
class Verdict:
    """Distances at the dream's blob: mean from the TF2 dreams to the published image, mean
    between the TF2 dreams, and from the undreamed input to the published image."""

    to_published: float
    between_seeds: float
    input_to_published: float

    @property
    def bar(self) -> float:
        return FACTOR * self.between_seeds + EPSILON

    @property
    def passed(self) -> bool:
        return self.to_published <= self.bar

    @property
    def discriminating(self) -> bool:
        return self.input_to_published > self.bar


def judge(net, base, published, end, jpeg, guide=None, seeds=SEEDS, **dream_kwargs) -> Verdict:
    """Dream ``base`` with TF2 once per jitter seed, encode like the published image (``jpeg``:
    :func:`jpeg_settings`) and measure; dream_kwargs override the notebook's settings."""
    settings = NOTEBOOK.replace(end=end, **dream_kwargs)
    runs = [as_published(deepdream(net, base, settings, seed=s, guide=guide), jpeg) for s in seeds]
    pairs = [(a, b) for i, a in enumerate(runs) for b in runs[i + 1 :]]
    return Verdict(
        to_published=float(np.mean([gram_distance(net, r, published, end) for r in runs])),
        between_seeds=float(np.mean([gram_distance(net, a, b, end) for a, b in pairs])),
        input_to_published=gram_distance(net, base, published, end),
    )


@pytest.fixture(scope="module")
def real_net():
    path = os.environ.get(WEIGHTS_ENV)
    if not path:
        pytest.skip(f"{WEIGHTS_ENV} is not set (the real bvlc_googlenet.caffemodel)")
    if not Path(path).is_file():
        pytest.skip(f"{WEIGHTS_ENV}={path}: no such file")

    return convert_caffemodel(path)


@pytest.mark.slow
@pytest.mark.parametrize(("published_name", "end", "guide_name"), CASES)
def test_tf2_dreams_like_the_published_ones(
    published_name, end, guide_name, real_net, shared, capsys
):
    folder = shared / "data" / "google_deepdream"
    base = load_image(folder / "sky1024px.jpg")
    published = load_image(folder / published_name)
    guide = load_image(folder / guide_name) if guide_name else None
    verdict = judge(real_net, base, published, end, jpeg_settings(folder / published_name), guide)
    with capsys.disabled():
        print(
            f"\nGoogle original {published_name}: d(tf, published) {verdict.to_published:.4f}, "
            f"d(tf seeds) {verdict.between_seeds:.4f}, bar {verdict.bar:.4f}, "
            f"d(input, published) {verdict.input_to_published:.4f}"
        )
    assert verdict.discriminating, "the measure cannot tell this dream from its input"
    assert verdict.passed


def test_gram_distance_basics(net):
    """The measure itself, on the synthetic weights: zero for equal images, symmetric,
    blind to where things are (a circular shift), not blind to content."""
    rng = np.random.RandomState(0)
    a = rng.uniform(0, 255, (97, 173, 3)).astype(np.float32)
    b = rng.uniform(0, 255, (97, 173, 3)).astype(np.float32)
    blob = "inception_3b/output"
    assert gram_distance(net, a, a, blob) == 0.0
    assert gram_distance(net, a, b, blob) == pytest.approx(gram_distance(net, b, a, blob))
    smooth = np.broadcast_to(np.linspace(0, 255, 173, dtype=np.float32)[None, :, None], a.shape)
    assert gram_distance(net, a, smooth, blob) > 10 * gram_distance(net, a, b, blob)


def test_judge_on_synthetic_weights(net):
    """The whole comparison path on the synthetic net at a small size and few steps: a fourth
    TF2 dream (another seed) stands in for the published image and passes; the undreamed input
    and a dream with half the steps fail."""

    base = make_image(120, 180).astype(np.float32)
    end, settings, jpeg = "inception_3b/output", {"octave_n": 2, "iter_n": 4}, {"quality": 75}
    stand_in = as_published(
        deepdream(net, base, NOTEBOOK.replace(end=end, **settings), seed=7), jpeg
    )
    verdict = judge(net, base, stand_in, end, jpeg, **settings)
    assert verdict.passed and verdict.discriminating, verdict
    assert not judge(net, base, as_published(base, jpeg), end, jpeg, **settings).passed
    weaker = deepdream(net, base, DreamSettings(end=end, octave_n=2, iter_n=2), seed=7)
    assert not judge(net, base, as_published(weaker, jpeg), end, jpeg, **settings).passed
