"""Headless Chromium (Debian's ``chromium``; ``make browser`` installs it) for page checks:
which images of an HTML page fail to load, and a screenshot.

Images are checked in the browser itself: a copy of the page, written beside it so relative
image paths still resolve, gets a script that, once the page has loaded, records every
``<img>`` whose ``naturalWidth`` is 0 (missing or undecodable) in a marker element; Chromium's
``--dump-dom`` prints the DOM after that script ran.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

_CHECK = """
<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const broken = images.filter((i) => !i.complete || i.naturalWidth === 0)
    .map((i) => i.getAttribute("src"));
  const marker = document.createElement("div");
  marker.id = "browser-image-check";
  marker.dataset.total = images.length;
  marker.dataset.broken = JSON.stringify(broken);
  document.body.appendChild(marker);
});
</script>
"""
_MARKER = re.compile(r'id="browser-image-check" data-total="(\d+)" data-broken="([^"]*)"')


def chromium() -> str | None:
    """Path of the Chromium executable, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


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


def broken_images(page: str | Path) -> tuple[int, list[str]]:
    """(number of <img> elements, the src of each that did not load) for an HTML file."""
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
        raise RuntimeError("the image check did not run in the page (no marker in the DOM)")
    return int(match[1]), json.loads(html.unescape(match[2]))


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
