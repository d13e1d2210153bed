"""The dream's settings: the original notebook's defaults, written once, and their one check.

The API (:func:`tf_impl.dream.deepdream.deepdream` takes a :class:`DreamSettings` whole), the
CLI (its option defaults and help text), the zoom sequence (:class:`ZoomSettings` beside), the
reference cases and the benchmarks all read :data:`NOTEBOOK`, and every settings object checks
itself once, when it is made, so they accept and refuse the same values. No TensorFlow here:
the CLI checks its options before TensorFlow loads.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field

from conversion.errors import DeepDreamError


def _option(flag: str, help_text: str):
    """Field metadata: the CLI flag of a setting and its help text."""
    return {"flag": flag, "help": help_text}


@dataclass(frozen=True)
class DreamSettings:
    """How to dream: the keyword arguments of the notebook's ``deepdream`` (``iter_n``,
    ``octave_n``, ``octave_scale``, ``end``, ``clip``) and ``make_step`` (``step_size``,
    ``jitter``), the defaults being the notebook's, plus ``lapnorm`` (the TF1 notebook's
    Laplacian-pyramid gradient normalisation, off by default). Step size is in 0-255 pixel
    units, jitter in pixels. Raises DeepDreamError (naming the CLI option) for values out of
    range."""

    iter_n: int = field(default=10, metadata=_option("--steps", "steps per octave"))
    octave_n: int = field(default=4, metadata=_option("--octaves", "number of octaves"))
    octave_scale: float = field(
        default=1.4, metadata=_option("--octave-scale", "size ratio between octaves (> 1)")
    )
    step_size: float = field(
        default=1.5, metadata=_option("--step-size", "mean pixel change per step (0-255 units)")
    )
    jitter: int = field(default=32, metadata=_option("--jitter", "largest random shift, pixels"))
    clip: bool = field(default=True, metadata=_option("--no-clip", "clip to 0-255"))
    end: str = field(default="inception_4c/output", metadata=_option("--layer", "blob to amplify"))
    lapnorm: int = field(
        default=0,
        metadata=_option(
            "--lapnorm",
            "normalise the gradient by an N-level Laplacian pyramid (the TF1 notebook's "
            "lap_normalize) instead of by its mean absolute value; 0: off, as the notebook",
        ),
    )

    def __post_init__(self) -> None:
        def refuse(name: str, rule: str, value) -> None:
            raise DeepDreamError(f"{flag(name)} must be {rule} (got {value})")

        if not is_int(self.iter_n) or self.iter_n < 0:
            refuse("iter_n", "a whole number >= 0", self.iter_n)
        if not is_int(self.octave_n) or self.octave_n < 1:
            refuse("octave_n", "a whole number >= 1", self.octave_n)
        if not is_real(self.octave_scale) or not self.octave_scale > 1:
            refuse("octave_scale", "a finite number above 1", self.octave_scale)
        if not is_real(self.step_size) or not self.step_size > 0:
            refuse("step_size", "a finite number above 0", self.step_size)
        if not is_int(self.jitter) or self.jitter < 0:
            refuse("jitter", "a whole number >= 0", self.jitter)
        if not isinstance(self.clip, bool):
            refuse("clip", "True or False", self.clip)
        if not isinstance(self.end, str) or not self.end:
            refuse("end", "a blob name", self.end)
        if not is_int(self.lapnorm) or self.lapnorm < 0:
            refuse("lapnorm", "a whole number >= 0 (0: off)", self.lapnorm)

    def replace(self, **changes) -> DreamSettings:
        """A copy with ``changes`` applied (and checked)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def pick(cls, kwargs: dict) -> DreamSettings:
        """The notebook's settings with those of ``kwargs`` (keyword arguments that may hold
        other things too) applied."""
        return NOTEBOOK.replace(**{k: v for k, v in kwargs.items() if k in _FIELDS})

    def steps(self) -> int:
        """Steps of one whole dream: ``octave_n * iter_n``."""
        return self.octave_n * self.iter_n

    def as_params(self) -> dict:
        """The settings as the notebook's keyword arguments (a plain dict)."""
        return dataclasses.asdict(self)


def flag(name: str) -> str:
    """The CLI flag of setting ``name`` (e.g. ``--steps`` for ``iter_n``)."""
    return _FIELDS[name].metadata["flag"]


def help_text(name: str) -> str:
    """The CLI help of setting ``name``, with the notebook's default."""
    return f"{_FIELDS[name].metadata['help']} (default: {getattr(NOTEBOOK, name)})"


def is_int(value) -> bool:
    """A whole number (an integral, not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value) -> bool:
    """A finite real number (a whole number included, a bool not)."""
    return is_int(value) or (isinstance(value, numbers.Real) and math.isfinite(value))


_FIELDS = {f.name: f for f in dataclasses.fields(DreamSettings)}

NOTEBOOK = DreamSettings()
"""The original notebook's settings."""

ZOOM_STEP = 0.05
"""The notebook's zoom sequence's ``s``: each frame zooms into the centre by 1 / (1 - s)."""


PRECISIONS = ("float32", "bfloat16")
"""What a dream's network can compute in (:mod:`tf_impl.dream.precision`): float32 (Caffe's, the
default) first."""


@dataclass(frozen=True)
class ZoomSettings:
    """The notebook's feedback zoom: ``frames`` frames (>= 1), each zooming into the centre
    by 1 / (1 - ``s``), ``s`` in (0, 0.5) (the notebook's 0.05 by default). Raises
    DeepDreamError (naming the CLI option) for values out of range."""

    frames: int
    s: float = ZOOM_STEP

    def __post_init__(self) -> None:
        if not is_int(self.frames) or self.frames < 1:
            raise DeepDreamError(f"--frames must be at least 1 (got {self.frames})")
        if not is_real(self.s) or not 0 < self.s < 0.5:
            raise DeepDreamError(f"--scale must be in (0, 0.5) (got {self.s})")
