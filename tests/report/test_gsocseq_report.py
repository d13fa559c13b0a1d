"""report.html of a ``soilmap gsocseq`` folder (Philippines clip), in real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from realdata import DATA
from report_browser import check_page

from soilmap.cli.main import cli
from soilmap.report import REPORT

PH = DATA / "gsocseq" / "philippines_luzon"
PH_REGIONS = DATA / "gsocseq" / "philippines_luzon_admin1.gpkg"
FIGURES = {
    "map_target_rate.png",
    "map_share_BAU.png",
    "map_share_SSM3.png",
    "gsocseq.png",
    "regions.png",
}


@pytest.fixture(scope="module")
def ph_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ph_report") / "luzon"
    args = ["gsocseq", str(PH), "--regions", str(PH_REGIONS), "--region-id", "id"]
    res = CliRunner().invoke(cli, [*args, "--region-name", "name", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def _shares_by_hand(out: Path) -> dict[str, dict[str, str]]:
    """Per region and scenario: modelled / target from the CSV, as the page prints it."""
    t = pd.read_csv(out / "gsocseq_comparison.csv", dtype={"region_id": str})
    return {
        f"{r.region_name} ({r.region_id})": {
            sc: f"{g.modelled_t_per_yr / g.target_t_per_yr:.1%}"
            for sc, g in t[t.region_id == r.region_id].set_index("scenario").iterrows()
        }
        for r in t.drop_duplicates("region_id").itertuples()
    }


@pytest.mark.realdata
def test_gsocseq_report_renders_with_the_comparison(ph_out, render):
    report = ph_out / REPORT
    figures = sorted((ph_out / "figures").glob("*.png"))
    assert {p.name for p in figures} == FIGURES
    seen = render(report)
    check_page(seen, report, figures)
    assert "luzon" in seen["text"] and ".soilmap-staging" not in seen["text"]

    # Headline numbers == run.json's whole-raster totals; the target is 0.004 x T0.
    totals = {t["scenario"]: t for t in json.loads((ph_out / "run.json").read_text())["totals"]}
    numbers = seen["numbers"]
    assert len(numbers) == 2 * len(totals) == 8
    for n in numbers:
        assert n["value"] == pytest.approx(totals[n["scenario"]][n["key"]], rel=1e-12), n
    for t in totals.values():
        assert t["target_t_per_yr"] == pytest.approx(0.004 * t["t0_stock_t"], rel=1e-12)
    # BAU on the clip models 3.7 % of the target, SSM3 128 % (printed on the page too).
    assert "(3.7% of the target)" in seen["text"] and "(128.0% of the target)" in seen["text"]

    # The per-region table: modelled / target of each region, from the CSV.
    table = next(t for t in seen["tables"] if t[0][0] == "region")
    assert table[0] == ["region", "target (t C/yr)", "BAU", "SSM1", "SSM2", "SSM3"]
    by_hand = _shares_by_hand(ph_out)
    assert len(table) - 1 == len(by_hand) == 8  # 8 regions: no "rest" row
    for row in table[1:]:
        assert row[2:] == [by_hand[row[0]][sc] for sc in ("BAU", "SSM1", "SSM2", "SSM3")], row
    # Ordered by target, largest first.
    targets = [float(re.sub(r"[^\d.]", "", r[1])) for r in table[1:]]
    assert targets == sorted(targets, reverse=True)


@pytest.mark.realdata
def test_soilmap_report_rebuilds_a_gsocseq_folder(ph_out, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(ph_out, folder)
    before = (folder / REPORT).read_text()
    (folder / REPORT).unlink()
    shutil.rmtree(folder / "figures")
    res = CliRunner().invoke(cli, ["report", str(folder)])
    assert res.exit_code == 0, res.output
    assert {p.name for p in (folder / "figures").glob("*.png")} == FIGURES
    html = (folder / REPORT).read_text()
    values = re.compile(r'data-value="([^"]+)"')
    assert values.findall(html) == values.findall(before) and len(values.findall(html)) == 8
    assert "Share of the target per region" in html
    assert html.count("data:image/png;base64,") == len(FIGURES)
