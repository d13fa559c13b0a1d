"""``soilmap sample`` on remote inputs: the real Tigray rasters and profiles over HTTP(S).

Served by the same real local range server as the run tests (tests/io/rangeserver.py):
the outputs equal the local ones, and GDAL fetches only the blocks under the points.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from rangeserver import RangeServer, self_signed_cert
from realdata import need_data

from soilmap.datasets import fetch
from soilmap.errors import InputNotFoundError
from soilmap.zonal.points import read_points, sample_points, sample_points_to_file

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def tigray_dir() -> Path:
    return need_data(lambda: fetch("tigray"))["ORCDRC_sl1.tif"].parent


def _drop_geometry(table) -> pd.DataFrame:
    return pd.DataFrame(table.drop(columns=table.geometry.name))


def test_sample_through_vsicurl_and_https_equals_local(tigray_dir, tmp_path, monkeypatch):
    local_rasters = [tigray_dir / "ORCDRC_sl1.tif", tigray_dir / "BLDFIE_sl2.tif"]
    kw = dict(id_field="SAMPLEID", points_crs="EPSG:4326", landcover_scheme="esa_cci_lc")
    local = sample_points_to_file(
        local_rasters,
        tigray_dir / "eth_profs_tigray.shp",
        tmp_path / "local.gpkg",
        landcover=tigray_dir / "LC_250m_ESACCI2010.tif",
        **kw,
    )
    monkeypatch.setenv("GDAL_HTTP_UNSAFESSL", "YES")  # the self-signed certificate
    http = RangeServer(tigray_dir, tmp_path / "http.log").start()
    https = RangeServer(tigray_dir, tmp_path / "https.log", self_signed_cert(tmp_path)).start()
    try:
        # Rasters through /vsicurl/, the points (a shapefile and its .dbf/.shx) and the
        # land cover through plain https:// URLs.
        remote = sample_points_to_file(
            [f"/vsicurl/{http.url}/{p.name}" for p in local_rasters],
            f"{https.url}/eth_profs_tigray.shp",
            tmp_path / "remote.gpkg",
            landcover=f"{https.url}/LC_250m_ESACCI2010.tif",
            **kw,
        )
        http_paths = {r.path for r in http.requests}
        https_paths = {r.path for r in https.requests}
        methods = {r.method for r in http.requests + https.requests}
    finally:
        http.stop()
        https.stop()
    pd.testing.assert_frame_equal(_drop_geometry(local), _drop_geometry(remote), check_exact=True)
    assert local.geometry.equals(remote.geometry)
    assert {"/ORCDRC_sl1.tif", "/BLDFIE_sl2.tif"} <= http_paths
    assert {"/eth_profs_tigray.shp", "/eth_profs_tigray.dbf", "/LC_250m_ESACCI2010.tif"} <= (
        https_paths
    )
    assert "GET-WHOLE" not in methods  # byte ranges only
    assert (remote["ORCDRC_sl1_status"] == "ok").all() and len(remote) == 125


def _tiles(path: Path) -> dict[tuple[int, int], tuple[int, int]]:
    with rasterio.open(path) as src:
        bh, bw = src.block_shapes[0]
        out = {}
        for i in range(-(-src.height // bh)):
            for j in range(-(-src.width // bw)):
                off = int(src.get_tag_item(f"BLOCK_OFFSET_{j}_{i}", "TIFF", bidx=1))
                size = int(src.get_tag_item(f"BLOCK_SIZE_{j}_{i}", "TIFF", bidx=1))
                out[(i, j)] = (off, off + size)
    return out


def test_remote_sampling_fetches_only_the_blocks_under_the_points(tigray_dir, tmp_path):
    """2048 x 2048 cells of 50 m (UTM 37N) in 256 x 256 tiles of incompressible values
    around the profiles: only the tiles holding a profile are fetched."""
    pts = read_points(tigray_dir / "eth_profs_tigray.shp", id_field="SAMPLEID", crs="EPSG:4326")
    utm = pts.to_crs(32637)
    west = math.floor(utm.geometry.x.min() / 1000) * 1000 - 20_000
    north = math.ceil(utm.geometry.y.max() / 1000) * 1000 + 10_000
    transform = Affine(50.0, 0, west, 0, -50.0, north)
    values = np.random.default_rng(16).uniform(5, 120, (2048, 2048)).astype("float32")
    served = tmp_path / "served"
    served.mkdir()
    profile = dict(
        driver="GTiff",
        dtype="float32",
        count=1,
        width=2048,
        height=2048,
        crs="EPSG:32637",
        transform=transform,
        tiled=True,
        blockxsize=256,
        blockysize=256,
        nodata=-9999,
    )
    with rasterio.open(served / "soc.tif", "w", **profile) as dst:
        dst.write(values, 1)
    # The tiles under the points, by hand from the UTM coordinates.
    cols = np.floor((utm.geometry.x - west) / 50).astype(int)
    rows = np.floor((north - utm.geometry.y) / 50).astype(int)
    want = {(int(r) // 256, int(c) // 256) for r, c in zip(rows, cols, strict=True)}
    assert 3 <= len(want) < 64 / 4  # the profiles hit a few of the 64 tiles
    server = RangeServer(served, tmp_path / "log").start()
    try:
        table, _ = sample_points([f"{server.url}/soc.tif"], pts)
        gets = [(r.start, r.end + 1) for r in server.fetched("soc.tif")]
    finally:
        server.stop()
    np.testing.assert_array_equal(table["soc"].to_numpy(), values[rows, cols])
    got = set()
    for key, (a, b) in _tiles(served / "soc.tif").items():
        if sum(max(0, min(b, e) - max(a, s)) for s, e in gets) >= (b - a) / 2:
            got.add(key)
    assert got == want
    fetched = sum(e - s for s, e in gets)
    assert fetched < (len(want) + 1) * 256 * 256 * 4  # the points' tiles and the header


def test_missing_remote_raster_or_points_name_the_url(tigray_dir, tmp_path):
    server = RangeServer(tigray_dir, tmp_path / "log").start()
    try:
        pts = read_points(f"{server.url}/eth_profs_tigray.shp", crs="EPSG:4326")
        with pytest.raises(InputNotFoundError) as err:
            sample_points([f"{server.url}/ORCDRC_sl9.tif"], pts)
        assert f"/vsicurl/{server.url}/ORCDRC_sl9.tif" in str(err.value)
        assert "404" in str(err.value)
        with pytest.raises(InputNotFoundError) as err:
            read_points(f"/vsicurl/{server.url}/profiles.gpkg")
        assert f"{server.url}/profiles.gpkg" in str(err.value) and "404" in str(err.value)
    finally:
        server.stop()
