"""Exclusion masks as cell shares, and moving excluded land into "excluded" (soilmap.masks)."""

from __future__ import annotations

import pickle

import dask
import geopandas as gpd
import numpy as np
import pytest
import shapely
import xarray as xr
from affine import Affine
from pyproj import CRS, Transformer

from soilmap.errors import (
    CRSError,
    GridMismatchError,
    InputError,
    InputNotFoundError,
    NoOverlapError,
)
from soilmap.grid import Grid
from soilmap.landuse.masks import apply_exclusion, raster_mask_fraction, vector_mask_fraction
from soilmap.landuse.regrid import class_fractions, covered_share
from soilmap.landuse.schemes import load_class_table
from soilmap.testing import make_grid, raise_if_dask_computes, write_raster

UTM = "EPSG:32637"
X0, Y0 = 500_000.0, 1_400_000.0


@pytest.fixture
def grid():
    return make_grid((4, 5), res=10.0)  # x 500000..500050, y 1399960..1400000


def polygons(*boxes, crs=UTM):
    return gpd.GeoDataFrame(geometry=[shapely.box(*b) for b in boxes], crs=crs)


# ------------------------------------------------------------------------------ vector


@pytest.mark.parametrize("chunks", [None, (2, 2), (1, 5)])
def test_half_a_cell_and_overlaps_counted_once(grid, chunks):
    gdf = polygons(
        (X0, Y0 - 10, X0 + 5, Y0),  # west half of cell (0, 0)
        (X0 + 10, Y0 - 20, X0 + 30, Y0 - 10),  # cells (1, 1) and (1, 2)
        (X0 + 20, Y0 - 30, X0 + 30, Y0 - 10),  # (1, 2) again, and (2, 2)
        (X0 + 45, Y0 - 45, X0 + 80, Y0 - 35),  # quarter of (3, 4), mostly off the grid
    )
    with raise_if_dask_computes():
        m = vector_mask_fraction(gdf, grid, chunks=chunks)
    expected = np.zeros((4, 5))
    expected[0, 0] = 0.5
    expected[1, 1] = expected[1, 2] = expected[2, 2] = 1.0
    expected[3, 4] = 0.25
    np.testing.assert_allclose(m.values, expected, atol=1e-6)
    assert m.dtype == np.float32 and m.attrs["units"] == "1"
    assert m.rio.crs == CRS.from_user_input(UTM)


def test_invalid_polygon_is_repaired(grid):
    # A bow-tie over cells (0, 0)..(1, 1): two triangles of 100 m² each after repair.
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 20, Y0 - 20), (X0 + 20, Y0), (X0, Y0 - 20)])
    m = vector_mask_fraction(gpd.GeoDataFrame(geometry=[bowtie], crs=UTM), grid)
    assert float(m.sum()) == pytest.approx(2.0)  # 200 m² of 100 m² cells


def test_polygons_in_another_crs_are_reprojected(grid):
    to_ll = Transformer.from_crs(UTM, 4326, always_xy=True)
    ring = shapely.segmentize(shapely.box(X0, Y0 - 20, X0 + 20, Y0), 1.0)
    ll = shapely.Polygon(np.c_[to_ll.transform(*np.asarray(ring.exterior.coords).T)])
    m = vector_mask_fraction(gpd.GeoDataFrame(geometry=[ll], crs=4326), grid)
    np.testing.assert_allclose(m.values[:2, :2], 1.0, atol=1e-4)
    assert m.values[2:, :].max() < 1e-4 and m.values[:, 2:].max() < 1e-4


def test_vector_mask_from_file_and_graph_pickles(grid, tmp_path):
    path = tmp_path / "peat.gpkg"
    polygons((X0, Y0 - 10, X0 + 5, Y0)).to_file(path, layer="peat")
    m = vector_mask_fraction(path, grid, layer="peat", chunks=(2, 2))
    pickle.dumps(dict(m.data.__dask_graph__()))
    assert float(m.sum()) == pytest.approx(0.5)


def test_vector_file_without_crs_needs_crs_parameter(grid, tmp_path):
    path = tmp_path / "nocrs.shp"
    polygons((X0, Y0 - 10, X0 + 5, Y0)).to_file(path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(CRSError, match="crs="):
        vector_mask_fraction(path, grid)
    m = vector_mask_fraction(path, grid, crs=UTM)
    assert float(m.sum()) == pytest.approx(0.5)
    with pytest.raises(CRSError, match="crs="):
        vector_mask_fraction(polygons((X0, Y0 - 10, X0 + 5, Y0)), grid, crs=4326)


def test_vector_mask_errors(grid, tmp_path):
    with pytest.raises(InputNotFoundError):
        vector_mask_fraction(tmp_path / "missing.gpkg", grid)
    with pytest.raises(NoOverlapError, match="lon .*lon "):
        vector_mask_fraction(polygons((X0 + 1e5, Y0, X0 + 1e5 + 10, Y0 + 10)), grid)
    points = gpd.GeoDataFrame(geometry=[shapely.Point(X0, Y0)], crs=UTM)
    with pytest.raises(InputError, match="polygons"):
        vector_mask_fraction(points, grid)


# ------------------------------------------------------------------------------ raster


def test_raster_mask_aggregates_nonzero_pixels(tmp_path):
    mask = np.zeros((6, 6), "uint8")
    mask[0, 0] = 1  # 1/9 of cell (0, 0)
    mask[3:6, 3:6] = 2  # all of cell (1, 1)
    mask[0:3, 3:6] = 9  # nodata: never excluded
    path = write_raster(tmp_path / "m.tif", mask, make_grid((6, 6), res=10.0), nodata=9)
    with raise_if_dask_computes():
        m = raster_mask_fraction(path, make_grid((2, 2), res=30.0), chunks=(1, 1))
    np.testing.assert_allclose(m.values, [[1 / 9, 0], [0, 1]], atol=1e-6)
    only2 = raster_mask_fraction(path, make_grid((2, 2), res=30.0), values=[2])
    np.testing.assert_allclose(only2.values, [[0, 0], [0, 1]], atol=1e-6)
    assert m.attrs["method"] == "area-exact" and m.dims == ("y", "x")


def test_raster_mask_on_another_crs(tmp_path):
    mask = np.zeros((60, 60), "uint8")
    mask[:, :30] = 1  # west half of the source
    path = write_raster(tmp_path / "m.tif", mask, make_grid((60, 60), res=10.0))
    # ~33 m cells from 150 m to ~350 m east of the source corner: the mask ends at 300 m.
    lon0, lat0 = Transformer.from_crs(UTM, 4326, always_xy=True).transform(X0 + 150, Y0 - 100)
    ref = Grid(CRS.from_epsg(4326).to_wkt(), Affine(3e-4, 0, lon0, 0, -3e-4, lat0), (6, 6))
    m = raster_mask_fraction(path, ref)
    assert m.attrs["method"] == "area-sampled"
    assert m.values[:, :3].min() == 1.0 and m.values[:, -1].max() == 0.0
    assert 0.2 < m.values[:, 4].mean() < 0.8 and m.values.max() <= 1.0


def test_raster_mask_takes_integral_floats_and_refuses_fractions(tmp_path):
    grid = make_grid((6, 6), res=10.0)
    codes = np.zeros((6, 6), "uint8")
    codes[:2] = 1
    ints = write_raster(tmp_path / "i.tif", codes, grid)
    # R and GEE write masks as float32: integral codes are the same mask.
    floats = write_raster(tmp_path / "f.tif", codes.astype("float32"), grid)
    np.testing.assert_array_equal(
        raster_mask_fraction(floats, grid).values, raster_mask_fraction(ints, grid).values
    )
    halves = write_raster(tmp_path / "h.tif", codes.astype("float32") / 2, grid)
    with pytest.raises(InputError, match="12 non-integral value"):
        raster_mask_fraction(halves, grid).compute()
    ints = write_raster(tmp_path / "i.tif", np.zeros((6, 6), "uint8"), grid)
    with pytest.raises(InputError, match="non-negative"):
        raster_mask_fraction(ints, grid, values=[-1])


# ----------------------------------------------------------------------------- exclusion


def test_apply_exclusion_moves_the_share_and_keeps_the_sum(tmp_path, grid):
    table = load_class_table("esa_worldcover")
    lc = np.full((4, 5), 40, "uint8")
    lc[:, 2:] = 10
    lc[3, :] = 80  # water: already excluded
    lc[0, 4] = 0  # nodata: nothing to move
    frac = class_fractions(write_raster(tmp_path / "lc.tif", lc, grid, nodata=0), table, grid)
    gdf = polygons((X0, Y0 - 10, X0 + 5, Y0), (X0 + 20, Y0 - 40, X0 + 50, Y0))
    with raise_if_dask_computes():
        share = vector_mask_fraction(gdf, grid, chunks=(2, 3))
        out = apply_exclusion(frac, share)
    assert dask.is_dask_collection(out) and out.dtype == np.float32
    np.testing.assert_allclose(covered_share(out).values, covered_share(frac).values, atol=1e-6)
    assert float(out.sel(group="cropland")[0, 0]) == pytest.approx(0.5)
    assert float(out.sel(group="excluded")[0, 0]) == pytest.approx(0.5)
    np.testing.assert_allclose(out.sel(group="forest")[:, 2:].values, 0.0, atol=1e-7)
    np.testing.assert_allclose(out.sel(group="excluded")[:3, 2:4].values, 1.0, atol=1e-6)
    assert float(out.sel(group="excluded")[0, 4]) == 0.0
    np.testing.assert_allclose(out.sel(group="excluded")[3].values, 1.0)
    assert tuple(out.group.values) == tuple(frac.group.values)
    assert "apply_exclusion" in out.attrs["history"] and out.attrs["units"] == "1"


def test_apply_exclusion_adds_the_group_first_when_missing(grid):
    values = np.stack([np.full((4, 5), 0.6), np.full((4, 5), 0.3)]).astype("float32")
    frac = xr.DataArray(
        values,
        dims=("group", "y", "x"),
        coords={"group": ["cropland", "forest"], "y": grid.ys(), "x": grid.xs()},
    ).chunk({"y": 2})
    share = xr.DataArray(
        np.full((4, 5), 0.5, "float32"), dims=("y", "x"), coords={"y": grid.ys(), "x": grid.xs()}
    )
    with raise_if_dask_computes():
        out = apply_exclusion(frac, share)
    assert tuple(out.group.values) == ("excluded", "cropland", "forest")
    np.testing.assert_allclose(out.sel(group="excluded"), 0.45, atol=1e-6)
    np.testing.assert_allclose(out.sel(group="cropland"), 0.3, atol=1e-6)
    np.testing.assert_allclose(out.sum("group"), 0.9, atol=1e-6)


def test_apply_exclusion_needs_the_same_grid(grid):
    frac = xr.DataArray(
        np.zeros((1, 4, 5), "float32"), dims=("group", "y", "x"), coords={"group": ["forest"]}
    )
    with pytest.raises(GridMismatchError):
        apply_exclusion(frac, xr.DataArray(np.zeros((3, 5)), dims=("y", "x")))
    with pytest.raises(GridMismatchError):
        apply_exclusion(
            frac.assign_coords(x=np.arange(5.0), y=np.arange(4.0)),
            xr.DataArray(
                np.zeros((4, 5)),
                dims=("y", "x"),
                coords={"x": np.arange(5.0) + 3, "y": np.arange(4.0)},
            ),
        )
