"""The atlas renderers' settings, each written once (no TensorFlow import, so the command line
can build its options from them cheaply): :class:`RenderSettings` for the TF1 notebook's
renderer (:mod:`tf_impl.atlas.render`), :class:`LucidSettings` for the Fourier-parameterised
one (:mod:`tf_impl.atlas.lucid`). :data:`RENDERERS` maps the ``--render`` names to them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from conversion.errors import DeepDreamError
from tf_impl.dream.settings import is_int, is_real


def _validate(settings, rules: dict[str, tuple[bool, float, bool]]) -> None:
    """Raise DeepDreamError naming the CLI option of the first field out of range; ``rules``:
    {field: (whole number?, lower bound, bound excluded?)}."""
    for field in fields(settings):
        if field.name not in rules:
            continue
        value = getattr(settings, field.name)
        whole, low, above = rules[field.name]
        fits = is_int(value) if whole else is_real(value)
        if not fits or value < low or (above and value == low):
            kind = "a whole number" if whole else "a finite number"
            rule = f"{kind} {'above' if above else '>='} {low}"
            raise DeepDreamError(f"{option(field.name)} must be {rule} (got {value})")


def option(name: str) -> str:
    """The command-line option of settings field ``name`` (``step_size`` -> --step-size)."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class RenderSettings:
    """The notebook renderer's defaults (the one place they are written; the CLI overrides them).

    size: side of the starting square noise image, pixels; octaves: image sizes, each
    ``octave_scale`` times the last; steps: ascent steps per octave; step_size: 0-255 pixel
    units per unit of lap-normalised gradient; lapnorm: Laplacian pyramid levels; grey,
    noise: the start is ``grey`` +- uniform ``noise`` (0-255 RGB); seed: noise and shifts;
    batch: channels dreamed together; contrast: the display's ``visstd`` factor. Raises
    DeepDreamError (naming the CLI option) for values out of range; ``lapnorm`` 0 normalises
    by mean |g| as the dream does.
    """

    size: int = 80
    octaves: int = 3
    octave_scale: float = 1.4
    steps: int = 10
    step_size: float = 1.0
    lapnorm: int = 4
    grey: float = 128.0
    noise: float = 16.0
    seed: int = 0
    batch: int = 8
    contrast: float = 0.1

    def __post_init__(self) -> None:
        _validate(self, _RULES)

    def sizes(self) -> list[int]:
        """Image side at each octave, smallest (``size``) first."""
        sides = [self.size]
        for _ in range(self.octaves - 1):
            sides.append(round(sides[-1] * self.octave_scale))
        return sides

    def side(self) -> int:
        """Side of each finished picture, pixels (the last octave's)."""
        return self.sizes()[-1]

    def input_side(self) -> int:
        """Largest side the network is fed, pixels."""
        return self.side()

    def smallest_side(self) -> int:
        """Smallest side the network is fed, pixels (the blob must not be empty there)."""
        return self.size

    def pictures(self) -> tuple[str, ...]:
        """File-name suffixes of each channel's pictures: one, unsuffixed."""
        return ("",)

    def as_dict(self) -> dict:
        """The settings as a JSON-ready dict (as atlases before ``--render`` recorded it)."""
        return asdict(self)


@dataclass(frozen=True)
class LucidSettings:
    """The Fourier renderer's defaults (the one place they are written; the CLI overrides them).

    size: side of the picture, pixels; steps: Adam steps; learning_rate: Adam's, in units of
    the Fourier coefficients (:mod:`tf_impl.atlas.fourier`); decay: the spectrum is scaled by
    1 / frequency ** decay; init_std: standard deviation of the seeded starting coefficients;
    pad: pixels of the net's mean colour around the picture before each step; jitter: the
    padded picture is cropped at a random offset of up to +-``jitter`` pixels; scale: then
    resized by a random factor in 1 +- ``scale``; rotation: and rotated by a random angle in
    +-``rotation`` degrees (all four drawn from ``seed`` per step, the same for the whole
    batch); seed: also seeds each picture's start; batch: channels optimised together;
    diversity: pictures per channel, optimised jointly with a Gram-matrix diversity term
    weighted ``diversity_weight`` (a fraction of the channel's mean |activation|); negatives:
    also render what minimises each channel. Raises DeepDreamError (naming the CLI
    option) for values out of range.
    """

    size: int = 128
    steps: int = 256
    learning_rate: float = 0.05
    decay: float = 1.0
    init_std: float = 0.01
    pad: int = 12
    jitter: int = 8
    scale: float = 0.1
    rotation: float = 10.0
    seed: int = 0
    batch: int = 8
    diversity: int = 1
    diversity_weight: float = 0.5
    negatives: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.negatives, bool):
            raise DeepDreamError(f"negatives must be True or False (got {self.negatives!r})")
        _validate(self, _LUCID_RULES)
        if self.scale >= 1:
            raise DeepDreamError(f"--scale must be below 1 (got {self.scale})")

    def side(self) -> int:
        """Side of each finished picture, pixels."""
        return self.size

    def input_side(self) -> int:
        """Largest side the network is fed, pixels: padded, jittered, scaled up."""
        return round((self.size + 2 * self.pad) * (1 + self.scale)) + 1

    def smallest_side(self) -> int:
        """Smallest side the network is fed, pixels."""
        return max(1, int((self.size + 2 * self.pad - 2 * self.jitter) * (1 - self.scale)))

    def directions(self) -> tuple[int, ...]:
        """+1 (maximise the channel), then -1 (minimise it) with ``negatives``."""
        return (1, -1) if self.negatives else (1,)

    def pictures(self) -> tuple[str, ...]:
        """File-name suffixes of each channel's pictures, in batch order: per direction
        ("" positive, "_neg" negative), per diversity variant ("" first, then "_v1"...)."""
        return tuple(
            ("" if sign > 0 else "_neg") + (f"_v{v}" if v else "")
            for sign in self.directions()
            for v in range(self.diversity)
        )

    def as_dict(self) -> dict:
        """The settings as a JSON-ready dict, naming the renderer."""
        return {"renderer": "lucid", **asdict(self)}


def check_atlas_settings(settings: RenderSettings | LucidSettings) -> None:
    """What an atlas needs beyond the settings' own ranges: a notebook renderer with at least
    one octave and step and a start of at least 8 pixels. Raises DeepDreamError."""
    if isinstance(settings, RenderSettings) and (settings.steps < 1 or settings.size < 8):
        raise DeepDreamError("--steps must be >= 1 and --size >= 8 for an atlas")


Settings = RenderSettings | LucidSettings
"""Either renderer's settings."""

RENDERERS = {"lucid": LucidSettings, "notebook": RenderSettings}
"""``--render`` name -> settings class; the first is the default (the lucid renderer: it excites
the channels more, and more robustly, than the notebook's on open_nsfw: docs/atlas-renderers.md)."""


# {field: (whole number?, lower bound, bound excluded?)}
_RULES = {
    "size": (True, 1, False),
    "octaves": (True, 1, False),
    "octave_scale": (False, 1, False),
    "steps": (True, 0, False),
    "step_size": (False, 0, True),
    "lapnorm": (True, 0, False),
    "grey": (False, 0, False),
    "noise": (False, 0, False),
    "seed": (True, 0, False),
    "batch": (True, 1, False),
    "contrast": (False, 0, True),
}
_LUCID_RULES = {
    "size": (True, 8, False),
    "steps": (True, 1, False),
    "learning_rate": (False, 0, True),
    "decay": (False, 0, False),
    "init_std": (False, 0, False),
    "pad": (True, 0, False),
    "jitter": (True, 0, False),
    "scale": (False, 0, False),
    "rotation": (False, 0, False),
    "seed": (True, 0, False),
    "batch": (True, 1, False),
    "diversity": (True, 1, False),
    "diversity_weight": (False, 0, False),
}
