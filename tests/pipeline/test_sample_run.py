"""The bundled sample run, checked against an independent plain rasterio/numpy computation."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import rasterio
import shapely

# ESA CCI LC codes -> eligible group, transcribed from the CCI-LC legend / IPCC mapping for
# this test (issue 15: 20 irrigated/post-flooding is paddy, shrubland 120-122 is IPCC
# Grassland, flooded forest 160/170 is wetland and not eligible).
CCI = {
    "cropland": [10, 11, 12, 30, 40],
    "paddy": [20],
    "grassland": [110, 120, 121, 122, 130],
    "forest": [50, 60, 61, 62, 70, 71, 72, 80, 81, 82, 90, 100],
}
RATE, START, HORIZONS = 0.004, 2020, (2030, 2050)


def _read(path):
    with rasterio.open(path) as src:
        return src.read(1, masked=True).astype("float64").filled(np.nan), src.transform, src.crs


@pytest.fixture(scope="module")
def independent(sample_dir):
    """Totals per group for the Southern Tigray zone, computed without soilmap."""
    soc = [_read(sample_dir / f"ORCDRC_sl{i}.tif")[0] for i in range(1, 5)]
    bd = [_read(sample_dir / f"BLDFIE_sl{i}.tif")[0] for i in range(1, 5)]
    lc, transform, crs = _read(sample_dir / "LC_250m_ESACCI2010.tif")
    dens = [s * b for s, b in zip(soc, bd, strict=True)]  # g C per m3 at 0, 5, 15, 30 cm
    # trapezoid over 0-5-15-30 cm, thickness in m, g/m2 -> t/ha is x 0.01
    stock = 0.01 * (
        0.05 * (dens[0] + dens[1]) / 2
        + 0.10 * (dens[1] + dens[2]) / 2
        + 0.15 * (dens[2] + dens[3]) / 2
    )
    h, w = stock.shape
    rows, cols = np.mgrid[0:h, 0:w]
    # ground area of each cell: geodesic area of its corner polygon (edges densified)
    to_ll = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    geod = pyproj.Geod(ellps="WGS84")
    t = np.linspace(0, 1, 5)[:-1]
    area = np.empty((h, w))
    for r in range(h):
        for c in range(w):
            xs = np.concatenate([c + t, np.full(4, c + 1.0), c + 1 - t, np.full(4, c * 1.0)])
            ys = np.concatenate([np.full(4, r * 1.0), r + t, np.full(4, r + 1.0), r + 1 - t])
            X, Y = transform @ (xs, ys)
            lon, lat = to_ll.transform(X, Y)
            area[r, c] = abs(geod.polygon_area_perimeter(lon, lat)[0]) / 1e4
    # exact share of each cell inside the zone polygon (planar, in the raster's CRS)
    zone = gpd.read_file(sample_dir / "tigray_regions.gpkg").set_index("region_id")
    poly = zone.to_crs(crs).geometry["ET0104"]
    x0, y0 = transform @ (cols, rows)
    x1, y1 = transform @ (cols + 1, rows + 1)
    boxes = shapely.box(x0, y1, x1, y0)
    shapely.prepare(poly)
    cov = np.where(shapely.contains_properly(poly, boxes), 1.0, 0.0)
    border = shapely.intersects(poly, boxes) & (cov == 0)
    cov[border] = shapely.area(shapely.intersection(boxes[border], poly)) / shapely.area(
        boxes[border]
    )
    valid = np.isfinite(stock)
    out = {}
    for group, codes in CCI.items():
        m = valid & np.isin(lc, codes)
        wgt = cov * area * m
        out[group] = {"area_ha": wgt.sum(), "soc_stock_t": np.nansum(wgt * stock)}
    out["_zone_all_area"] = (cov * area * valid).sum()
    out["_raster_total_stock_t"] = np.nansum(area * stock)
    return out


def test_totals_match_independent_computation(sample_run, independent):
    t = sample_run.zonal
    zone = t[t["region_id"] == "ET0104"].set_index("landuse")
    for group in CCI:
        ref = independent[group]
        row = zone.loc[group]
        assert row["area_ha"] == pytest.approx(ref["area_ha"], rel=1e-3)
        assert row["soc_stock_t"] == pytest.approx(ref["soc_stock_t"], rel=1e-3)
        assert row["sequestration_t_per_yr"] == pytest.approx(RATE * ref["soc_stock_t"], rel=1e-3)
        assert row["co2e_t_per_yr"] == pytest.approx(RATE * ref["soc_stock_t"] * 44 / 12, rel=1e-3)
        for y in HORIZONS:
            assert row[f"gain_{y}_t"] == pytest.approx(
                RATE * (y - START) * ref["soc_stock_t"], rel=1e-3
            )
    assert zone.loc["all", "area_ha"] == pytest.approx(independent["_zone_all_area"], rel=1e-3)


def test_totals_agree_far_below_tolerance(sample_run, independent):
    # Not a looser duplicate: exact coverage and true areas should agree to ~1e-6.
    zone = sample_run.zonal.set_index(["region_id", "landuse"])
    for group in CCI:
        assert zone.loc[("ET0104", group), "soc_stock_t"] == pytest.approx(
            independent[group]["soc_stock_t"], rel=2e-5
        )


def test_partly_covered_region_is_reported(sample_run, independent):
    t = sample_run.zonal.set_index(["region_id", "landuse"])
    eth = t.loc[("ETH", "all")]
    # The raster lies inside Ethiopia: Ethiopia's SOC total is the whole raster's total.
    assert eth["soc_stock_t"] == pytest.approx(independent["_raster_total_stock_t"], rel=1e-3)
    assert 0 < eth["covered_share"] < 0.01
    assert t.loc[("ET0104", "all"), "covered_share"] == pytest.approx(1.0, abs=0.01)


def test_excluded_land_gains_nothing(sample_run):
    t = sample_run.zonal
    ineligible = t[(t["landuse"] != "all") & ~t["eligible"]]
    assert len(ineligible) > 0
    assert (ineligible["sequestration_t_per_yr"] == 0).all()


def test_raster_outputs_match_table(sample_run):
    out = sample_run.out_dir
    with (
        rasterio.open(out / "soc_stock.tif") as s,
        rasterio.open(out / "sequestration_rate.tif") as q,
        rasterio.open(out / "landuse.tif") as lu,
    ):
        stock = s.read(1, masked=True)
        seq = q.read(1, masked=True)
        codes = lu.read(1)
    crop = (codes == 1) & ~stock.mask
    np.testing.assert_allclose(seq[crop], RATE * stock[crop], rtol=1e-6)
    # settlements/bare/water (excluded, code 0) gain nothing
    assert np.all(seq[(codes == 0) & ~stock.mask] == 0)


def test_outputs_are_valid_cogs_with_units(sample_run):
    out = sample_run.out_dir
    expected = {
        "soc_stock": "t C ha-1",
        "sequestration_rate": "t C ha-1 yr-1",
        "co2e_rate": "t CO2e ha-1 yr-1",
        "gain_2030": "t C ha-1",
        "gain_2050": "t C ha-1",
        "landuse": "1",
    }
    for stem, units in expected.items():
        path = out / f"{stem}.tif"
        with rasterio.open(path) as src:
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG", stem
            assert src.compression is not None and src.profile["tiled"]
            assert src.block_shapes[0] == (512, 512)
            assert src.nodata is not None
            assert src.units[0] == units
            assert src.descriptions[0]
            assert len(src.overviews(1)) >= 1
            assert src.tags()["units"] == units
        root = ET.fromstring((out / f"{stem}.qml").read_text())
        assert root.tag == "qgis"
        renderer = root.find(".//rasterrenderer")
        assert renderer.get("type") == (
            "paletted" if stem == "landuse" else "singlebandpseudocolor"
        )
    assert not list(out.glob("*.aux.xml"))
    assert not list(out.glob(".soilmap-staging-*"))


def test_tables_and_manifest(sample_run):
    out = sample_run.out_dir
    gpkg = gpd.read_file(out / "zonal_stats.gpkg", layer="zonal_stats")
    cols = [
        "region_id",
        "region_name",
        "landuse",
        "area_ha",
        "soc_stock_t",
        "sequestration_t_per_yr",
        "co2e_t_per_yr",
        "gain_2030_t",
        "gain_2050_t",
    ]
    assert list(gpkg.columns[: len(cols)]) == cols
    import pandas as pd

    csv = pd.read_csv(out / "zonal_stats.csv")
    assert list(csv.columns[: len(cols)]) == cols
    types = (out / "zonal_stats.csvt").read_text().strip().split(",")
    assert len(types) == len(csv.columns) and types[3] == '"Real"'
    man = json.loads((out / "run.json").read_text())
    assert man["parameters"]["scenarios"][0]["rate"] == RATE
    assert {i["path"].rsplit("/", 1)[-1] for i in man["inputs"]} >= {
        "ORCDRC_sl1.tif",
        "tigray_regions.gpkg",
    }
    assert all(len(i["sha256"]) == 64 for i in man["inputs"])
    assert man["software"]["gdal"]
    assert man["timings_s"]["total"] > 0
    assert any("coarse fragments" in a for a in man["assumptions"])
    assert man["outputs"]["zonal_stats"]["columns_units"]["soc_stock_t"] == "t C (0-30 cm)"
