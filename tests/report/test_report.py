"""report.html of the sample run, rendered in real headless Chromium (Debian's package)."""

from __future__ import annotations

import shutil

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from report_browser import check_page

from soilmap.cli.main import cli
from soilmap.errors import InputError
from soilmap.report import REPORT, headline, regions_overlap, write_report
from soilmap.report.summary import fmt


def test_overlap_of_a_country_and_its_province():
    regions = gpd.GeoDataFrame(
        {"region_id": ["C", "P", "Q"]},
        geometry=[shapely.box(0, 0, 4, 4), shapely.box(0, 0, 1, 1), shapely.box(5, 5, 6, 6)],
    )
    assert regions_overlap(regions) == [("C", "P")]
    assert regions_overlap(regions.iloc[1:]) == []


def test_report_renders_in_chromium(sample_run, render):
    report = sample_run.out_dir / REPORT
    assert report in sample_run.outputs
    figures = sorted((sample_run.out_dir / "figures").glob("*.png"))
    assert len(figures) >= 6
    seen = render(report)
    check_page(seen, report, figures)
    # The page names the output folder, not the staging folder it was built in.
    assert f"{sample_run.out_dir.name} ·" in seen["text"] and ".soilmap-staging" not in seen["text"]
    numbers = seen["numbers"]

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


def test_the_run_draws_the_report_soilmap_report_would(sample_run, tmp_path):
    """A run draws its report while its COGs are written, from run.json's content in
    memory: rebuilt from the finished folder, the page and every figure are the same."""
    import re

    folder = tmp_path / sample_run.out_dir.name  # the page names its folder
    shutil.copytree(sample_run.out_dir, folder)
    write_report(folder)

    def page(d):
        return re.sub(r"report written [^<]* UTC", "", (d / REPORT).read_text())

    assert page(folder) == page(sample_run.out_dir)
    pngs = sorted(p.name for p in (sample_run.out_dir / "figures").glob("*.png"))
    assert pngs and pngs == sorted(p.name for p in (folder / "figures").glob("*.png"))
    for name in pngs:
        drawn = (sample_run.out_dir / "figures" / name).read_bytes()
        assert drawn == (folder / "figures" / name).read_bytes(), name


def test_report_of_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(InputError, match="no run.json"):
        write_report(tmp_path)
    res = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert res.exit_code == 1 and "InputError" in res.output and "Traceback" not in res.output
