"""Exact zeros used as nodata: counted per land-use group and named, with the fix."""

from __future__ import annotations

import dataclasses
import json

import geopandas as gpd
import numpy as np
import pytest
import shapely

from soilmap.config import RunConfig
from soilmap.pipeline.run import run
from soilmap.testing import make_grid, write_raster

GRID = make_grid((10, 12))


def test_zeros_on_eligible_land_are_named(tmp_path, caplog):
    stock = np.full(GRID.shape, 50.0, "float32")
    stock[:2, :] = 0.0  # 24 zero cells, on cropland (code 10) in rows 0-4
    lc = np.full(GRID.shape, 10, "uint8")
    lc[5:, :] = 190  # urban: excluded
    stock[9, :3] = 0.0  # 3 zero cells on excluded land
    soc = write_raster(tmp_path / "soc.tif", stock, GRID, nodata=np.nan)
    land = write_raster(tmp_path / "lc.tif", lc, GRID)
    gpd.GeoDataFrame({"id": ["A"]}, geometry=[shapely.box(*GRID.bounds)], crs=GRID.crs).to_file(
        tmp_path / "r.gpkg"
    )
    cfg = RunConfig.from_flags(
        soc=str(soc),
        soc_units="t C ha-1",
        landcover=str(land),
        landcover_scheme="esa_cci_lc",
        regions=str(tmp_path / "r.gpkg"),
        region_id="id",
        out=str(tmp_path / "o"),
    )
    cfg = dataclasses.replace(cfg, soc=dataclasses.replace(cfg.soc, unit_check="off"))
    run(cfg, progress=False)
    vc = json.loads((tmp_path / "o" / "run.json").read_text())["value_checks"]
    assert vc["zero_stock_cells_by_group"]["cropland"] == pytest.approx(24)
    assert vc["zero_stock_cells_by_group"]["excluded"] == pytest.approx(3)
    (warning,) = [w for w in vc["warnings"] if "zeros" in w]
    assert "cropland: 24 cells" in warning and "sentinels = [0]" in warning
    # Declared, the zeros are not land any more: 24 + 3 cells fewer with SOC data.
    declared = dataclasses.replace(cfg, soc=dataclasses.replace(cfg.soc, sentinels=(0.0,)))
    result = run(declared.with_output(tmp_path / "d"), progress=False)
    assert (
        json.loads((tmp_path / "d" / "run.json").read_text())["soc_inputs"]["stock"]["valid_cells"]
        == 120 - 27
    )
    assert result.manifest["value_checks"]["zero_stock_cells_by_group"]["cropland"] == 0
