"""One ``covered_share`` (with data) and ``extent_share`` (inside the raster), both <= 1.

Issue 15: ``covered_share`` reached 1.0038: the region's area was the geodesic area of
the raw polygon (each vertex-to-vertex edge a geodesic) while the cells' covered
shares see the edges as straight lines in the grid's CRS.  The region's area is now
taken on the cell areas' surface (:func:`soilmap.zonal.regions.region_areas_on_grid`).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from realdata import DATA

from soilmap.io.raster import open_raster
from soilmap.io.vector import read_regions
from soilmap.testing import make_grid, make_layer
from soilmap.zonal.regions import region_areas_ha
from soilmap.zonal.statistics import zonal_statistics

TOL = 1e-12


def _check(table):
    for col in ("covered_share", "extent_share"):
        v = table[col].dropna().to_numpy()
        assert v.size and np.all(v >= 0) and np.all(v <= 1 + TOL), (col, v.max())
    assert np.all(table["covered_share"] <= table["extent_share"] + TOL)


def test_long_edges_the_cause_of_shares_above_one():
    """A triangle with 5° edges inside a 1/10° lon/lat raster: the raw geodesic area
    treats its edges as geodesics, not as the straight lon/lat lines the raster
    sees, and differs from the covered area by 3.7 % (an old share of 0.963; with
    other edges, above 1); on the cell-area surface the share is 1."""
    grid = make_grid((100, 100), res=0.1, origin=(0.0, 60.0), crs="EPSG:4326")
    da = make_layer(np.full((100, 100), 10.0, "float32"), grid, chunks=(50, 50))
    tri = shapely.Polygon([(1, 51), (6, 51), (1, 56)])
    regions = gpd.GeoDataFrame(
        {"region_id": ["t"], "region_name": ["t"]}, geometry=[tri], crs="EPSG:4326"
    )
    t, _ = zonal_statistics({"soc": da}, regions)
    raw = region_areas_ha(regions)[0]
    extent = t["extent_share"].iloc[0] * t["region_area_ha"].iloc[0]
    assert abs(extent / raw - 1) > 0.03  # what the old covered_share reported
    assert t["extent_share"].iloc[0] == pytest.approx(1.0, abs=TOL)
    assert t["covered_share"].iloc[0] == pytest.approx(1.0, abs=TOL)


def test_part_outside_the_raster_and_no_data_cells():
    """Half the square is outside the raster and half of the inside has no data:
    extent_share 0.5, covered_share 0.25 (cells at the equator: nearly equal areas)."""
    grid = make_grid((10, 10), res=0.01, origin=(0.0, 0.1), crs="EPSG:4326")
    v = np.full((10, 10), 5.0, "float32")
    v[5:, 5:] = np.nan  # the lower half of the inside columns 5–9
    da = make_layer(v, grid)
    sq = shapely.box(0.05, 0.0, 0.15, 0.1)  # x 0.05–0.10 inside, 0.10–0.15 outside
    regions = gpd.GeoDataFrame(
        {"region_id": ["s"], "region_name": ["s"]}, geometry=[sq], crs="EPSG:4326"
    )
    t, _ = zonal_statistics({"soc": da}, regions)
    assert t["extent_share"].iloc[0] == pytest.approx(0.5, rel=1e-4)
    assert t["covered_share"].iloc[0] == pytest.approx(0.25, rel=1e-4)
    _check(t)


@pytest.mark.realdata
@pytest.mark.parametrize(
    "tif", ["phl_gsocseq_t0_luzon_epsg4326.tif", "phl_gsocseq_t0_luzon_epsg32651.tif"]
)
def test_philippines_admin1_shares_at_most_one(tif):
    regions, _ = read_regions(
        DATA / "phl_admin1_naturalearth.gpkg", id_field="id", duplicate_ids="suffix"
    )
    t, units = zonal_statistics({"t0": open_raster(DATA / tif, chunks=(256, 256))}, regions)
    assert units["extent_share"] == "1"
    _check(t)
    # the regions wholly inside the window: their whole area is inside the extent
    inside = t[t["extent_share"] > 0.999]
    assert len(inside) > 10
    np.testing.assert_allclose(inside["extent_share"], 1.0, atol=1e-9)


@pytest.mark.realdata
def test_bhutan_and_luzon_gsocseq_shares_at_most_one(tmp_path):
    from soilmap.gsocseq.run import run_comparison

    for name, folder, regions in (
        ("bt", DATA / "gsocseq" / "bhutan", DATA / "gsocseq" / "bhutan_admin1.gpkg"),
        (
            "ph",
            DATA / "gsocseq" / "philippines_luzon",
            DATA / "gsocseq" / "philippines_luzon_admin1.gpkg",
        ),
    ):
        r = run_comparison(
            folder, regions, id_field="id", out_dir=tmp_path / name, duplicate_ids="suffix"
        )
        _check(r.table)
