"""``soilmap run`` without regions (one ``"all"`` region: the run's extent) and ``--bbox``,
against totals computed with plain rasterio and numpy.

Cell areas by hand: on a lon/lat grid, the exact area of an ellipsoidal cell between
two parallels (the authalic-latitude formula, checked against pyproj's geodesic area
of the densified cell); on the UTM grid of the Tigray sample, pyproj's geodesic area
of each cell's four corners.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
from click.testing import CliRunner
from realdata import DATA

from soilmap.cli.main import cli

pytestmark = pytest.mark.realdata

WHRC = DATA / "whrc2017" / "SOCS_0_30cm_year_2010AD_10km.tif"
PRESETS = Path(__file__).resolve().parents[2] / "soilmap" / "landuse" / "presets"
A, F = 6378137.0, 1 / 298.257223563  # WGS84
E2 = F * (2 - F)


def _q(lat_deg: np.ndarray) -> np.ndarray:
    """Authalic q(phi) of the WGS84 ellipsoid: band area = pi a^2 (1 - e^2) q / pi ..."""
    e = np.sqrt(E2)
    s = np.sin(np.radians(lat_deg))
    return s / (1 - E2 * s**2) + np.log((1 + e * s) / (1 - e * s)) / (2 * e)


def _lonlat_cell_areas_ha(src) -> np.ndarray:
    """Area (ha) of each row's cells: a^2 (1 - e^2) / 2 * dlon * (q(top) - q(bottom))."""
    t = src.transform
    tops = t.f + t.e * np.arange(src.height)
    dlon = np.radians(abs(t.a))
    area = A**2 * (1 - E2) / 2 * dlon * np.abs(_q(tops) - _q(tops + t.e)) / 1e4
    return np.repeat(area[:, None], src.width, axis=1)


def _utm_cell_areas_ha(src) -> np.ndarray:
    """Geodesic area (ha) of every cell of a projected grid, from its four corners."""
    geod = pyproj.Geod(ellps="WGS84")
    to = pyproj.Transformer.from_crs(src.crs, 4326, always_xy=True)
    h, w = src.shape
    cols, rows = np.meshgrid(np.arange(w + 1), np.arange(h + 1))
    xs, ys = src.transform @ (cols, rows)
    lon, lat = to.transform(xs, ys)
    out = np.empty((h, w))
    for r in range(h):
        for c in range(w):
            lo = [lon[r, c], lon[r, c + 1], lon[r + 1, c + 1], lon[r + 1, c]]
            la = [lat[r, c], lat[r, c + 1], lat[r + 1, c + 1], lat[r + 1, c]]
            out[r, c] = abs(geod.polygon_area_perimeter(lo, la)[0]) / 1e4
    return out


def test_cell_area_formula_matches_pyproj_geodesic_area():
    geod = pyproj.Geod(ellps="WGS84")
    lat0, lat1, dlon = 8.0, 8.0 - 1 / 12, 1 / 12
    lo = np.r_[np.linspace(0, dlon, 200), np.linspace(dlon, 0, 200)]
    la = np.r_[np.full(200, lat0), np.full(200, lat1)]
    geodesic = abs(geod.polygon_area_perimeter(lo, la)[0]) / 1e4
    exact = A**2 * (1 - E2) / 2 * np.radians(dlon) * (_q(np.array(lat0)) - _q(np.array(lat1)))
    assert exact / 1e4 == pytest.approx(geodesic, rel=1e-8)


def _whrc_run(tmp_path: Path, *extra: str) -> tuple[pd.DataFrame, dict, Path]:
    out = tmp_path / "out"
    args = ["run", "--soc", str(WHRC), "--soc-units", "t C ha-1", "--soc-depth", "0-30"]
    r = CliRunner().invoke(cli, [*args, "--horizon", "2030", "--out", str(out), *extra])
    assert r.exit_code == 0, r.output
    table = pd.read_parquet(out / "zonal_stats.parquet")
    return table, json.loads((out / "run.json").read_text()), out


def test_run_without_regions_equals_numpy_totals(tmp_path):
    """WHRC 10 km SOC stock around Ghana (Int16, nodata -32767, the ocean to the south)."""
    table, manifest, out = _whrc_run(tmp_path)
    with rasterio.open(WHRC) as src:
        raw = src.read(1)
        valid = raw != src.nodata
        area = _lonlat_cell_areas_ha(src)
    stock = raw.astype("float64")
    assert 0 < (~valid).sum() < valid.sum()  # ocean cells are nodata, not zeros
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["region_id"], row["landuse"]) == ("all", "all_land")
    assert row["area_ha"] == pytest.approx(area[valid].sum(), rel=1e-9)
    soc_t = (stock * area)[valid].sum()
    assert row["soc_stock_t"] == pytest.approx(soc_t, rel=1e-9)
    assert row["sequestration_t_per_yr"] == pytest.approx(0.004 * soc_t, rel=1e-9)
    assert row["co2e_t_per_yr"] == pytest.approx(0.004 * soc_t * 44 / 12, rel=1e-9)
    assert row["gain_2030_t"] == pytest.approx(10 * 0.004 * soc_t, rel=1e-9)
    # The "region" is the raster: its area is that of every cell, data or not.
    assert row["region_area_ha"] == pytest.approx(area.sum(), rel=1e-9)
    assert row["covered_share"] == pytest.approx(area[valid].sum() / area.sum(), rel=1e-9)
    assert manifest["extent"]["mode"] == "raster"
    with rasterio.open(out / "soc_stock.tif") as got:
        assert got.shape == raw.shape
        m = got.read(1, masked=True)
        np.testing.assert_array_equal(m.mask, ~valid)
        np.testing.assert_array_equal(m.data[valid], raw[valid])
    with rasterio.open(out / "sequestration_rate.tif") as got:
        np.testing.assert_allclose(got.read(1)[valid], 0.004 * stock[valid], rtol=1e-6)


def test_bbox_in_lonlat_covers_its_cells_and_only_them(tmp_path):
    # Lon -1.23 .. 0.61, lat 6.02 .. 8.4: snapped outward to whole 1/12-degree cells.
    w, s, e, n = -1.23, 6.02, 0.61, 8.4
    table, manifest, out = _whrc_run(
        tmp_path, "--bbox", str(w), str(s), str(e), str(n), "--bbox-crs", "EPSG:4326"
    )
    with rasterio.open(WHRC) as src:
        t = src.transform
        c0, c1 = int(np.floor((w - t.c) / t.a)), int(np.ceil((e - t.c) / t.a))
        r0, r1 = int(np.floor((t.f - n) / -t.e)), int(np.ceil((t.f - s) / -t.e))
        raw = src.read(1)[r0:r1, c0:c1]
        valid = raw != src.nodata
        area = _lonlat_cell_areas_ha(src)[r0:r1, c0:c1]
    assert manifest["extent"]["window"] == {"row0": r0, "row1": r1, "col0": c0, "col1": c1}
    assert (r1 - r0, c1 - c0) == (29, 23)
    with rasterio.open(out / "soc_stock.tif") as got:
        assert got.shape == raw.shape
        assert got.bounds.left == pytest.approx(t.c + c0 * t.a)
        assert got.bounds.top == pytest.approx(t.f + r0 * t.e)
        np.testing.assert_array_equal(got.read(1, masked=True).mask, ~valid)
    row = table.iloc[0]
    assert row["soc_stock_t"] == pytest.approx((raw * area)[valid].sum(), rel=1e-9)
    assert row["area_ha"] == pytest.approx(area[valid].sum(), rel=1e-9)


def test_sample_run_without_regions_one_row_per_land_use_group(sample_copy, tmp_path):
    """The Tigray sample without its regions: per-group totals over the whole clip
    from the SoilGrids layers (trapezoid rule by hand) and the CCI land cover."""
    sample_dir = sample_copy
    text = (sample_dir / "tigray.toml").read_text()
    head, rest = text.split("[regions]")
    cfg = sample_dir / "noregions.toml"
    cfg.write_text(head + "[scenario]" + rest.split("[scenario]")[1])
    r = CliRunner().invoke(cli, ["run", str(cfg), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    table = pd.read_parquet(tmp_path / "o" / "zonal_stats.parquet").set_index("landuse")
    assert set(table["region_id"]) == {"all"}
    # By hand: 0-30 cm from values at 0, 5, 15, 30 cm (trapezoid weights in m), g C m-2
    # to t C ha-1 (x 0.01); NaN where a layer has no data.
    weights = [0.025, 0.075, 0.125, 0.075]
    stock = 0.0
    for i, wt in enumerate(weights, start=1):
        with rasterio.open(sample_dir / f"ORCDRC_sl{i}.tif") as oc:
            c = oc.read(1, masked=True).astype("float64").filled(np.nan)
        with rasterio.open(sample_dir / f"BLDFIE_sl{i}.tif") as bd:
            b = bd.read(1, masked=True).astype("float64").filled(np.nan)
        stock = stock + wt * c * b * 0.01
    with rasterio.open(sample_dir / "LC_250m_ESACCI2010.tif") as lc:
        codes = lc.read(1)
        area = _utm_cell_areas_ha(lc)
    preset = pd.read_csv(PRESETS / "esa_cci_lc.csv", comment="#")
    group = dict(zip(preset["code"], preset["group"], strict=True))
    groups = np.vectorize(group.get)(codes)
    has = np.isfinite(stock)
    eligible = {"cropland", "grassland", "pasture", "paddy", "forest"}
    want_all = 0.0
    for g in sorted(set(groups[has].ravel()) - {"nodata"}):
        cells = has & (groups == g)
        got = table.loc[g]
        assert got["area_ha"] == pytest.approx(area[cells].sum(), rel=1e-7), g
        soc_t = (stock * area)[cells].sum()
        assert got["soc_stock_t"] == pytest.approx(soc_t, rel=1e-6), g
        rate = 0.004 if g in eligible else 0.0
        assert got["sequestration_t_per_yr"] == pytest.approx(rate * soc_t, rel=1e-6), g
        want_all += rate * soc_t
    assert table.loc["all", "sequestration_t_per_yr"] == pytest.approx(want_all, rel=1e-6)
    assert table.loc["cropland", "area_ha"] > 0.5 * table.loc["all", "area_ha"]
