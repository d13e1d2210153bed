"""``make report``: the page is written, every figure says its weights and command, and a real
headless browser (Debian's chromium) loads every image. Built with ``--quick`` (97x173, no
onnx2tf or live Caffe) to stay fast; the full report differs in data, not in page code."""

from __future__ import annotations

import re
import shutil

import pytest

from reference import browser, report
from tests.reference_data import DATA_DIR

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    if not (DATA_DIR / "forward.npz").is_file():
        pytest.skip("stored reference data missing; run `make reference`")
    out = tmp_path_factory.mktemp("report")
    assert report.main(["--out", str(out), "--quick"]) == 0
    return out / "index.html"


def _images(page) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', page.read_text(encoding="utf-8"))


def test_page_has_every_section_with_provenance(quick_report):
    text = quick_report.read_text(encoding="utf-8")
    for heading in (
        "Implementations against Caffe",
        "Error along the depth of the network",
        "Input-gradient agreement",
        "Caffe pooling through ONNX",
        "Dreams side by side",
        "Why whole dreams agree only so far",
        "Speed",
    ):
        assert f"<h2>{heading}" in text, heading
    images = _images(quick_report)
    assert {"depth.png", "gradient.png", "dream.png"} <= set(images)
    # Every figure and table is followed by its weights and the command that reproduces it.
    assert text.count("Reproduce: <code>make report") == len(images) + 2
    assert text.count("Weights: synthetic GoogLeNet, seeded") == len(images) + 2
    # A figure that cannot be drawn here says which and why instead.
    assert 'class="missing">Figure not drawn: PSNR against the number of steps' in text
    for row in ("this project (TF2)", "ONNX Runtime", "OpenCV"):
        assert f"<td>{row}</td>" in text


def test_browser_loads_every_image(quick_report):
    browser.require_chromium()
    total, broken = browser.broken_images(quick_report)
    assert total == len(_images(quick_report)) >= 4
    assert broken == []


def test_browser_check_reports_a_missing_image(quick_report, tmp_path):
    browser.require_chromium()
    copy = tmp_path / "report"
    shutil.copytree(quick_report.parent, copy)
    (copy / "depth.png").unlink()
    total, broken = browser.broken_images(copy / "index.html")
    assert broken == ["depth.png"]
    assert total == len(_images(quick_report))
