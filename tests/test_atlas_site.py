"""The atlas site opened in a real headless browser (Debian's Chromium): every page renders
with no broken image and every link resolving to a file of the site; and the check itself
fails when one picture is missing.

How: ``reference.browser.page_check`` (one headless-Chromium helper for the project's pages).
Skipped when Chromium is not installed, unless DEEPDREAM_REQUIRE_BROWSER=1 (CI sets it, after
installing Chromium).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from reference.browser import page_check, require_chromium
from tests.atlas_helpers import BLOB, FAST_LUCID, FAST_RENDER, run_cli, write_images
from tf_impl.atlas.atlas_dir import AtlasDir
from tf_impl.atlas.dataset_crops import BUILTIN_PHOTOS, IMAGE_SIDE, builtin_images
from tf_impl.cli import main
from tf_impl.models.labels import SYNTHETIC_LABEL


def site_problems(site: Path) -> list[str]:
    """Broken images and unresolved links (or links leaving the site) on every page."""
    require_chromium()
    problems = []
    root = site.resolve()
    for page in sorted(site.rglob("*.html")):
        found = page_check(page)
        assert found["images"], f"{page.name} shows no image"
        problems += [
            f"{page.name}: broken image {i['src']}" for i in found["images"] if not i["ok"]
        ]
        for url in found["links"]:
            target = Path(unquote(urlparse(url).path))
            if not target.is_file() or root not in target.resolve().parents:
                problems.append(f"{page.name}: link to {url} does not resolve inside the site")
    return problems


@pytest.fixture(scope="module")
def site(synthetic_model_file, tmp_path_factory):

    base = tmp_path_factory.mktemp("site")
    images = write_images(base / "photos", count=2)
    out = base / "atlas"
    argv = ["atlas", "--model", synthetic_model_file, "--layer", BLOB, "-o", out, *FAST_RENDER]
    assert main([str(a) for a in [*argv, "--channels", "0-3", "--html", "--images", images]]) == 0
    return out


def test_every_page_renders_with_all_images_and_links(site, tmp_path):
    copy = shutil.copytree(site, tmp_path / "copy")
    pages = {str(p.relative_to(copy)) for p in copy.rglob("*.html")}
    blob_dir = AtlasDir(copy).blob_dir(BLOB).name
    names = [*(f"channel_{c:04d}.html" for c in range(4)), "index.html"]
    assert pages == {"index.html", *(f"{blob_dir}/{name}" for name in names)}
    assert site_problems(copy) == []


def test_channel_pages_show_the_crops_and_the_label(site):
    page = (AtlasDir(site).blob_dir(BLOB) / "channel_0002.html").read_text()
    assert page.count('src="crops/') == 2  # one crop per image
    assert "photo_0.png" in page and "photo_1.png" in page
    for path in site.rglob("*.html"):
        assert SYNTHETIC_LABEL.replace("'", "&#x27;") in path.read_text()


def test_the_check_fails_when_a_picture_or_page_is_missing(site, tmp_path):
    copy = shutil.copytree(site, tmp_path / "copy")
    AtlasDir(copy).channel_png(BLOB, 2).unlink()
    (AtlasDir(copy).blob_dir(BLOB) / "channel_0001.html").unlink()
    problems = site_problems(copy)
    assert any("broken image" in p and "channel_0002.png" in p for p in problems), problems
    assert any("link to" in p and "channel_0001.html" in p for p in problems), problems


def test_page_command_rewrites_the_site(site, synthetic_model_file, tmp_path, capsys):
    copy = shutil.copytree(site, tmp_path / "copy")
    for page in copy.rglob("*.html"):
        page.unlink()
    code, _, err = run_cli(["page", copy], capsys)
    assert code == 0, err
    assert (copy / "index.html").is_file()
    assert (AtlasDir(copy).blob_dir(BLOB) / "channel_0003.html").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli(["page", empty], capsys)
    assert code == 2 and "no atlas here" in err


@pytest.fixture(scope="module")
def lucid_site(synthetic_model_file, tmp_path_factory):
    """A lucid atlas with diversity and negatives, its site's examples from the built-in
    photographs (no --images)."""
    out = tmp_path_factory.mktemp("lucid") / "atlas"
    argv = ["atlas", "--model", synthetic_model_file, "--layer", BLOB, "-o", out, *FAST_LUCID]
    extra = ["--channels", "0-1", "--diversity", "2", "--negatives", "--html"]
    assert main([str(a) for a in [*argv, *extra]]) == 0
    return out


def test_builtin_photographs_are_real_rgb_pictures():
    images = builtin_images()
    assert len(images) == len(BUILTIN_PHOTOS) + 1  # and the sample photo
    for name, rgb in images:
        assert rgb.dtype == "uint8" and rgb.ndim == 3 and rgb.shape[2] == 3, name
        assert max(rgb.shape[:2]) <= IMAGE_SIDE and rgb.std() > 10, name


def test_lucid_channel_page_shows_every_picture_examples_and_statistics(lucid_site, tmp_path):
    page = (AtlasDir(lucid_site).blob_dir(BLOB) / "channel_0001.html").read_text()
    for name in ("channel_0001.png", "channel_0001_v1.png", "channel_0001_neg.png",
                 "channel_0001_neg_v1.png"):  # fmt: skip
        assert f'src="{name}"' in page
    assert "What inhibits it" in page
    assert page.count('src="crops/') == 6  # the top 6 of the built-in photographs
    assert f"Activation over the {len(BUILTIN_PHOTOS) + 1} images" in page
    assert "<th>mean</th>" in page
    copy = shutil.copytree(lucid_site, tmp_path / "copy")
    assert site_problems(copy) == []
