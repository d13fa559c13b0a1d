"""``soilmap sample`` on the real Tigray legacy profiles, against plain rasterio reads.

The 125 profile horizons (30 locations) of ISRIC's Tigray tutorial (AfSPDB points, a
shapefile without its .prj, lon/lat WGS84) are sampled on the clip's SoilGrids 2017
rasters and ESA CCI land cover (EPSG:32637, 250 m).  The reference value of each
point is a 1 × 1 window read of the cell ``rasterio``'s ``index`` gives for the
point's UTM coordinates (pyproj), nodata and bounds checked by hand; the land-use
group comes from the preset's CSV read with pandas.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.windows import Window
from realdata import need_data

from soilmap.cli.main import cli
from soilmap.datasets import fetch
from soilmap.errors import CRSError, InputError, InputNotFoundError
from soilmap.landuse.codes import R_NA_FLOAT32
from soilmap.zonal.points import read_points, sample_points, sample_points_to_file

pytestmark = pytest.mark.realdata

PRESETS = Path(__file__).resolve().parents[2] / "soilmap" / "landuse" / "presets"


@pytest.fixture(scope="module")
def tigray() -> dict[str, Path]:
    return need_data(lambda: fetch("tigray"))


@pytest.fixture(scope="module")
def profiles(tigray) -> Path:
    return tigray["eth_profs_tigray.shp"]


def _lonlat(shp: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SAMPLEID, lon, lat of every horizon, read with pyogrio (not soilmap)."""
    df = pyogrio.read_dataframe(shp)
    return df["SAMPLEID"].to_numpy(), df.geometry.x.to_numpy(), df.geometry.y.to_numpy()


def _reference(raster: Path, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, list]:
    """Value and status of each point: plain rasterio, one 1 x 1 window read per point."""
    values, status = np.full(lon.size, np.nan), []
    with rasterio.open(raster) as src:
        to = pyproj.Transformer.from_crs("EPSG:4326", src.crs, always_xy=True)
        xs, ys = to.transform(lon, lat)
        for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
            row, col = src.index(x, y, op=math.floor)
            if not (0 <= row < src.height and 0 <= col < src.width):
                status.append("outside")
                continue
            v = float(src.read(1, window=Window(col, row, 1, 1))[0, 0])
            nodata = src.nodata
            if not math.isfinite(v) or (nodata is not None and v == nodata):
                status.append("nodata")
                continue
            values[i] = v
            status.append("ok")
    return values, status


def _cells(raster: Path, lon, lat) -> tuple[np.ndarray, np.ndarray]:
    with rasterio.open(raster) as src:
        xs, ys = pyproj.Transformer.from_crs(4326, src.crs, always_xy=True).transform(lon, lat)
        rc = [src.index(x, y, op=math.floor) for x, y in zip(xs, ys, strict=True)]
    return np.array([r for r, _ in rc]), np.array([c for _, c in rc])


def _broken_copy(src_path: Path, dst: Path, rows: int, holes, dtype=None, nodata=None) -> Path:
    """The first ``rows`` rows of a real raster (a window: same grid origin), with
    nodata written at the cells ``holes`` (row, col)."""
    with rasterio.open(src_path) as src:
        data = src.read(1, window=Window(0, 0, src.width, rows))
        profile = src.profile
    dtype = dtype or data.dtype
    nodata = nodata if nodata is not None else src.nodata
    data = data.astype(dtype)
    for r, c in holes:
        data[r, c] = nodata
    profile.update(height=rows, dtype=dtype, nodata=nodata)
    with rasterio.open(dst, "w", **profile) as out:
        out.write(data, 1)
    return dst


# --------------------------------------------------------------------------- Python API


def test_profiles_equal_plain_rasterio_window_reads(tigray, profiles):
    ids, lon, lat = _lonlat(profiles)
    pts = read_points(profiles, id_field="SAMPLEID", crs="EPSG:4326")
    assert list(pts["point_id"]) == list(ids) and len(pts) == 125
    rasters = [tigray["ORCDRC_sl1.tif"], tigray["BLDFIE_sl1.tif"], tigray["ORCDRC_sl4.tif"]]
    table, units = sample_points(rasters, pts)
    for path in rasters:
        ref, status = _reference(path, lon, lat)
        assert status == ["ok"] * 125  # every profile lies inside the clip, on data
        np.testing.assert_array_equal(table[path.stem].to_numpy(), ref, err_msg=path.stem)
        assert list(table[f"{path.stem}_status"]) == status
    # By hand (gdallocationinfo -wgs84 ORCDRC_sl1.tif 39.528 12.7475): 65 g/kg and
    # 1255 kg/m3 under the first profile, ET_TENM-MEK-P1 (its 4 horizons alike).
    first = table.set_index("point_id").loc["ET_TENM-MEK-P1_1"]
    assert (first["ORCDRC_sl1"], first["BLDFIE_sl1"]) == (65.0, 1255.0)
    assert units == {"ORCDRC_sl1": "unknown", "BLDFIE_sl1": "unknown", "ORCDRC_sl4": "unknown"}
    # The points' own fields travel with them (the profile's measured ORCDRC).
    np.testing.assert_array_equal(
        table["ORCDRC"].to_numpy(), pyogrio.read_dataframe(profiles)["ORCDRC"].to_numpy()
    )


def test_outside_and_nodata_points_are_reported_not_dropped(tigray, profiles, tmp_path):
    _, lon, lat = _lonlat(profiles)
    src = tigray["ORCDRC_sl1.tif"]
    rows, cols = _cells(src, lon, lat)
    cut = int(np.median(rows))  # the northern half of the profiles stays inside
    inside = sorted({(r, c) for r, c in zip(rows, cols, strict=True) if r < cut})
    holes = inside[:3]  # three profile locations on nodata
    clip = _broken_copy(src, tmp_path / "orc_north.tif", cut, holes)
    pts = read_points(profiles, id_field="SAMPLEID", crs="EPSG:4326")
    table, _ = sample_points([clip], pts)
    ref, status = _reference(clip, lon, lat)
    assert list(table["orc_north_status"]) == status
    np.testing.assert_array_equal(table["orc_north"].to_numpy(), ref)
    at_hole = np.array([(r, c) in holes for r, c in zip(rows, cols, strict=True)])
    expected = np.where(rows >= cut, "outside", np.where(at_hole, "nodata", "ok"))
    assert list(table["orc_north_status"]) == list(expected)
    counts = table["orc_north_status"].value_counts().to_dict()
    assert counts["outside"] == int((rows >= cut).sum()) > 0
    assert counts["nodata"] == int(at_hole.sum()) >= 3 and counts["ok"] > 0
    assert table.loc[table["orc_north_status"] != "ok", "orc_north"].isna().all()
    assert len(table) == 125


def test_points_all_outside_a_raster_are_said_so(profiles, caplog):
    """Tigray profiles on the WHRC clip around Ghana: every point outside, and a warning."""
    from realdata import DATA

    whrc = DATA / "whrc2017" / "SOCS_0_30cm_year_2010AD_10km.tif"
    pts = read_points(profiles, crs="EPSG:4326")
    with caplog.at_level("WARNING", logger="soilmap.zonal"):
        table, _ = sample_points([whrc], pts)
    assert (table["SOCS_0_30cm_year_2010AD_10km_status"] == "outside").all()
    assert table["SOCS_0_30cm_year_2010AD_10km"].isna().all()
    assert "all 125 points are outside" in caplog.text and "check the points' CRS" in caplog.text


# --------------------------------------------------------------------------- CLI


def _cci_groups() -> dict[int, str]:
    t = pd.read_csv(PRESETS / "esa_cci_lc.csv", comment="#")
    return dict(zip(t["code"].astype(int), t["group"], strict=True))


def test_cli_with_landcover_group_r_float_nodata_and_outside(tigray, profiles, tmp_path):
    """A land cover as R writes it (float32, NA -3.4e38), cut to the north: each point's
    class code and group, nodata and outside points reported as such."""
    ids, lon, lat = _lonlat(profiles)
    lc_src = tigray["LC_250m_ESACCI2010.tif"]
    rows, cols = _cells(lc_src, lon, lat)
    cut = int(np.percentile(rows, 70))
    holes = sorted({(r, c) for r, c in zip(rows, cols, strict=True) if r < cut})[-2:]
    lc = _broken_copy(lc_src, tmp_path / "lc_r.tif", cut, holes, "float32", R_NA_FLOAT32)
    soc = tigray["ORCDRC_sl1.tif"]
    out = tmp_path / "samples.csv"
    args = ["sample", str(soc), "--points", str(profiles), "--points-crs", "EPSG:4326"]
    args += ["--id", "SAMPLEID", "--landcover", str(lc), "--landcover-scheme", "esa_cci_lc"]
    r = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "wrote 125 points" in r.output and "ORCDRC_sl1: 125 ok" in r.output
    got = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert (tmp_path / "samples.csvt").exists()
    assert list(got["point_id"]) == list(ids)
    ref, _ = _reference(soc, lon, lat)
    np.testing.assert_array_equal(got["ORCDRC_sl1"].to_numpy(), ref)
    codes, lc_status = _reference(lc, lon, lat)
    assert list(got["landcover_status"]) == lc_status
    groups = _cci_groups()
    want = [groups[int(c)] if s == "ok" else None for c, s in zip(codes, lc_status, strict=True)]
    assert [g if isinstance(g, str) else None for g in got["landuse"]] == want
    np.testing.assert_array_equal(got["landcover_code"].to_numpy(float), codes)
    assert {"ok", "nodata", "outside"} == set(lc_status)
    assert (got["landcover_status"] == "nodata").sum() == sum(
        (r, c) in holes for r, c in zip(rows, cols, strict=True)
    )
    # Real codes at the profiles: all cropland classes of the CCI legend (10-40).
    assert set(got.loc[got["landcover_status"] == "ok", "landuse"]) == {"cropland"}
    # The same table as a GeoPackage (layer "samples", lon/lat points) and Parquet.
    gpkg = tmp_path / "samples.gpkg"
    r = CliRunner().invoke(cli, [*args, "--out", str(gpkg)])
    assert r.exit_code == 0, r.output
    g = gpd.read_file(gpkg, layer="samples")
    assert g.crs.to_epsg() == 4326
    np.testing.assert_allclose(g.geometry.x, lon, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(g["ORCDRC_sl1"].to_numpy(), ref)
    pq = tmp_path / "samples.parquet"
    assert CliRunner().invoke(cli, [*args, "--out", str(pq)]).exit_code == 0
    np.testing.assert_array_equal(pd.read_parquet(pq)["ORCDRC_sl1"].to_numpy(), ref)
    # An existing table is not replaced without --overwrite (exit code 3: output).
    r = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert r.exit_code == 3 and "--overwrite" in r.output


def test_points_from_a_csv_of_coordinates(tigray, profiles, tmp_path):
    ids, lon, lat = _lonlat(profiles)
    csv = tmp_path / "profiles.csv"
    pd.DataFrame({"SAMPLEID": ids, "Longitude": lon, "Latitude": lat}).to_csv(csv, index=False)
    soc = tigray["ORCDRC_sl1.tif"]
    with pytest.raises(CRSError, match="look like longitude/latitude"):
        read_points(csv, id_field="SAMPLEID")
    table = sample_points_to_file(
        [soc], csv, tmp_path / "s.gpkg", id_field="SAMPLEID", points_crs="EPSG:4326"
    )
    np.testing.assert_array_equal(table["ORCDRC_sl1"].to_numpy(), _reference(soc, lon, lat)[0])


# --------------------------------------------------------------------------- errors


def _cli_error(args: list[str]) -> tuple[int, str]:
    r = CliRunner().invoke(cli, ["sample", *args])
    assert "Traceback" not in r.output
    return r.exit_code, r.output


def test_no_crs_degrees_are_named_with_the_fix(tigray, profiles, tmp_path):
    soc = str(tigray["ORCDRC_sl1.tif"])
    code, out = _cli_error([soc, "--points", str(profiles), "--out", str(tmp_path / "x.csv")])
    assert code == 1 and "CRSError" in out and "eth_profs_tigray.shp" in out
    assert "look like longitude/latitude in degrees" in out and "--points-crs EPSG:4326" in out
    assert "x 39.4758 … 39.683, y 12.2775 … 12.9286" in out
    assert not (tmp_path / "x.csv").exists()


def test_crs_that_cannot_hold_the_coordinates_is_refused(tigray, profiles, tmp_path):
    # UTM given for degrees: every point would land in the Gulf of Guinea.
    with pytest.raises(CRSError, match=r"EPSG:32637, given with --points-crs\) is projected"):
        read_points(profiles, crs="EPSG:32637")
    with pytest.raises(CRSError, match="is not a coordinate reference system"):
        read_points(profiles, crs="EPSG:9999999")
    # A file stating lon/lat whose coordinates are UTM metres (a wrong .prj).
    pts = gpd.read_file(profiles).set_crs(4326)
    pts.to_crs(32637).set_crs(4326, allow_override=True).to_file(tmp_path / "metres.gpkg")
    with pytest.raises(CRSError, match="are not longitude/latitude; they are probably metres"):
        read_points(tmp_path / "metres.gpkg")
    # A file with its own CRS and a different --points-crs: never silently one of them.
    pts.to_file(tmp_path / "lonlat.gpkg")
    with pytest.raises(CRSError, match=r"states its own CRS \(EPSG:4326\)"):
        read_points(tmp_path / "lonlat.gpkg", crs="EPSG:32637")
    assert len(read_points(tmp_path / "lonlat.gpkg", crs="EPSG:4326")) == 125  # the same CRS
    code, out = _cli_error(
        [
            str(tigray["ORCDRC_sl1.tif"]),
            "--points",
            str(profiles),
            "--points-crs",
            "EPSG:32637",
            "--out",
            str(tmp_path / "x.csv"),
        ]
    )
    assert code == 1 and "CRSError" in out and "--points-crs EPSG:4326" in out


def test_bad_points_inputs_are_typed_errors(tigray, profiles, tmp_path):
    soc = str(tigray["ORCDRC_sl1.tif"])
    with pytest.raises(InputError, match="has no field 'PROFILE_ID' \\(--id\\).*SAMPLEID"):
        read_points(profiles, id_field="PROFILE_ID", crs="EPSG:4326")
    with pytest.raises(InputNotFoundError, match="nope.gpkg' does not exist"):
        read_points(tmp_path / "nope.gpkg")
    (tmp_path / "broken.gpkg").write_bytes(b"not a GeoPackage\x00" * 64)
    with pytest.raises(InputError, match="broken.gpkg' cannot be read"):
        read_points(tmp_path / "broken.gpkg")
    # The zone polygon is not points.
    zone = tmp_path / "zone.shp"
    for f in tigray.values():
        if f.name.startswith("eth_tigray."):
            shutil.copy(f, zone.with_suffix(f.suffix))
    with pytest.raises(InputError, match="holds Polygon geometries; sampling needs points"):
        read_points(zone, crs="EPSG:4326")
    bad_id = ["--points", str(profiles), "--points-crs", "EPSG:4326", "--id", "PROFILE_ID"]
    code, out = _cli_error([soc, *bad_id, "--out", str(tmp_path / "x.csv")])
    assert code == 1 and "InputError" in out and "PROFILE_ID" in out
    code, out = _cli_error([soc, "--points", str(tmp_path / "broken.gpkg"), "--out", "x.csv"])
    assert code == 1 and "broken.gpkg" in out and "cannot be read" in out
    code, out = _cli_error([soc, "--points", str(profiles), "--out", str(tmp_path / "x.txt")])
    assert code == 1 and ".gpkg, .csv or .parquet" in out


def test_a_corrupted_tile_is_a_typed_error_naming_the_file(tmp_path):
    # A tile whose compressed bytes were damaged (a broken download): GDAL fails to
    # decode it when a point falls in it. That was rasterio's own traceback.
    path = tmp_path / "soc.tif"
    values = np.random.default_rng(2).uniform(1, 90, (256, 256)).astype("float32")
    profile = dict(
        driver="GTiff", dtype="float32", count=1, crs="EPSG:4326", width=256, height=256,
        transform=rasterio.transform.from_origin(10.0, 20.0, 0.01, 0.01), tiled=True,
        blockxsize=128, blockysize=128, compress="deflate", nodata=-9999,
    )  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
    with rasterio.open(path) as src:
        offset = int(src.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1))
        size = int(src.get_tag_item("BLOCK_SIZE_0_0", "TIFF", bidx=1))
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(b"\xff" * size)
    points = gpd.GeoDataFrame(
        {"point_id": ["a"]}, geometry=gpd.points_from_xy([10.005], [19.995]), crs=4326
    )
    with pytest.raises(InputError) as err:
        sample_points([path], points)
    msg = str(err.value)
    assert str(path) in msg and "re-download" in msg and "Traceback" not in msg
