"""Fetch ``.caffemodel`` weights into a local cache, verified by SHA-1, never half-written.

Where files come from, first match wins (see :func:`fetch_caffemodel`):

1. ``$DEEPDREAM_<NAME>_CAFFEMODEL`` (e.g. ``DEEPDREAM_BVLC_GOOGLENET_CAFFEMODEL``): the path of
   a ``.caffemodel`` the user already has. Checked against the registry's SHA-1 when known.
2. The cache, :func:`cache_dir` ``/ <caffemodel_file>``, when the file is already there.
3. A download from the registry's URL, for models whose URL and SHA-1 are both known. Setting
   ``$DEEPDREAM_DOWNLOAD_BASE_URL`` replaces the URL's base (everything up to its last ``/``),
   so a mirror or a test server can serve the same file name, e.g.
   ``DEEPDREAM_DOWNLOAD_BASE_URL=https://mirror.example.org/caffe``.

A verified file gets a sidecar ``<file>.sha1`` (JSON: digest, size in bytes, mtime in ns), so
later runs re-hash it only when its size or mtime changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import secrets
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from conversion.registry import ModelInfo, get_model_info
from tf_impl.errors import DeepDreamError

CACHE_ENV = "DEEPDREAM_CACHE"
BASE_URL_ENV = "DEEPDREAM_DOWNLOAD_BASE_URL"
CHUNK_BYTES = 1 << 20  # 1 MiB: read, hash and write granularity
_USER_AGENT = "deepdream-tf2 (python urllib)"
_SIDECAR_SUFFIX = ".sha1"


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


def model_env_var(name: str) -> str:
    """Name of the variable that points model ``name`` at a local file.

    ``"bvlc_googlenet"`` gives ``"DEEPDREAM_BVLC_GOOGLENET_CAFFEMODEL"``.
    """
    return "DEEPDREAM_" + re.sub(r"[^A-Z0-9]", "_", name.upper()) + "_CAFFEMODEL"


def cached_model_path(info: ModelInfo) -> Path:
    """Where ``info``'s ``.caffemodel`` lives in the cache (the file may not exist yet)."""
    return cache_dir() / info.caffemodel_file


def resolve_url(url: str) -> str:
    """Apply ``$DEEPDREAM_DOWNLOAD_BASE_URL``: replace everything up to ``url``'s last ``/``."""
    base = os.environ.get(BASE_URL_ENV, "")
    if not base:
        return url
    return base.rstrip("/") + "/" + url.rsplit("/", 1)[-1]


def sha1_of(path: Path) -> str:
    """Lowercase hex SHA-1 of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha1()
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


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
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise DeepDreamError(
            f"cannot write to {dest.parent} ({_reason(exc)}); "
            f"choose a writable directory, e.g. with {CACHE_ENV}"
        ) from exc
    try:
        with os.fdopen(fd, "wb") as out:
            actual = _stream_to(url, out, tmp, dest, progress=progress, timeout=timeout)
        if expected is not None and actual != expected:
            raise DeepDreamError(
                f"checksum mismatch for {url}: expected SHA-1 {expected}, got {actual}; "
                f"retry, or download it yourself and pass the file with --model PATH"
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def fetch_caffemodel(name: str, *, progress: bool = True) -> Path:
    """Return the path of model ``name``'s ``.caffemodel``, downloading it if needed.

    Order: ``$DEEPDREAM_<NAME>_CAFFEMODEL``, then the cache, then a download (see the module
    docstring). Files are checked against the registry's SHA-1 when it is known; the result is
    remembered in a ``.sha1`` sidecar so an unchanged file is hashed once.

    Args:
        name: a key of :data:`conversion.registry.MODELS`.
        progress: show a download progress bar (see :func:`download`).

    Raises:
        DeepDreamError: unknown name, a file with the wrong SHA-1, a model that must be
            downloaded by hand (no URL or no known SHA-1), or a failed download.
    """
    info = get_model_info(name)
    override = _env_override(info)
    if override is not None:
        _verify_override(override, info)
        return override

    target = cached_model_path(info)
    if target.is_file():
        _verify_cached(target, info)
        return target

    if info.url is None or info.sha1 is None:
        raise DeepDreamError(_manual_download_message(info, target))
    download(resolve_url(info.url), target, info.sha1, progress=progress)
    _write_sidecar(_sidecar_for(target), target, info.sha1)
    return target


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
            f"cannot download {url} (HTTP {exc.code} {exc.reason}); check the URL "
            f"(and ${BASE_URL_ENV} if set), or download it yourself and pass the file with "
            f"--model PATH (or put it at {dest})"
        ) from exc
    except ValueError as exc:  # malformed URL or unknown scheme
        raise DeepDreamError(
            f"cannot download {url!r} ({exc}); check the URL (and ${BASE_URL_ENV} if set)"
        ) from exc
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
    where = (
        f"pass the file with --model PATH, set {model_env_var(info.name)}=PATH, "
        f"or put it at {target}"
    )
    if info.url is None:
        return f"{info.name} has no direct download: {info.description.rstrip('.')}; then {where}"
    return (
        f"{info.name} has no known SHA-1, so it is not downloaded automatically: download "
        f"{info.url} yourself, then {where}"
    )


# --- local files and verification ----------------------------------------------------------


def _env_override(info: ModelInfo) -> Path | None:
    var = model_env_var(info.name)
    value = os.environ.get(var, "")
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise DeepDreamError(f"{var} is set to {value}, which is not a file; fix it or unset it")
    return path


def _verify_override(path: Path, info: ModelInfo) -> None:
    if info.sha1 is None:
        return
    # The user's directory may be read-only, so this record lives in the cache.
    try:
        sidecar: Path | None = cache_dir() / f"{info.caffemodel_file}.override{_SIDECAR_SUFFIX}"
    except DeepDreamError:
        sidecar = None
    actual = _checked_sha1(path, info.sha1, sidecar)
    if actual != info.sha1:
        raise DeepDreamError(
            f"{model_env_var(info.name)} points at {path}, whose SHA-1 is {actual}, but "
            f"{info.name} should have {info.sha1}; point it at the right file or unset it"
        )


def _verify_cached(path: Path, info: ModelInfo) -> None:
    if info.sha1 is None:
        return  # placed there by the user; nothing to check against
    actual = _checked_sha1(path, info.sha1, _sidecar_for(path))
    if actual != info.sha1:
        raise DeepDreamError(
            f"the cached {path} has SHA-1 {actual}, but {info.name} should have {info.sha1}; "
            f"it is corrupt or a different file: delete it and run again to re-download it"
        )


def _sidecar_for(path: Path) -> Path:
    return path.with_name(path.name + _SIDECAR_SUFFIX)


def _checked_sha1(path: Path, expected: str, sidecar: Path | None) -> str:
    """SHA-1 of ``path``, read from ``sidecar`` when it vouches for this very file."""
    if sidecar is not None and _sidecar_matches(sidecar, path, expected):
        return expected
    actual = sha1_of(path)
    if actual == expected and sidecar is not None:
        _write_sidecar(sidecar, path, actual)
    return actual


def _sidecar_matches(sidecar: Path, path: Path, expected: str) -> bool:
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        stat = path.stat()
        return (
            isinstance(record, dict)
            and record.get("sha1") == expected
            and record.get("size") == stat.st_size
            and record.get("mtime_ns") == stat.st_mtime_ns
            and record.get("path") == str(path.resolve())
        )
    except (OSError, ValueError):
        return False


def _write_sidecar(sidecar: Path, path: Path, digest: str) -> None:
    """Best effort: a missing sidecar only costs a re-hash next time."""
    with contextlib.suppress(OSError):
        stat = path.stat()
        record = {
            "sha1": digest,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "path": str(path.resolve()),
        }
        tmp = sidecar.with_name(f".{sidecar.name}.{secrets.token_hex(6)}.part")
        try:
            tmp.write_text(json.dumps(record) + "\n", encoding="utf-8")
            os.replace(tmp, sidecar)
        finally:
            tmp.unlink(missing_ok=True)
