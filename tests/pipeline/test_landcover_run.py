"""Land cover on another grid and exclusion masks, end to end on the sample."""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine

from soilmap.areas import cell_area_ha
from soilmap.config import load_config
from soilmap.grid import Grid
from soilmap.io.raster import read_layout
from soilmap.pipeline.plan import plan
from soilmap.pipeline.run import run


def _totals(result, region="ETH"):
    return result.zonal.set_index(["region_id", "landuse"]).loc[region]


def test_finer_landcover_gives_the_same_totals(sample_copy, tmp_path, sample_run):
    """A 125 m copy of the land cover (each 250 m cell split 2 x 2) changes nothing."""
    lc_path = sample_copy / "LC_250m_ESACCI2010.tif"
    with rasterio.open(lc_path) as src:
        codes, profile = src.read(1), src.profile
    fine = np.repeat(np.repeat(codes, 2, axis=0), 2, axis=1)
    t = profile["transform"]
    profile.update(
        width=fine.shape[1],
        height=fine.shape[0],
        transform=Affine(t.a / 2, 0, t.c, 0, t.e / 2, t.f),
        blockxsize=256,
        blockysize=256,
        tiled=True,
    )
    with rasterio.open(sample_copy / "lc_125m.tif", "w", **profile) as dst:
        dst.write(fine, 1)
    cfg = load_config(sample_copy / "tigray.toml").with_output(tmp_path / "o")
    cfg = dataclasses.replace(
        cfg, landcover=dataclasses.replace(cfg.landcover, path=sample_copy / "lc_125m.tif")
    )
    result = run(cfg, progress=False)
    got, ref = _totals(result), _totals(sample_run)
    for group in ("cropland", "grassland", "forest", "all"):
        for col in ("area_ha", "soc_stock_t", "sequestration_t_per_yr"):
            assert got.loc[group, col] == pytest.approx(ref.loc[group, col], rel=1e-6)
    with rasterio.open(result.out_dir / "landuse_fractions.tif") as src:
        frac = src.read(masked=True)
        assert src.descriptions[1] == "cropland"
    covered = frac.sum(axis=0)
    assert np.nanmax(np.abs(covered[~covered.mask] - 1)) < 1e-6  # fully covered cells


def test_exclusion_mask_removes_its_area(sample_copy, tmp_path, sample_run):
    """A polygon over the western half (on a cell edge) leaves only eastern cropland."""
    layout = read_layout(sample_copy / "ORCDRC_sl1.tif")
    g = layout.grid
    cut = 174  # column of the western edge kept
    x_cut = g.transform.c + cut * g.transform.a
    left, bottom, _, top = g.bounds
    west = gpd.GeoDataFrame(
        geometry=[shapely.box(left - 1000, bottom - 1000, x_cut, top + 1000)], crs=g.crs_wkt
    )
    west.to_file(sample_copy / "protected.gpkg")
    cfg = load_config(sample_copy / "tigray.toml").with_output(tmp_path / "o")
    cfg = dataclasses.replace(
        cfg, landcover=dataclasses.replace(cfg.landcover, exclude=(sample_copy / "protected.gpkg",))
    )
    # The mask leaves shares of cells: the 0/1 group-index route must be off.
    assert plan(cfg).group_index is None
    result = run(cfg, progress=False)
    with (
        rasterio.open(sample_run.out_dir / "landuse.tif") as lu,
        rasterio.open(sample_run.out_dir / "soc_stock.tif") as st,
    ):
        codes, stock = lu.read(1), st.read(1, masked=True)
    area = cell_area_ha(Grid(g.crs_wkt, g.transform, g.shape)).values
    crop = (codes == 1) & ~stock.mask
    crop[:, :cut] = False
    got = _totals(result)
    assert got.loc["cropland", "area_ha"] == pytest.approx(area[crop].sum(), rel=1e-9)
    assert got.loc["all", "area_ha"] == pytest.approx(
        _totals(sample_run).loc["all", "area_ha"], rel=1e-9
    )
    assert any("protected.gpkg" in a for a in result.manifest["assumptions"])


def test_lonlat_grids_with_float_noise_keep_full_outputs(tmp_path):
    """Regression: fractions on a lon/lat grid whose coordinates differ from the SOC raster's
    by float noise (~1e-15 deg) must not crop the outputs (xarray's inner join did)."""
    from soilmap.testing import make_grid, write_raster

    soc_grid = make_grid((120, 90), crs="EPSG:4326", res=1 / 120, origin=(6.0, 3.0))
    lc_grid = make_grid((1200, 900), crs="EPSG:4326", res=1 / 1200, origin=(6.0, 3.0))
    rng = np.random.default_rng(1)
    write_raster(
        tmp_path / "soc.tif",
        rng.uniform(20, 80, soc_grid.shape).astype("float32"),
        soc_grid,
        units="t C ha-1",
    )
    codes = np.where(rng.random(lc_grid.shape) < 0.7, 40, 10).astype("uint8")  # crop / tree
    write_raster(tmp_path / "lc.tif", codes, lc_grid, nodata=0)
    gpd.GeoDataFrame({"id": ["A"]}, geometry=[shapely.box(6.1, 2.2, 6.6, 2.9)], crs=4326).to_file(
        tmp_path / "r.gpkg"
    )
    (tmp_path / "run.toml").write_text("""
[soc]
stock = "soc.tif"
[landcover]
path = "lc.tif"
scheme = "esa_worldcover"
[regions]
path = "r.gpkg"
id_field = "id"
[output]
dir = "out"
[run]
extent = "raster"  # the whole raster, not the region's box
""")
    result = run(load_config(tmp_path / "run.toml"), progress=False)
    with rasterio.open(result.out_dir / "sequestration_rate.tif") as src:
        seq = src.read(1, masked=True)
    assert seq.shape == soc_grid.shape
    assert seq.mask.sum() == 0  # every cell has a stock and known land cover
    crop = result.zonal.set_index("landuse").loc["cropland"]
    assert 0.65 < crop["area_ha"] / result.zonal.set_index("landuse").loc["all", "area_ha"] < 0.75
