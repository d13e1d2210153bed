"""What a resumable output (a zoom sequence, a batch of dreams) recorded against what a rerun
asks for: the one refusal, naming each option that differs."""

from __future__ import annotations

import json

from conversion.errors import DeepDreamError
from tf_impl.dream.settings import flag

# Record keys that are no dream setting: the run's own options and its inputs' contents.
_OTHER_OPTIONS = {"s": "--scale", "seed": "--seed", "precision": "--precision"}


def option_name(key: str) -> str:
    """The CLI option of a recorded key (``iter_n`` -> ``--steps``), else the key itself."""
    try:
        return flag(key)
    except KeyError:  # not a dream setting: the run's own, or an input's contents
        return _OTHER_OPTIONS.get(key, key)


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 24 else text[:12] + "..."


def refuse_other_settings(saved: dict, current: dict, holds: str) -> None:
    """Raise DeepDreamError when the JSON-able records ``saved`` and ``current`` differ,
    naming each differing option with both values; ``holds`` says what the directory holds
    (e.g. ``"frames/ holds a zoom sequence"``)."""
    if saved == current:
        return
    changed = sorted(k for k in {*saved, *current} if saved.get(k) != current.get(k))
    differences = "; ".join(
        f"{option_name(k)} was {_short(saved.get(k))}, now {_short(current.get(k))}"
        for k in changed
    )
    raise DeepDreamError(
        f"{holds} made with other settings ({differences}); use another directory, or delete "
        "it to start over"
    )
