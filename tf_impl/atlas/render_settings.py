"""The atlas renderer's settings, written once (no TensorFlow import, so the command line can
build its options from them cheaply)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from conversion.errors import DeepDreamError
from tf_impl.dream.settings import is_int, is_real


@dataclass(frozen=True)
class RenderSettings:
    """The atlas renderer's defaults (the one place they are written; the CLI overrides them).

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
        for field in fields(self):
            value = getattr(self, field.name)
            whole, low, above = _RULES[field.name]
            fits = is_int(value) if whole else is_real(value)
            if not fits or value < low or (above and value == low):
                kind = "a whole number" if whole else "a finite number"
                rule = f"{kind} {'above' if above else '>='} {low}"
                flag = "--" + field.name.replace("_", "-")
                raise DeepDreamError(f"{flag} must be {rule} (got {value})")

    def sizes(self) -> list[int]:
        """Image side at each octave, smallest (``size``) first."""
        sides = [self.size]
        for _ in range(self.octaves - 1):
            sides.append(round(sides[-1] * self.octave_scale))
        return sides

    def as_dict(self) -> dict:
        """The settings as a JSON-ready dict."""
        return asdict(self)


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
