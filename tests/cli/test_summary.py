"""The console summary: totals per scenario and the 10 largest regions, not one line each."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely

from soilmap.cli.options import report
from soilmap.pipeline.run import RunResult


def _result(n: int) -> RunResult:
    rows, geoms = [], []
    for i in range(n):
        for group, eligible, seq in (
            ("cropland", True, float(i + 1)),
            ("all", False, float(i + 1)),
        ):
            rows.append(
                {
                    "region_id": f"R{i:02d}",
                    "region_name": f"Region {i}",
                    "landuse": group,
                    "eligible": eligible,
                    "scenario": "p4",
                    "area_ha": 10.0,
                    "soc_stock_t": 1000.0 * (i + 1),
                    "sequestration_t_per_yr": seq,
                    "co2e_t_per_yr": seq * 44 / 12,
                }
            )
            geoms.append(shapely.box(i, 0, i + 1, 1))  # side by side: no overlap
    zonal = gpd.GeoDataFrame(rows, geometry=geoms, crs=4326)
    return RunResult(out_dir=Path("out"), outputs=[], zonal=zonal, manifest={})


def test_totals_and_ten_largest_regions(capsys):
    report(_result(12), quiet=False)
    lines = capsys.readouterr().out.splitlines()
    # 12 regions with potentials 1..12 t C/yr: 78 t C/yr, 120 ha, 0.078 Mt C in total.
    assert (
        "scenario p4, 12 regions: eligible land 120 ha, SOC 0.078 Mt C, "
        "potential 78 t C/yr (286 t CO2e/yr)" in lines[1]
    )
    shown = [ln.split()[0] for ln in lines if ln.startswith("    R")]
    assert shown == [f"R{i:02d}" for i in range(11, 1, -1)]  # 10 largest, largest first
    assert "zonal_stats.csv" in lines[-1]


def test_quiet_prints_nothing(capsys):
    report(_result(3), quiet=True)
    assert capsys.readouterr().out == ""
