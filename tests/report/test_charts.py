"""The report's charts draw the zonal table's numbers, with land cover or without.

A run without land cover has one group, ``all_land``, and no ``all`` rows: its charts
drew nothing (an empty region chart, an empty horizon chart and a matplotlib warning
"No artists with labels found to put in legend").
"""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from soilmap.plot.charts import horizon_gains, region_bars


def _table(groups: list[str]) -> pd.DataFrame:
    rows = []
    for rid, name, seq in (("R1", "North", 30.0), ("R2", "South", 10.0)):
        for k, g in enumerate(groups):
            rows.append(
                {
                    "scenario": "4p1000",
                    "region_id": rid,
                    "region_name": name,
                    "landuse": g,
                    "area_ha": 100.0,
                    "sequestration_t_per_yr": seq * (k + 1),
                    "gain_2030_t": seq * (k + 1) * 10,
                    "gain_2050_t": seq * (k + 1) * 30,
                    "region_area_ha": 500.0,
                    "rate_per_yr": 0.004,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_charts_of_a_run_without_land_cover():
    table = _table(["all_land"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "No artists with labels" warning
        bars = region_bars(table)
        line = horizon_gains(table, start_years={"4p1000": 2020})
    widths = [p.get_width() for p in bars.patches]
    assert widths == [30.0, 10.0]
    assert [t.get_text() for t in bars.get_yticklabels()] == ["North (R1)", "South (R2)"]
    (curve,) = line.get_lines()
    np.testing.assert_allclose(curve.get_xdata(), [2020, 2030, 2050])
    # 10 × (30 + 10) t = 400 t = 0.0004 Mt; 30 × 40 = 1200 t.
    np.testing.assert_allclose(curve.get_ydata(), [0.0, 400 / 1e6, 1200 / 1e6])


def test_region_sums_of_a_table_with_groups_but_no_all_rows():
    # Two groups per region, no "all" rows: the amounts add up per region.
    bars = region_bars(_table(["cropland", "forest"]))
    assert [p.get_width() for p in bars.patches] == [30.0 + 60.0, 10.0 + 20.0]


def test_all_rows_are_used_when_present():
    table = _table(["cropland"])
    total = table.assign(landuse="all", sequestration_t_per_yr=[7.0, 3.0])
    bars = region_bars(pd.concat([table, total]))
    assert [p.get_width() for p in bars.patches] == [7.0, 3.0]
