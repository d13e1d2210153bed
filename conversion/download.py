"""Fetch a named model's ``.caffemodel`` into a local cache, SHA-1 checked, never half-written.

:func:`fetch_caffemodel` returns the cached file (:func:`cache_dir` ``/ <caffemodel_file>``)
when it is there, else downloads it from the model table's URL, for models whose URL and SHA-1
are both known; otherwise it says how to supply the file by hand.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from conversion.errors import DeepDreamError
from conversion.outputs import atomic_output
from conversion.registry import ModelInfo, get_model_info

CACHE_ENV = "DEEPDREAM_CACHE"
CHUNK_BYTES = 1 << 20  # 1 MiB: read, hash and write granularity
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


def download(
    url: str,
    dest: Path,
    sha1: str | None,
    *,
    progress: bool = True,
    timeout: float = 30,
) -> Path:
    """Download ``url`` to ``dest`` atomically and return ``dest``.

    The body streams into a hidden temporary file in ``dest``'s directory while its SHA-1 is
    computed; only a complete body whose SHA-1 equals ``sha1`` (when given) is moved onto
    ``dest`` with :func:`os.replace`. On any failure, Ctrl-C included, the temporary file is
    deleted and ``dest`` is left as it was.

    Args:
        url: ``http``, ``https`` or ``file`` URL.
        dest: final path; its directory is created if missing.
        sha1: expected lowercase hex SHA-1, or ``None`` to accept any content.
        progress: show a tqdm bar (bytes) on stderr. tqdm hides it anyway when stderr is not a
            terminal, so logs and CI output stay clean.
        timeout: seconds to wait for the connection and for each read (not the whole
            transfer).

    Raises:
        DeepDreamError: unreachable server, HTTP error, timeout, truncated body, SHA-1
            mismatch, or an unwritable destination.
    """
    dest = Path(dest)
    expected = sha1.lower() if sha1 else None
    fix = f"choose a writable directory, e.g. with {CACHE_ENV}"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DeepDreamError(f"cannot write to {dest.parent} ({_reason(exc)}); {fix}") from exc
    with atomic_output(dest, fix) as tmp, open(tmp, "wb") as out:
        actual = _stream_to(url, out, tmp, dest, progress=progress, timeout=timeout)
        if expected is not None and actual != expected:
            raise DeepDreamError(
                f"checksum mismatch for {url}: expected SHA-1 {expected}, got {actual}; "
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
    target = cache_dir() / info.caffemodel_file
    if target.is_file():
        _verify_cached(target, info)
        return target
    if info.url is None or info.sha1 is None:
        raise DeepDreamError(_manual_download_message(info, target))
    return download(info.url, target, info.sha1, progress=progress)


# --- network -----------------------------------------------------------------------------


def _stream_to(
    url: str, out: BinaryIO, tmp: Path, dest: Path, *, progress: bool, timeout: float
) -> str:
    """Copy ``url``'s body into ``out``; return its SHA-1. Raises DeepDreamError on failure."""
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

    digest = hashlib.sha1()
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
