"""Likely organic soils counted (issue 15): 0–30 cm stocks above 200 t C/ha, by hand."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from soilmap.cli.main import cli
from soilmap.scenario.organic import ORGANIC_STOCK_SOURCE, ORGANIC_STOCK_T_HA, organic_summary
from soilmap.testing import make_grid, write_raster

EA = "EPSG:6933"  # 100 m cells: 1 ha each


def _inputs(tmp_path, stock, name="s.tif", peat=False):
    grid = make_grid((2, 3), crs=EA, res=100.0, origin=(0.0, 200.0))
    write_raster(tmp_path / name, stock, grid, units="t C ha-1")
    write_raster(tmp_path / "lc.tif", np.array([[1, 1, 2], [2, 1, 2]], "uint8"), grid)
    (tmp_path / "t.csv").write_text("code,group\n1,cropland\n2,wetland\n")
    # region 'wet' is the last column: wetland only (not eligible by default)
    boxes = [shapely.box(0, 0, 300, 200), shapely.box(200, 0, 300, 200)]
    gpd.GeoDataFrame({"rid": ["r", "wet"]}, geometry=boxes, crs=EA).to_file(tmp_path / "r.gpkg")
    args = ["run", "--soc", str(tmp_path / name), "--soc-units", "t C ha-1"]
    args += ["--landcover", str(tmp_path / "lc.tif"), "--landcover-scheme", str(tmp_path / "t.csv")]
    args += ["--regions", str(tmp_path / "r.gpkg"), "--region-id", "rid", "--soc-depth", "0-30"]
    if peat:
        # a peat mask over the first column: its cells are excluded
        gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 100, 200)], crs=EA).to_file(
            tmp_path / "peat.gpkg"
        )
        args += ["--exclude", str(tmp_path / "peat.gpkg")]
    return [*args, "--out", str(tmp_path / "out")]


def test_cells_above_the_threshold_counted_in_run_json_and_console(tmp_path):
    """Stocks (t C/ha) [[250, 80, 310], [60, 90, 199]] with groups [[crop, crop, wet],
    [wet, crop, wet]]: 250 (cropland) and 310 (wetland) are above 200; 199 is not.
    1 ha each: 1 ha cropland (eligible), 1 ha wetland (not eligible)."""
    stock = np.array([[250.0, 80, 310], [60, 90, 199]], "float32")
    r = CliRunner().invoke(cli, _inputs(tmp_path, stock))
    assert r.exit_code == 0, r.output
    man = json.loads((tmp_path / "out" / "run.json").read_text())
    org = man["value_checks"]["likely_organic_soils"]
    assert ORGANIC_STOCK_T_HA == 200.0
    assert org["counted"] and org["cells"] == 2
    assert org["area_ha_by_group"]["cropland"] == pytest.approx(1.0, rel=1e-9)
    assert org["area_ha_by_group"]["wetland"] == pytest.approx(1.0, rel=1e-9)
    assert org["eligible_area_ha"] == pytest.approx(1.0, rel=1e-9)
    assert org["threshold_source"] == ORGANIC_STOCK_SOURCE and "IPCC" in ORGANIC_STOCK_SOURCE
    assert "2 cells (1 ha of eligible land)" in r.output and "peat" in r.output
    # `eligible` on the all rows: whether the row holds any eligible land
    t = pd.read_csv(tmp_path / "out" / "zonal_stats.csv").set_index(["region_id", "landuse"])
    assert bool(t.loc[("r", "all"), "eligible"]) is True
    assert bool(t.loc[("wet", "all"), "eligible"]) is False
    assert t.loc[("wet", "all"), "area_ha"] == pytest.approx(2.0, rel=1e-9)


def test_a_peat_mask_removes_them_from_the_land_and_deeper_stocks_are_not_counted(tmp_path):
    stock = np.array([[250.0, 80, 310], [60, 90, 199]], "float32")
    r = CliRunner().invoke(cli, _inputs(tmp_path, stock, peat=True))
    assert r.exit_code == 0, r.output
    org = json.loads((tmp_path / "out" / "run.json").read_text())["value_checks"]
    org = org["likely_organic_soils"]
    # the mask takes the first column (250 cropland, 60 wetland): 310 wetland is left
    assert org["cells"] == 2  # cells are counted on the stock; hectares on the land use
    assert org["area_ha_by_group"]["cropland"] == pytest.approx(0.0, abs=1e-9)
    assert org["eligible_area_ha"] == pytest.approx(0.0, abs=1e-9)
    # a stock of another depth is not compared with the 0-30 cm threshold
    deeper = organic_summary({"organic:cells": 5.0}, {"cropland"}, "0-100")
    assert deeper["counted"] is False and "0-100" in deeper["note"]
