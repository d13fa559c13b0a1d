"""Exact zonal statistics: hand-made cases, properties, regions as users have them, writers, CLI."""

from __future__ import annotations

import json
import sqlite3

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from realdata import DATA

from soilmap.areas import cell_area_ha
from soilmap.errors import InputError, NoOverlapError
from soilmap.io.vector import read_regions
from soilmap.landuse.fractions import fractions_from_index, uniform_fractions
from soilmap.outputs.tables import write_csv, write_gpkg, write_parquet, write_table
from soilmap.testing import make_grid, make_layer, raise_if_dask_computes, write_raster
from soilmap.zonal.coverage import _coverage_spans
from soilmap.zonal.regions import regions_on_grid
from soilmap.zonal.statistics import per_hectare_total_unit, summarise_groups
from soilmap.zonal.sums import ZonalSums, zonal_sums

PHL = DATA / "phl_admin1_naturalearth.gpkg"

# EPSG:6933 (EASE-Grid 2.0, ellipsoidal cylindrical equal area): every cell has its
# planar area, so expected values are easy to write down: 100 m cells = 1 ha.
EA = "EPSG:6933"


def _grid(shape=(4, 6), res=100.0):
    return make_grid(shape, crs=EA, res=res, origin=(0.0, res * shape[0]))


def _regions(geoms, crs=EA, ids=None):
    ids = ids or [f"r{i}" for i in range(len(geoms))]
    return gpd.GeoDataFrame({"region_id": ids, "region_name": ids}, geometry=geoms, crs=crs)


def _run(values, geoms, *, chunks=None, fractions=None, grid=None):
    grid = grid or _grid(values.shape)
    soc = make_layer(values.astype("float32"), grid, chunks=chunks)
    area = cell_area_ha(grid, chunks=chunks)
    frac = fractions if fractions is not None else uniform_fractions(soc)
    regions = _regions(geoms)
    return zonal_sums(frac, area, {"soc": soc}, regions, grid).compute(), regions


VALUES = np.arange(24, dtype="float64").reshape(4, 6)
VALUES[0, 0] = np.nan  # nodata: counts nowhere


@pytest.mark.parametrize("chunks", [None, (2, 3), (3, 4), (1, 6)])
def test_hand_made_min_max_mean_and_partial_cells(chunks):
    # Cells are 100 m: x from 0 to 600, y from 400 (row 0) down to 0 (row 3).
    whole = shapely.box(0, 200, 200, 400)  # rows 0-1, cols 0-1 (one nodata cell)
    half = shapely.box(250, 0, 350, 100)  # half of (3, 2) and half of (3, 3)
    sums, regions = _run(VALUES, [whole, half], chunks=chunks)
    f = sums.frame(regions).set_index("region_id")
    assert f.loc["r0", "area_ha"] == pytest.approx(3.0, rel=1e-12)
    assert f.loc["r0", "soc_sum"] == pytest.approx(1 + 6 + 7, rel=1e-12)
    assert f.loc["r0", "soc_mean"] == pytest.approx(14 / 3, rel=1e-12)
    assert (f.loc["r0", "soc_min"], f.loc["r0", "soc_max"]) == (1.0, 7.0)
    assert f.loc["r1", "area_ha"] == pytest.approx(1.0, rel=1e-12)
    assert f.loc["r1", "soc_sum"] == pytest.approx(0.5 * 20 + 0.5 * 21, rel=1e-12)
    assert (f.loc["r1", "soc_min"], f.loc["r1", "soc_max"]) == (20.0, 21.0)
    assert sums.extent_ha == pytest.approx([4.0, 1.0], rel=1e-12)


def test_region_outside_overlapping_and_holes():
    outside = shapely.box(5000, 5000, 6000, 6000)
    a = shapely.box(0, 0, 300, 400)
    b = shapely.box(100, 0, 600, 400)  # overlaps a on cols 1-2: each counts fully
    ring = shapely.box(0, 0, 600, 400).difference(shapely.box(100, 100, 500, 300))
    multi = shapely.MultiPolygon(
        [shapely.box(0, 0, 100, 100), shapely.box(500, 300, 600, 400)]
    )  # cells (3, 0) and (0, 5)
    sums, regions = _run(VALUES, [outside, a, b, ring, multi])
    f = sums.frame(regions).set_index("region_id")
    v = np.nan_to_num(VALUES)
    assert f.loc["r0", "area_ha"] == 0 and np.isnan(f.loc["r0", ["soc_mean", "soc_min"]]).all()
    assert f.loc["r1", "soc_sum"] == pytest.approx(v[:, :3].sum())
    assert f.loc["r2", "soc_sum"] == pytest.approx(v[:, 1:].sum())
    inner = np.zeros_like(v, bool)
    inner[1:3, 1:5] = True
    assert f.loc["r3", "soc_sum"] == pytest.approx(v[~inner].sum())
    assert f.loc["r3", "area_ha"] == pytest.approx(24 - 8 - 1)  # minus hole, minus nodata
    assert f.loc["r4", "soc_sum"] == pytest.approx(18 + 5)
    assert (f.loc["r4", "soc_min"], f.loc["r4", "soc_max"]) == (5.0, 18.0)


def test_no_overlap_only_when_no_region_overlaps():
    grid = _grid()
    inside, outside = shapely.box(0, 0, 100, 100), shapely.box(5000, 5000, 6000, 6000)
    kept = regions_on_grid(_regions([outside, inside]), grid, what="t")
    assert len(kept) == 2
    with pytest.raises(NoOverlapError, match="no region of t overlaps"):
        regions_on_grid(_regions([outside]), grid, what="t")


def test_groups_min_max_and_all_rows():
    grid = _grid()
    soc = make_layer(VALUES.astype("float32"), grid)
    crop = np.zeros(grid.shape, "float32")
    crop[:, :3] = 1.0
    crop[0, 2] = 0.25
    frac = xr.concat(
        [xr.DataArray(crop, dims=("y", "x")), xr.DataArray(1 - crop, dims=("y", "x"))],
        dim=pd.Index(["cropland", "forest"], name="group"),
    )
    regions = _regions([shapely.box(0, 0, 600, 400)])
    sums = zonal_sums(frac, cell_area_ha(grid), {"soc": soc}, regions, grid).compute()
    f = sums.frame(regions).set_index("landuse")
    v = np.nan_to_num(VALUES)
    assert f.loc["cropland", "soc_sum"] == pytest.approx((v * crop).sum())
    assert (f.loc["cropland", "soc_min"], f.loc["cropland", "soc_max"]) == (1.0, 20.0)
    assert (f.loc["forest", "soc_min"], f.loc["forest", "soc_max"]) == (2.0, 23.0)
    table = summarise_groups(sums.frame(regions), ["area_ha", "soc_sum"])
    total = table[table["landuse"] == "all"].iloc[0]
    assert total["area_ha"] == pytest.approx(23.0)
    assert (total["soc_min"], total["soc_max"]) == (1.0, 23.0)
    assert total["soc_mean"] == pytest.approx(v.sum() / 23)


def test_building_is_lazy():
    grid = _grid((40, 60), res=100.0)
    soc = make_layer(np.ones(grid.shape, "float32"), grid, chunks=(16, 16))
    with raise_if_dask_computes():
        area = cell_area_ha(grid, chunks=(16, 16))
        lazy = zonal_sums(
            uniform_fractions(soc),
            area,
            {"soc": soc},
            _regions([shapely.box(0, 0, 1e3, 1e3)]),
            grid,
        )
    assert dask.is_dask_collection(lazy)


# --------------------------------------------------------------------------- properties


@st.composite
def _case(draw):
    h, w = draw(st.integers(3, 24)), draw(st.integers(3, 24))
    seed = draw(st.integers(0, 2**31))
    n = draw(st.integers(2, 12))
    chunks = (draw(st.integers(1, h)), draw(st.integers(1, w)))
    return h, w, seed, n, chunks


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_case())
def test_regions_tiling_the_raster_sum_to_its_total(case):
    h, w, seed, n, chunks = case
    rng = np.random.default_rng(seed)
    res = 0.01
    grid = make_grid((h, w), crs="EPSG:4326", res=res, origin=(10.0, 50.0))
    values = rng.gamma(2.0, 20.0, (h, w))
    values[rng.random((h, w)) < 0.2] = np.nan
    box = shapely.box(*grid.bounds)
    pts = shapely.multipoints(rng.uniform(grid.bounds[:2], grid.bounds[2:], (n, 2)))
    tiles = shapely.intersection(
        shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=box)), box
    )
    sums, _ = _run(values, list(tiles), chunks=chunks, grid=grid)
    area = cell_area_ha(grid).values
    expected = np.nansum(values.astype("float32") * area)
    assert sums.values[:, 0, 1].sum() == pytest.approx(expected, rel=1e-9)
    assert sums.values[:, 0, 0].sum() == pytest.approx(area[np.isfinite(values)].sum(), rel=1e-9)
    assert sums.extent_ha.sum() == pytest.approx(area.sum(), rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-1, 7), st.floats(-1, 6)), min_size=3, max_size=9),
    st.floats(0.1, 3),
)
def test_coverage_spans_measure_the_polygon(points, grow):
    """Σ coverage over cells = area of the polygon inside the window, for any polygon."""
    poly = shapely.make_valid(shapely.Polygon(points).buffer(grow / 10))
    # zonal_sums clips polygons to each chunk before computing its coverage.
    clipped = shapely.clip_by_rect(poly, 0, 0, 6, 5)
    _, _row, start, stop, cov = _coverage_spans(
        np.array([clipped]), np.zeros(1, int), (0.0, 5.0), (1.0, 1.0), (5, 6)
    )
    inside = poly.intersection(shapely.box(0, 0, 6, 5)).area
    assert np.sum(cov * (stop - start)) == pytest.approx(inside, abs=1e-9)
    assert (cov > 0).all() and (cov <= 1).all()


def test_total_survives_reprojection_to_equal_area():
    """A smooth field's regional total is the same on a lon/lat grid and on LAEA.

    The field is reprojected with GDAL average resampling onto 1 km LAEA cells
    (source cells 30″).  The region's border cuts both grids exactly, so what differs
    is the resampled field: a target cell's average errs from the field's mean over
    its footprint by ≤ h²·max|f''|/24 ≈ (0.0135°)² × 224 / 24 ≈ 1.7e-3 (on values
    ≥ 25, i.e. ≤ 7e-5 relative, and of both signs); GDAL weights source cells by
    planar overlap, not ground area, which differs by ≤ 2e-4 across a target cell
    and moves its mean by < 1e-5 of a field this smooth.  Bound: 2e-4 relative
    (measured: 5.3e-5).
    """
    from rasterio.warp import Resampling, reproject

    src = make_grid((240, 240), crs="EPSG:4326", res=1 / 120, origin=(10.0, 47.0))
    yy, xx = np.meshgrid(src.ys(), src.xs(), indexing="ij")
    field = (40 + 15 * np.sin(xx * 3.1) * np.cos(yy * 2.3)).astype("float32")
    dst = make_grid((200, 140), crs="EPSG:3035", res=1000.0, origin=(4.33e6, 2.64e6))
    out = np.full(dst.shape, np.nan, "float32")
    reproject(
        field,
        out,
        src_transform=src.transform,
        src_crs=src.crs_wkt,
        dst_transform=dst.transform,
        dst_crs=dst.crs_wkt,
        resampling=Resampling.average,
        dst_nodata=np.nan,
    )
    region = _regions([shapely.box(10.4, 45.4, 11.6, 46.6).segmentize(0.01)], crs=4326)
    totals = []
    for grid, values in ((src, field), (dst, out)):
        layer = make_layer(values, grid)
        on_grid = regions_on_grid(region, grid, what="t")
        z = zonal_sums(uniform_fractions(layer), cell_area_ha(grid), {"v": layer}, on_grid, grid)
        totals.append(z.compute().values[0, 0, 1])
    assert totals[1] == pytest.approx(totals[0], rel=2e-4)


# --------------------------------------------------------------------------- regions


@pytest.mark.realdata
def test_real_admin_layer_invalid_unnamed_and_duplicate_ids():
    regions, report = read_regions(PHL, id_field=None, name_field="name")
    assert len(regions) == 120 and regions["region_id"].is_unique
    assert report.repaired == ("33",) and "Self-intersection" in report.invalid_reasons[0]
    assert shapely.is_valid(regions.geometry.values).all()
    assert report.unnamed == ("1",)  # the feature without a name is named by its id
    with pytest.raises(InputError, match="invalid geometries"):
        read_regions(PHL, id_field=None, invalid="error")
    with pytest.raises(InputError, match="not unique"):
        read_regions(PHL, id_field="id")
    suffixed, rep = read_regions(PHL, id_field="id", duplicate_ids="suffix")
    assert suffixed["region_id"].is_unique and "PH.AP#2" in set(suffixed["region_id"])
    assert "PH.AP" in rep.duplicates
    dissolved, _ = read_regions(PHL, id_field="id", name_field="name", duplicate_ids="dissolve")
    assert dissolved["region_id"].is_unique and len(dissolved) < 120


# --------------------------------------------------------------------------- writers


def _table():
    t = _regions([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    t["soc_sum"] = [10.5, 20.25]
    t["eligible"] = [True, False]
    return t


def test_gpkg_layer_style_units_and_metadata(tmp_path):
    path = write_gpkg(
        _table(),
        tmp_path / "z.gpkg",
        layer="zonal_stats",
        metadata={"software": "soilmap"},
        units={"soc_sum": "t C"},
        style_column="soc_sum",
    )
    back = gpd.read_file(path, layer="zonal_stats")
    assert back["soc_sum"].tolist() == [10.5, 20.25]
    con = sqlite3.connect(path)
    cols = [r[1] for r in con.execute("PRAGMA table_info(layer_styles)")]
    assert cols == [
        "id",
        "f_table_catalog",
        "f_table_schema",
        "f_table_name",
        "f_geometry_column",
        "styleName",
        "styleQML",
        "styleSLD",
        "useAsDefault",
        "description",
        "owner",
        "ui",
        "update_time",
    ]
    name, geom, qml, default = con.execute(
        "SELECT f_table_name, f_geometry_column, styleQML, useAsDefault FROM layer_styles"
    ).fetchone()
    assert (name, geom, default) == ("zonal_stats", "geom", 1)
    assert 'type="graduatedSymbol"' in qml and 'attr="soc_sum"' in qml
    assert con.execute(
        "SELECT description FROM gpkg_data_columns WHERE column_name='soc_sum'"
    ).fetchone() == ("unit: t C",)
    import pyogrio

    meta = pyogrio.read_info(path, layer="zonal_stats")["layer_metadata"]
    assert meta["software"] == "soilmap" and "soc_sum=t C" in meta["units"]


def test_parquet_and_csv(tmp_path):
    import pyarrow.parquet as pq

    p = write_parquet(_table(), tmp_path / "z.parquet", units={"soc_sum": "t C"})
    back = gpd.read_parquet(p)
    assert back.crs.equals(_table().crs) and back["soc_sum"].tolist() == [10.5, 20.25]
    schema = pq.read_schema(p)
    assert schema.field("soc_sum").metadata[b"units"] == b"t C"
    assert json.loads(schema.metadata[b"soilmap"])["units"] == {"soc_sum": "t C"}
    _csv, csvt = write_csv(_table(), tmp_path / "z.csv")
    assert csvt.read_text().strip().split(",")[2] == '"Real"'
    with pytest.raises(InputError, match=r"\.gpkg, \.csv or \.parquet"):
        write_table(_table(), tmp_path / "z.xlsx")


def test_per_hectare_units():
    assert per_hectare_total_unit("t C ha-1") == "t C"
    assert per_hectare_total_unit("t C ha-1 yr-1") == "t C yr-1"
    assert per_hectare_total_unit("%") is None


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def cli():
    from soilmap.cli import zonal
    from soilmap.cli.main import cli

    if "zonal" not in cli.commands:  # registered by cli/main.py once integrated
        cli.add_command(zonal.command)
    return cli


def test_zonal_command_end_to_end(tmp_path, cli):
    grid = _grid((40, 60), res=1000.0)
    values = np.full(grid.shape, 50.0, "float32")
    values[:, 30:] = 10.0
    soc = write_raster(tmp_path / "soc_stock.tif", values, grid, nodata=-9999.0, units="t C ha-1")
    pct = write_raster(tmp_path / "clay.tif", values / 2, grid, units="%")
    landuse = write_raster(
        tmp_path / "landuse.tif", np.where(values > 20, 1, 2).astype("uint8"), grid
    )
    (tmp_path / "landuse.qml").write_text(
        "<qgis><pipe><rasterrenderer><colorPalette>"
        '<paletteEntry value="1" label="cropland"/><paletteEntry value="2" label="forest"/>'
        "</colorPalette></rasterrenderer></pipe></qgis>"
    )
    regions = _regions(
        [shapely.box(0, 0, 60e3, 40e3), shapely.box(-1e5, -1e5, -9e4, -9e4)], ids=["all", "off"]
    ).to_crs(4326)
    regions.to_file(tmp_path / "regions.gpkg")
    args = ["zonal", str(soc), str(pct), "--regions", str(tmp_path / "regions.gpkg")]
    args += ["--region-id", "region_id", "--landuse", str(landuse)]
    r = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "z.gpkg")])
    assert r.exit_code == 0, r.output
    t = gpd.read_file(tmp_path / "z.gpkg", layer="zonal_stats").set_index(["region_id", "landuse"])
    # The regions went EPSG:6933 -> 4326 -> 6933: PROJ's inverse authalic latitude
    # moves the box edges by ~1e-5 m, i.e. ~1e-9 of the total.
    assert t.loc[("all", "cropland"), "soc_stock_sum"] == pytest.approx(50 * 100 * 1200, rel=1e-7)
    assert t.loc[("all", "all"), "soc_stock_mean"] == pytest.approx(30.0, rel=1e-7)
    assert t.loc[("all", "forest"), "clay_max"] == 5.0 and "clay_sum" not in t.columns
    assert t.loc[("off", "all"), "soc_stock_area_ha"] == 0
    assert t.loc[("off", "all"), "covered_share"] == 0
    for out in ("z.csv", "z.parquet"):
        r = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / out)])
        assert r.exit_code == 0, r.output
    csv = pd.read_csv(tmp_path / "z.csv")
    assert (tmp_path / "z.csvt").exists() and len(csv) == len(t)
    assert gpd.read_parquet(tmp_path / "z.parquet")["soc_stock_sum"].sum() == pytest.approx(
        csv["soc_stock_sum"].sum()
    )
    r = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "z.csv")])
    assert r.exit_code == 3 and "OutputExistsError" in r.output
    assert not list(tmp_path.glob(".soilmap-staging-*"))


def test_zonal_command_errors(tmp_path, cli):
    grid = _grid((10, 10), res=1000.0)
    regions = tmp_path / "regions.gpkg"
    _regions([shapely.box(0, 0, 5e3, 5e3)]).to_file(regions)
    nounit = write_raster(tmp_path / "nounit.tif", np.ones(grid.shape, "float32"), grid)
    nocrs = write_raster(tmp_path / "nocrs.tif", np.ones((10, 10), "float32"), None, units="%")
    far = make_grid((10, 10), crs=EA, res=1000.0, origin=(5e6, 5e6))
    away = write_raster(tmp_path / "away.tif", np.ones((10, 10), "float32"), far, units="%")
    base = ["--regions", str(regions), "--out", str(tmp_path / "z.gpkg")]
    for raster, error in (
        (tmp_path / "missing.tif", "InputNotFoundError"),
        (nounit, "UnitsError"),
        (nocrs, "CRSError"),
        (away, "NoOverlapError"),
    ):
        r = CliRunner().invoke(cli, ["zonal", str(raster), *base])
        assert r.exit_code == 1 and error in r.output, r.output
    r = CliRunner().invoke(cli, ["zonal", str(nounit), *base[:2], "--out", str(tmp_path / "z.txt")])
    assert r.exit_code == 1 and ".gpkg, .csv or .parquet" in r.output
    assert not (tmp_path / "z.gpkg").exists()


def test_with_multiples_scales_a_layer_per_group():
    # 2 regions x 2 groups; hectares, then Σ soc x ha.
    values = np.array([[[10.0, 500.0], [5.0, 100.0]], [[2.0, 80.0], [0.0, 0.0]]])
    mins = np.array([[[40.0], [20.0]], [[40.0], [np.nan]]])
    sums = ZonalSums(values, ("crop", "forest"), ("soc",), mins=mins, maxs=mins + 10)
    out = sums.with_multiples({"seq": ("soc", np.array([0.004, 0.002]))})
    assert out.layers == ("soc", "seq")
    np.testing.assert_allclose(out.values[..., 2], [[2.0, 0.2], [0.32, 0.0]], rtol=1e-15)
    np.testing.assert_array_equal(out.values[..., :2], values)
    assert np.isnan(out.mins[..., 1]).all() and np.isnan(out.maxs[..., 1]).all()
    assert sums.with_multiples({}) is sums


# --------------------------------------------------------------------------- group index


def _index_layer(idx: np.ndarray, grid, chunks=None, groups=("cropland", "forest")):
    lay = make_layer(idx.astype("int8"), grid, units="1", chunks=chunks, name="group_index")
    lay.attrs["groups"] = list(groups)
    return lay


@pytest.mark.parametrize("chunks", [None, (2, 3), (3, 4)])
def test_group_index_route_by_hand(chunks):
    """0/1 land use given as an index: per-group sums of whole and half cells, overlaps."""
    grid = _grid()
    idx = np.zeros(grid.shape, "int8")  # cropland
    idx[:, 3:] = 1  # forest
    idx[1, 1] = -1  # no land use: counts only in the extent
    index = _index_layer(idx, grid, chunks)
    soc = make_layer(VALUES.astype("float32"), grid, chunks=chunks)
    a = shapely.box(0, 200, 400, 400)  # rows 0-1, cols 0-3
    b = shapely.box(250, 200, 600, 400)  # overlaps a on cols 3 and half of col 2
    regions = _regions([a, b])
    sums = zonal_sums(
        fractions_from_index(index),
        cell_area_ha(grid, chunks=chunks),
        {"soc": soc},
        regions,
        grid,
        group_index=index,
    ).compute()
    f = sums.frame(regions).set_index(["region_id", "landuse"])
    # a, cropland: cells (0,1) (0,2) (1,0) (1,2); (0,0) is nodata, (1,1) has no land use.
    assert f.loc[("r0", "cropland"), "area_ha"] == pytest.approx(4.0, rel=1e-12)
    assert f.loc[("r0", "cropland"), "soc_sum"] == pytest.approx(1 + 2 + 6 + 8, rel=1e-12)
    assert f.loc[("r0", "forest"), "soc_sum"] == pytest.approx(3 + 9, rel=1e-12)
    assert (f.loc[("r0", "forest"), "soc_min"], f.loc[("r0", "forest"), "soc_max"]) == (3.0, 9.0)
    # b, cropland: half of (0,2) and of (1,2); forest: cols 3-5 of rows 0-1, whole.
    assert f.loc[("r1", "cropland"), "area_ha"] == pytest.approx(1.0, rel=1e-12)
    assert f.loc[("r1", "cropland"), "soc_sum"] == pytest.approx(0.5 * (2 + 8), rel=1e-12)
    assert f.loc[("r1", "forest"), "soc_sum"] == pytest.approx(3 + 4 + 5 + 9 + 10 + 11)
    assert (f.loc[("r1", "cropland"), "soc_min"], f.loc[("r1", "cropland"), "soc_max"]) == (2, 8)
    assert sums.extent_ha == pytest.approx([8.0, 7.0], rel=1e-12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_case(), st.booleans())
def test_group_index_route_equals_fraction_planes(case, per_group):
    """The index kernel gives the statistics of the 0/1 fraction planes, overlaps and all."""
    h, w, seed, n, chunks = case
    rng = np.random.default_rng(seed)
    grid = make_grid((h, w), crs="EPSG:4326", res=0.01, origin=(10.0, 50.0))
    groups = ("cropland", "grassland", "forest")
    idx = rng.integers(-1, len(groups), (h, w))
    index = _index_layer(idx, grid, chunks, groups)
    values = rng.gamma(2.0, 20.0, (h, w))
    values[rng.random((h, w)) < 0.2] = np.nan
    layers = {"soc": make_layer(values.astype("float32"), grid, chunks=chunks)}
    if per_group:
        by_group = rng.gamma(2.0, 1.0, (len(groups), h, w)).astype("float32")
        by_group[rng.random(by_group.shape) < 0.2] = np.nan
        layers["rate"] = xr.DataArray(
            by_group, dims=("group", "y", "x"), coords={"group": list(groups)}
        ).chunk({"y": chunks[0], "x": chunks[1]})
    box = shapely.box(*grid.bounds)
    pts = shapely.multipoints(rng.uniform(grid.bounds[:2], grid.bounds[2:], (n, 2)))
    tiles = list(
        shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=box)), box)
    )
    # Overlapping regions on top of the tiling: discs around random points.
    centres = rng.uniform(grid.bounds[:2], grid.bounds[2:], (3, 2))
    discs = [shapely.Point(c).buffer(rng.uniform(0.005, 0.05)) for c in centres]
    regions = _regions(tiles + discs, crs="EPSG:4326")
    area = cell_area_ha(grid, chunks=chunks)
    frac = fractions_from_index(index)
    planes = zonal_sums(frac, area, layers, regions, grid).compute()
    by_index = zonal_sums(frac, area, layers, regions, grid, group_index=index).compute()
    np.testing.assert_allclose(by_index.values, planes.values, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(by_index.extent_ha, planes.extent_ha, rtol=1e-12)
    np.testing.assert_array_equal(by_index.mins, planes.mins)
    np.testing.assert_array_equal(by_index.maxs, planes.maxs)


def test_group_index_must_list_the_fraction_groups():
    grid = _grid()
    index = _index_layer(np.zeros(grid.shape), grid, groups=("cropland", "forest"))
    other = _index_layer(np.zeros(grid.shape), grid, groups=("forest", "cropland"))
    soc = make_layer(VALUES.astype("float32"), grid)
    with pytest.raises(ValueError, match="pass the index the fractions were made from"):
        zonal_sums(
            fractions_from_index(index),
            cell_area_ha(grid),
            {"soc": soc},
            _regions([shapely.box(0, 0, 600, 400)]),
            grid,
            group_index=other,
        )
