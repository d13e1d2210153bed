"""Resumable outputs (the zoom sequence, a dreamed video): a run is identified by a JSON-able
dict of everything that makes its frames (settings, seed, the inputs' SHA-1...), recorded in
its output directory; a rerun with a different dict is refused, naming each differing option.
No TensorFlow here."""

from __future__ import annotations

import json
from pathlib import Path

from conversion.errors import DeepDreamError
from tf_impl.dream.settings import DreamSettings, flag


def run_identity(settings: DreamSettings, dream_options: dict) -> dict:
    """The dream settings that identify a run (with an objective, it names the blob)."""
    params = settings.as_params()
    if dream_options.get("objective") is not None:
        del params["end"]
    return params


def option_name(key: str, options: dict[str, str]) -> str:
    """The CLI option of an identity key (``iter_n`` -> ``--steps``, else ``options[key]``),
    else the key itself (an input's contents: 'input image')."""
    try:
        return flag(key)
    except KeyError:  # not a dream setting: the command's own, or an input's contents
        return options.get(key, key)


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 24 else text[:12] + "..."


def check_same_run(
    out_dir: Path, what: str, saved: dict, now: dict, options: dict[str, str]
) -> None:
    """Raise DeepDreamError when ``saved`` (the identity recorded in ``out_dir``) differs from
    ``now``, naming each differing option (``options``: identity key -> CLI option, beyond
    the dream settings' own) with both values. ``what``: the output, e.g. 'a zoom sequence'."""
    if saved == now:
        return
    changed = sorted(k for k in {*saved, *now} if saved.get(k) != now.get(k))
    differences = "; ".join(
        f"{option_name(k, options)} was {_short(saved.get(k))}, now {_short(now.get(k))}"
        for k in changed
    )
    raise DeepDreamError(
        f"{out_dir} holds {what} made with other settings ({differences}); "
        "use another directory, or delete it to start over"
    )
