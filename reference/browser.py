"""Headless Chromium (Debian's ``chromium``; ``make browser`` installs it) for page checks:
what an HTML page's images and links are once a real browser has loaded it, and a screenshot.

The check runs in the browser itself: a copy of the page, written beside it so relative paths
still resolve, gets a script that, once the page has loaded, writes every ``<img>``'s source
and whether it decoded (``complete && naturalWidth > 0``) and every link's resolved URL into a
marker element; Chromium's ``--dump-dom`` prints the DOM after that script ran.

Tests ask for Chromium through :func:`require_chromium`: skipped when it is absent, failed
instead when ``DEEPDREAM_REQUIRE_BROWSER=1`` (CI sets it after installing Chromium).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

_CHECK = """
<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images).map((i) => ({
    src: i.getAttribute("src"), url: i.src, ok: i.complete && i.naturalWidth > 0,
  }));
  const links = Array.from(document.querySelectorAll("a[href]")).map((a) => a.href);
  const marker = document.createElement("pre");
  marker.id = "browser-page-check";
  marker.textContent = JSON.stringify({images: images, links: links});
  document.body.appendChild(marker);
});
</script>
"""
_MARKER = re.compile(r'<pre id="browser-page-check">(.*?)</pre>', re.S)


def chromium() -> str | None:
    """Path of the Chromium executable, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    """Chromium's path for a test; skips the test when it is missing (fails it instead under
    ``DEEPDREAM_REQUIRE_BROWSER=1``)."""
    import pytest

    exe = chromium()
    if exe is None:
        message = "chromium is not installed (make browser); the page is untested"
        if os.environ.get("DEEPDREAM_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return exe


def _run(args: list[str], timeout: float = 120) -> str:
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (make browser)")
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        command = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *args,
        ]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def page_check(page: str | Path) -> dict:
    """What Chromium loaded of an HTML file: ``{'images': [{'src', 'url', 'ok'}], 'links':
    [absolute url]}`` (``src`` as written in the page, ``url`` resolved)."""
    page = Path(page).resolve()
    text = page.read_text(encoding="utf-8")
    checked = text.replace("</body>", _CHECK + "</body>") if "</body>" in text else text + _CHECK
    copy = page.with_name(f".check-{page.name}")
    copy.write_text(checked, encoding="utf-8")
    try:
        dom = _run(["--virtual-time-budget=10000", "--dump-dom", copy.as_uri()])
    finally:
        copy.unlink()
    match = _MARKER.search(dom)
    if match is None:
        raise RuntimeError(f"{page.name}: the check did not run in the page (no marker)")
    return json.loads(html.unescape(match[1]))


def broken_images(page: str | Path) -> tuple[int, list[str]]:
    """(number of <img> elements, the src of each that did not load) for an HTML file."""
    images = page_check(page)["images"]
    return len(images), [i["src"] for i in images if not i["ok"]]


def screenshot(page: str | Path, png: str | Path, width: int = 1200, height: int = 1600) -> Path:
    """Render an HTML file to a PNG of width x height CSS pixels (the top of the page)."""
    png = Path(png).resolve()
    _run(
        [
            f"--window-size={width},{height}",
            "--virtual-time-budget=10000",
            f"--screenshot={png}",
            Path(page).resolve().as_uri(),
        ]
    )
    return png
