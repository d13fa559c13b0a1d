"""report.html of the sample run, rendered in real headless Chromium (Debian's package)."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from soilmap.cli.main import cli
from soilmap.errors import InputError
from soilmap.report import REPORT, headline, regions_overlap, write_report
from soilmap.report.summary import fmt

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (.ci/run installs it)"
)

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


def test_overlap_of_a_country_and_its_province():
    regions = gpd.GeoDataFrame(
        {"region_id": ["C", "P", "Q"]},
        geometry=[shapely.box(0, 0, 4, 4), shapely.box(0, 0, 1, 1), shapely.box(5, 5, 6, 6)],
    )
    assert regions_overlap(regions) == [("C", "P")]
    assert regions_overlap(regions.iloc[1:]) == []


@needs_chromium
def test_report_renders_in_chromium(sample_run, tmp_path):
    from playwright.sync_api import sync_playwright

    report = sample_run.out_dir / REPORT
    assert report in sample_run.outputs
    figures = sorted((sample_run.out_dir / "figures").glob("*.png"))
    assert len(figures) >= 6
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
        images = page.evaluate(_IMAGES_JS)
        numbers = page.evaluate(_NUMBERS_JS)
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        page.emulate_media(media="print")
        page.screenshot(path=str(tmp_path / "report_print.png"), full_page=True)
        browser.close()
    assert failed == []
    # The page itself and embedded images only: nothing fetched from anywhere.
    assert [u for u in requests if not u.startswith("data:")] == [report.as_uri()]
    assert len(images) == len(figures)
    for img in images:
        assert img["complete"] and img["w"] > 200 and img["h"] > 150, img
        assert img["src"].startswith("data:image/png"), img
        assert img["colours"] > 8, img  # not blank
    assert (tmp_path / "report.png").stat().st_size > 50_000

    # Headline numbers == the zonal table's sums over eligible groups (the sample's
    # two regions overlap, so the page gives them one by one).
    t = sample_run.zonal
    eligible = t[(t["landuse"] != "all") & t["eligible"]]
    assert {n["region"] for n in numbers} == set(t["region_id"])
    assert len(numbers) == 4 * t["region_id"].nunique() * t["scenario"].nunique()
    for n in numbers:
        rows = eligible[
            (eligible["region_id"] == n["region"]) & (eligible["scenario"] == n["scenario"])
        ]
        expected = float(rows[n["key"]].sum())
        assert n["value"] == pytest.approx(expected, rel=1e-12), n
        assert n["text"].startswith(fmt(expected)), n
    # By hand from the table: Southern Tigray's eligible potential is cropland +
    # grassland + forest, and CO2e is 44/12 of it.
    zone = {n["key"]: n["value"] for n in numbers if n["region"] == "ET0104"}
    assert zone["co2e_t_per_yr"] == pytest.approx(zone["sequestration_t_per_yr"] * 44 / 12)


def test_report_command_rebuilds(sample_run, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(sample_run.out_dir, folder)
    (folder / REPORT).unlink()
    shutil.rmtree(folder / "figures")
    res = CliRunner().invoke(cli, ["report", str(folder)])
    assert res.exit_code == 0, res.output
    html = (folder / REPORT).read_text()
    assert html.count("data:image/png;base64,") == len(list((folder / "figures").glob("*.png")))
    for h in headline(sample_run.zonal, ["ET0104"]):
        assert repr(h.values["sequestration_t_per_yr"]) in html
    assert "http://" not in html and "https://" not in html


def test_report_of_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(InputError, match="no run.json"):
        write_report(tmp_path)
    res = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert res.exit_code == 1 and "InputError" in res.output and "Traceback" not in res.output
