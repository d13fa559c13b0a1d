"""soilmap's zonal totals against exactextract's on real data.

Data (``realdata.DATA``, see ``tests/realdata.py``): FAO GSOCseq SOC stock 2020 (T0)
for Luzon, as published in EPSG:4326 (30″) and in FAO's EPSG:32651 (1 km) copy, with
the 120 Natural Earth admin-1 polygons of the Philippines (one invalid, one without a
name, ids not unique: regions are numbered by feature id).

The reference is ``exact_extract(soc, regions, "weighted_sum", weights=<true cell
area raster in ha>)``: the same exact coverage x the same cell areas.  What remains
is exactextract's float32 storage of coverage fractions (``Raster<float>``; checked
below): each partly covered cell carries up to 6e-8 relative rounding, so a region
whose total hangs on a few border cells (a one-cell city) differs by up to ~6e-8;
large provinces agree to ~1e-10.  exactextract's own ``coverage_weight=
"area_spherical_m2"`` is not used: it measures cells on a sphere, which differs from
the ellipsoidal areas by up to ~0.3 % in latitude-dependent ways.
"""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import pytest
import shapely
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource
from realdata import DATA

from soilmap.areas import cell_area_ha
from soilmap.grid import Grid
from soilmap.io.raster import open_raster
from soilmap.io.vector import read_regions
from soilmap.landuse.fractions import uniform_fractions
from soilmap.zonal.regions import regions_on_grid
from soilmap.zonal.sums import zonal_sums

REGIONS = DATA / "phl_admin1_naturalearth.gpkg"

#: Largest relative difference allowed between soilmap and exactextract totals.
RTOL = 1e-6


@pytest.fixture(scope="module")
def regions():
    regions, _report = read_regions(REGIONS, id_field=None, name_field="name")
    return regions


def _compare(raster: Path, regions, chunks):
    soc = open_raster(raster, chunks=chunks)
    grid = Grid.from_dataarray(soc)
    area = cell_area_ha(grid, chunks=(soc.chunks[0][0], soc.chunks[1][0]))
    area = area.chunk({"y": soc.chunks[0], "x": soc.chunks[1]})
    on_grid = regions_on_grid(regions, grid, what="PHL admin-1")
    lazy = zonal_sums(uniform_fractions(soc), area, {"soc": soc}, on_grid, grid)
    sums, area_np, soc_np = dask.compute(lazy, area, soc)
    ours = sums.frame(on_grid)
    b = grid.bounds
    values = NumPyRasterSource(soc_np.values.astype("float64"), *b, srs_wkt=grid.crs_wkt)
    weights = NumPyRasterSource(area_np.values, *b, srs_wkt=grid.crs_wkt)
    ref = exact_extract(
        values,
        on_grid,
        ["weighted_sum", "weighted_mean", "min", "max"],
        weights=weights,
        output="pandas",
    )
    return ours, ref


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = np.maximum(np.abs(a), np.abs(b))
    return np.where(scale > 0, np.abs(a - b) / np.where(scale > 0, scale, 1), 0.0)


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("raster", "chunks"),
    [
        ("phl_gsocseq_t0_luzon_epsg4326.tif", (256, 256)),
        ("phl_gsocseq_t0_luzon_epsg4326.tif", (100, 600)),
        ("phl_gsocseq_t0_luzon_epsg32651.tif", (256, 256)),
    ],
)
def test_totals_match_exactextract(regions, raster, chunks):
    ours, ref = _compare(DATA / raster, regions, chunks)
    total = ours["soc_sum"].to_numpy()
    rel = _rel(total, ref["weighted_sum"])
    assert (ref["weighted_sum"] > 0).sum() > 30  # provinces of Luzon and beyond
    assert rel.max() < RTOL, ours.iloc[int(rel.argmax())]
    # Provinces (thousands of cells) agree far tighter than the one-cell cities.
    big = ours["area_ha"].to_numpy() > 1e5
    assert rel[big].max() < 1e-8
    with np.errstate(invalid="ignore", divide="ignore"):
        ref_area = np.where(ref["weighted_sum"] > 0, ref["weighted_sum"] / ref["weighted_mean"], 0)
    assert _rel(ours["area_ha"], ref_area).max() < RTOL
    # min / max over touched cells with data: the same cells, so identical values.
    np.testing.assert_array_equal(ours["soc_min"].to_numpy(), ref["min"].to_numpy())
    np.testing.assert_array_equal(ours["soc_max"].to_numpy(), ref["max"].to_numpy())
    # Regions off Luzon lie wholly outside the clip: reported with area 0, not dropped.
    assert len(ours) == len(regions) and (ours["area_ha"] == 0).sum() > 30


def test_exactextract_coverage_is_float32():
    """The source of the remaining difference: exactextract rounds coverage to float32."""
    poly = shapely.Polygon([(0.1, 0.13), (3.7, 0.4), (2.2, 3.91)])
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(geometry=[poly], crs=32630)
    src = NumPyRasterSource(np.zeros((4, 4)), 0, 0, 4, 4, srs_wkt=gdf.crs.to_wkt())
    cov = exact_extract(src, gdf, ["coverage"], output="pandas")["coverage"][0]
    assert np.array_equal(cov.astype(np.float32).astype(np.float64), cov)
    # ... whereas soilmap's is exact in float64 (the covered area is the polygon's).
    from soilmap.zonal.coverage import _coverage_spans

    _, _row, start, stop, c = _coverage_spans(
        np.array([poly]), np.zeros(1, int), (0, 4), (1, 1), (4, 4)
    )
    assert abs(np.sum(c * (stop - start)) - poly.area) < 1e-14
