"""Render a report.html in real headless Chromium (Debian's package, driven by playwright).

The ``render`` fixture (tests/conftest.py) and :func:`check_page` of the report tests.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

#: Every image drawn on a canvas: decoded size and the spread of its pixel values
#: (a blank image has one colour).
_IMAGES_JS = """
() => Array.from(document.images).map((img) => {
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  const colours = new Set();
  for (let i = 0; i < d.length; i += 4 * 97) colours.add(d[i] * 65536 + d[i+1] * 256 + d[i+2]);
  return {complete: img.complete, w: img.naturalWidth, h: img.naturalHeight,
          colours: colours.size, src: img.src.slice(0, 22)};
})
"""
_NUMBERS_JS = """
() => Array.from(document.querySelectorAll('span.num')).map((s) => ({
  key: s.dataset.key, region: s.dataset.region, scenario: s.dataset.scenario,
  value: parseFloat(s.dataset.value), text: s.textContent}))
"""
_TABLES_JS = """
() => Array.from(document.querySelectorAll('table')).map((t) =>
  Array.from(t.rows).map((r) => Array.from(r.cells).map((c) => c.textContent)))
"""


def make_renderer(tmp_path: Path) -> Callable[[Path], dict[str, Any]]:
    """Open a report in Chromium; return what loaded, its images, numbers and tables.

    The screen and print screenshots are saved in the test's temp folder
    (``report.png``, ``report_print.png``).
    """
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    def _render(report: Path) -> dict[str, Any]:
        requests: list[str] = []
        failed: list[str] = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.goto(report.as_uri(), wait_until="load")
            seen = {
                "images": page.evaluate(_IMAGES_JS),
                "numbers": page.evaluate(_NUMBERS_JS),
                "tables": page.evaluate(_TABLES_JS),
                "text": page.inner_text("body"),
            }
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            page.emulate_media(media="print")
            page.screenshot(path=str(tmp_path / "report_print.png"), full_page=True)
            browser.close()
        return {
            **seen,
            "requests": requests,
            "failed": failed,
            "screenshot": tmp_path / "report.png",
        }

    return _render


def check_page(seen: dict[str, Any], report: Path, figures: list[Path]) -> None:
    """Loaded with no failed request, nothing fetched, every figure decoded and not blank."""
    assert seen["failed"] == []
    # The page itself and embedded images only: nothing fetched from anywhere.
    assert [u for u in seen["requests"] if not u.startswith("data:")] == [report.as_uri()]
    assert len(seen["images"]) == len(figures)
    for img in seen["images"]:
        assert img["complete"] and img["w"] > 200 and img["h"] > 150, img
        assert img["src"].startswith("data:image/png"), img
        assert img["colours"] > 8, img  # not blank
    assert seen["screenshot"].stat().st_size > 50_000
