"""Inputs where they are: the sample through a real local HTTP(S) server and a zip.

The server (tests/io/rangeserver.py) is a separate process on 127.0.0.1 answering
HEAD and ``Range`` GETs like a static file server, and logs each request, so the
tests see exactly what GDAL fetched.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rangeserver import RangeServer, self_signed_cert

from soilmap.config import load_config
from soilmap.errors import InputNotFoundError
from soilmap.io.raster import open_raster
from soilmap.pipeline.run import run
from soilmap.testing import make_grid

pytestmark = pytest.mark.realdata


@pytest.fixture
def http_server(sample_dir, tmp_path):
    server = RangeServer(sample_dir, tmp_path / "http.log").start()
    yield server
    server.stop()


@pytest.fixture
def https_server(sample_dir, tmp_path, monkeypatch):
    # A self-signed certificate: GDAL (curl) is told not to verify it, as a user of
    # an internal server would (GDAL_HTTP_UNSAFESSL, taken from the environment).
    monkeypatch.setenv("GDAL_HTTP_UNSAFESSL", "YES")
    server = RangeServer(sample_dir, tmp_path / "https.log", self_signed_cert(tmp_path)).start()
    yield server
    server.stop()


def _config_at(sample_dir: Path, folder: Path, prefix: str) -> Path:
    """The sample's tigray.toml with every input file name prefixed (a URL, a zip)."""
    text = (sample_dir / "tigray.toml").read_text(encoding="utf-8")
    text = re.sub(r'"([A-Za-z0-9_]+\.(?:tif|gpkg))"', lambda m: f'"{prefix}{m[1]}"', text)
    path = folder / "remote.toml"
    path.write_text(text.replace('dir = "soilmap-demo"', 'dir = "out"'), encoding="utf-8")
    return path


def _assert_same_outputs(local, remote) -> None:
    names = sorted(p.name for p in local.outputs if p.suffix == ".tif")
    assert names == sorted(p.name for p in remote.outputs if p.suffix == ".tif")
    for name in names:
        with rasterio.open(local.out_dir / name) as a, rasterio.open(remote.out_dir / name) as b:
            assert a.transform == b.transform and a.shape == b.shape
            np.testing.assert_array_equal(a.read(), b.read(), err_msg=name)
    cols = [c for c in local.zonal.columns if c != "geometry"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(local.zonal[cols]), pd.DataFrame(remote.zonal[cols]), check_exact=True
    )


def test_sample_through_vsicurl_equals_local_run(http_server, sample_dir, sample_run, tmp_path):
    cfg = load_config(_config_at(sample_dir, tmp_path, f"/vsicurl/{http_server.url}/"))
    result = run(cfg, progress=False)
    _assert_same_outputs(sample_run, result)
    # run.json: each URL by its size and ETag / Last-Modified, not a checksum.
    inputs = json.loads((result.out_dir / "run.json").read_text())["inputs"]
    soc = next(i for i in inputs if i["path"].endswith("/ORCDRC_sl1.tif"))
    assert soc["path"] == f"/vsicurl/{http_server.url}/ORCDRC_sl1.tif"
    assert soc["size_bytes"] == (sample_dir / "ORCDRC_sl1.tif").stat().st_size
    assert soc["etag"] and soc["last_modified"] and "sha256" not in soc
    # GDAL read the files by byte ranges, never a whole file.
    methods = {r.method for r in http_server.requests}
    assert "GET" in methods and "GET-WHOLE" not in methods


def test_sample_through_https_url_equals_local_run(https_server, sample_dir, sample_run, tmp_path):
    # A plain https:// URL, as a user copies it from a browser: read through /vsicurl/.
    cfg = load_config(_config_at(sample_dir, tmp_path, f"{https_server.url}/"))
    assert str(cfg.landcover.path).startswith("/vsicurl/https:")
    result = run(cfg, progress=False)
    _assert_same_outputs(sample_run, result)
    assert any(r.path == "/LC_250m_ESACCI2010.tif" for r in https_server.requests)


def test_sample_from_a_zip_equals_local_run(sample_dir, sample_run, tmp_path):
    with zipfile.ZipFile(tmp_path / "tigray.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for f in sample_dir.iterdir():
            if f.suffix in (".tif", ".gpkg"):
                z.write(f, f"data/{f.name}")
    # Relative to the config file, like any path in it.
    cfg = load_config(_config_at(sample_dir, tmp_path, "/vsizip/tigray.zip/data/"))
    result = run(cfg, progress=False)
    _assert_same_outputs(sample_run, result)
    inputs = json.loads((result.out_dir / "run.json").read_text())["inputs"]
    lc = next(i for i in inputs if i["path"].endswith("LC_250m_ESACCI2010.tif"))
    assert lc["archive"] == str((tmp_path / "tigray.zip").resolve()) and len(lc["sha256"]) == 64


def test_missing_remote_names_the_url_and_gdals_reason(http_server, sample_dir, tmp_path):
    text = _config_at(sample_dir, tmp_path, f"{http_server.url}/").read_text()
    cfg_path = tmp_path / "missing.toml"
    cfg_path.write_text(text.replace("ORCDRC_sl3.tif", "ORCDRC_sl3_missing.tif"))
    with pytest.raises(InputNotFoundError) as err:
        run(load_config(cfg_path), progress=False)
    msg = str(err.value)
    assert f"/vsicurl/{http_server.url}/ORCDRC_sl3_missing.tif" in msg
    assert "HTTP 404" in msg or "404" in msg


def test_unreachable_server_is_a_typed_error(tmp_path, sample_dir):
    # Nothing listens on port 9 of 127.0.0.1 (discard): curl's connection error.
    cfg_path = _config_at(sample_dir, tmp_path, "http://127.0.0.1:9/")
    with pytest.raises(InputNotFoundError) as err:
        run(load_config(cfg_path), progress=False)
    assert "http://127.0.0.1:9/" in str(err.value)
    assert "could not be reached" in str(err.value)


def _tile_ranges(path: Path) -> dict[tuple[int, int], tuple[int, int]]:
    with rasterio.open(path) as src:
        bh, bw = src.block_shapes[0]
        ny, nx = -(-src.height // bh), -(-src.width // bw)
        out = {}
        for i in range(ny):
            for j in range(nx):
                off = int(src.get_tag_item(f"BLOCK_OFFSET_{j}_{i}", "TIFF", bidx=1))
                size = int(src.get_tag_item(f"BLOCK_SIZE_{j}_{i}", "TIFF", bidx=1))
                out[(i, j)] = (off, off + size)
    return out


def _tile_gets(server: RangeServer, name: str, tiles) -> list[tuple[int, int]]:
    """Byte ranges ``[start, end)`` GDAL requested of the tiles of ``name``.

    The header aside: GDAL reads it when it opens the file, in requests that take in
    bytes outside the tiles' span (the IFD before the first tile, the offset arrays
    after the last), and may take in part of the first tiles on the way.
    """
    lo, hi = min(a for a, _ in tiles.values()), max(b for _, b in tiles.values())
    gets = [(r.start, r.end + 1) for r in server.fetched(name)]
    return [(s, e) for s, e in gets if lo <= s and e <= hi]


def _fetched_tiles(server: RangeServer, name: str, tiles) -> set[tuple[int, int]]:
    """Tiles at least half of whose bytes GDAL requested (header requests aside)."""
    gets = _tile_gets(server, name, tiles)
    got = set()
    for key, (a, b) in tiles.items():
        covered = sum(max(0, min(b, e) - max(a, s)) for s, e in gets)
        if covered >= (b - a) / 2:
            got.add(key)
    return got


def _assert_no_tile_fetched_twice(server: RangeServer, name: str, tiles) -> int:
    """No byte of any tile of ``name`` was requested twice; returns the tile bytes fetched."""
    gets = _tile_gets(server, name, tiles)
    twice = {}
    for key, (a, b) in tiles.items():
        parts = sorted((max(a, s), min(b, e)) for s, e in gets if min(b, e) > max(a, s))
        total = sum(e - s for s, e in parts)
        union, end = 0, a
        for s, e in parts:
            union += max(0, e - max(s, end))
            end = max(end, e)
        if total > union:
            twice[key] = f"{total - union} of {b - a} bytes again, in {len(parts)} requests"
    assert not twice, f"{name}: tiles fetched twice: {twice}"
    return sum(e - s for s, e in gets)


def test_remote_reads_only_the_blocks_of_the_run_extent(tmp_path):
    """1024 x 1024 cells in 128 x 128 tiles; a region inside 2 x 3 tiles: only those
    six tiles are fetched, each once, and the totals equal those of the whole-raster
    run, which fetches every tile once.  The plausibility sample reads the region's
    tiles (or, with 4096 sample cells, one of them) and the pass takes what it read
    from memory: no tile is fetched a second time for the pass."""
    grid = make_grid((1024, 1024), crs="EPSG:4326", res=0.01, origin=(10.0, 20.0))
    values = np.random.default_rng(3).uniform(10, 90, grid.shape).astype("float32")
    profile = dict(
        driver="GTiff",
        dtype="float32",
        count=1,
        crs="EPSG:4326",
        transform=grid.transform,
        width=1024,
        height=1024,
        tiled=True,
        blockxsize=128,
        blockysize=128,
        nodata=-9999,
    )
    served = tmp_path / "served"
    served.mkdir()
    with rasterio.open(served / "soc.tif", "w", **profile) as dst:
        dst.write(values, 1)
        dst.update_tags(1, units="t C ha-1")
    # Rows 300-420 (tiles 2-3), columns 130-500 (tiles 1-3) of the grid.
    region = shapely.box(10.0 + 1.305, 20.0 - 4.195, 10.0 + 4.995, 20.0 - 3.005)
    gpd.GeoDataFrame({"id": ["R"]}, geometry=[region], crs=4326).to_file(tmp_path / "r.gpkg")
    server = RangeServer(served, tmp_path / "log").start()
    tiles = _tile_ranges(served / "soc.tif")
    tile_bytes = 128 * 128 * 4  # uncompressed float32
    assert {b - a for a, b in tiles.values()} == {tile_bytes}
    needed = {(i, j) for i in (2, 3) for j in (1, 2, 3)}
    runs = {}
    try:
        toml = f"""
[soc]
stock = "{server.url}/soc.tif"
SAMPLE
[regions]
path = "r.gpkg"
id_field = "id"
[output]
dir = "OUT"
[run]
chunks = [128, 128]
"""
        for name, sample, extra, want in [
            ("box", "", "", needed),
            ("box_small_sample", "sample_cells = 4096", "", needed),
            ("all", "", 'extent = "raster"\n', set(tiles)),
        ]:
            path = tmp_path / f"{name}.toml"
            path.write_text(toml.replace("OUT", name).replace("SAMPLE", sample) + extra)
            server.clear()
            runs[name] = run(load_config(path), progress=False)
            assert _fetched_tiles(server, "soc.tif", tiles) == want, name
            fetched = _assert_no_tile_fetched_twice(server, "soc.tif", tiles)
            assert fetched == len(want) * tile_bytes, name  # those tiles' bytes, no more
    finally:
        server.stop()
    box, whole = runs["box"], runs["all"]
    window = box.manifest["extent"]["window"]
    assert window == {"row0": 300, "row1": 420, "col0": 130, "col1": 500}
    for result in (box, runs["box_small_sample"]):
        with rasterio.open(result.out_dir / "soc_stock.tif") as src:
            assert src.shape == (120, 370)
            np.testing.assert_array_equal(src.read(1), values[300:420, 130:500])
    assert list(box.zonal["landuse"]) == list(whole.zonal["landuse"])
    for col in ("area_ha", "soc_stock_t", "sequestration_t_per_yr"):
        np.testing.assert_allclose(box.zonal[col], whole.zonal[col], rtol=1e-12)
        np.testing.assert_array_equal(box.zonal[col], runs["box_small_sample"].zonal[col])


def test_sample_through_vsicurl_fetches_each_block_once(
    http_server, sample_dir, sample_run, tmp_path
):
    """The real sample through /vsicurl/: of every raster, GDAL fetches the blocks
    (strips) of the run's window and no other, each once, sample and pass together."""
    cfg = load_config(_config_at(sample_dir, tmp_path, f"/vsicurl/{http_server.url}/"))
    result = run(cfg, progress=False)
    _assert_same_outputs(sample_run, result)
    win = result.manifest["extent"]["window"]
    tifs = sorted(sample_dir.glob("*.tif"))
    assert len(tifs) == 9
    for tif in tifs:
        blocks = _tile_ranges(tif)
        with rasterio.open(tif) as src:
            bh, bw = src.block_shapes[0]
        needed = {
            (i, j)
            for i, j in blocks
            if i * bh < win["row1"]
            and (i + 1) * bh > win["row0"]
            and j * bw < win["col1"]
            and (j + 1) * bw > win["col0"]
        }
        assert _fetched_tiles(http_server, tif.name, blocks) == needed, tif.name
        _assert_no_tile_fetched_twice(http_server, tif.name, blocks)


#: A 512 x 512 float32 grid (0.01°) for the failing-server tests.
_GRID_512 = make_grid((512, 512), crs="EPSG:4326", res=0.01, origin=(10.0, 20.0))


def _write_512(paths: list[Path], values: np.ndarray) -> None:
    """``values`` into each path: 128 x 128 tiles, nodata -9999, units t C ha-1."""
    profile = dict(
        driver="GTiff", dtype="float32", count=1, crs="EPSG:4326",
        transform=_GRID_512.transform, width=512, height=512, tiled=True,
        blockxsize=128, blockysize=128, nodata=-9999,
    )  # fmt: skip
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(values, 1)
            dst.update_tags(1, units="t C ha-1")


def test_a_failed_range_request_gives_the_right_values_never_zeros(tmp_path):
    """A server that answers 503 to the first request of every byte range, as a loaded
    server or object store may: the values read are the file's.  (GDAL 3.10's threaded
    GeoTIFF reader would fill those tiles with zeros: see soilmap.io.env.)"""
    values = np.random.default_rng(11).uniform(1, 90, (512, 512)).astype("float32")
    values[100:140, 200:260] = -9999
    served = tmp_path / "served"
    # One tile per read, several rows of tiles (parallel ranges), one run of bytes (the
    # whole raster, in two halves): each through its own file, so no cache helps.
    cases = {"tile.tif": (128, 128), "rows.tif": (256, 384), "whole.tif": (512, 512)}
    _write_512([served / name for name in cases], values)
    expected = np.where(values == -9999, np.nan, values)
    server = RangeServer(served, tmp_path / "log", fail_first=True).start()
    try:
        for name, chunks in cases.items():
            da = open_raster(f"{server.url}/{name}", units="t C ha-1", chunks=chunks)
            np.testing.assert_array_equal(da.compute().to_numpy(), expected, err_msg=name)
        failed = {r.path for r in server.requests if r.method == "GET-503"}
    finally:
        server.stop()
    assert failed == {f"/{name}" for name in cases}  # every file met a failure


@pytest.fixture
def s3_server(sample_dir, tmp_path, monkeypatch):
    """The sample in bucket ``soilmap-sample`` of an S3-style endpoint (path-style URLs,
    anonymous, plain HTTP): GDAL's /vsis3/ configured only through its AWS_* settings
    from the environment, as a user would for MinIO or a public bucket."""
    bucket = tmp_path / "s3" / "soilmap-sample"
    bucket.mkdir(parents=True)
    for f in sample_dir.iterdir():
        if f.suffix in (".tif", ".gpkg"):
            shutil.copy(f, bucket / f.name)
    server = RangeServer(tmp_path / "s3", tmp_path / "s3.log").start()
    monkeypatch.setenv("AWS_S3_ENDPOINT", server.url.split("://", 1)[1])
    monkeypatch.setenv("AWS_HTTPS", "NO")
    monkeypatch.setenv("AWS_VIRTUAL_HOSTING", "FALSE")
    monkeypatch.setenv("AWS_NO_SIGN_REQUEST", "YES")
    yield server
    server.stop()


def test_sample_through_vsis3_equals_local_run(s3_server, sample_dir, sample_run, tmp_path):
    cfg = load_config(_config_at(sample_dir, tmp_path, "/vsis3/soilmap-sample/"))
    result = run(cfg, progress=False)
    _assert_same_outputs(sample_run, result)
    got = {r.path for r in s3_server.requests if r.method.startswith("GET")}
    assert "/soilmap-sample/ORCDRC_sl1.tif" in got and "/soilmap-sample/tigray_regions.gpkg" in got
    assert "GET-WHOLE" not in {r.method for r in s3_server.requests if r.path.endswith(".tif")}
    inputs = json.loads((result.out_dir / "run.json").read_text())["inputs"]
    lc = next(i for i in inputs if i["path"].endswith("LC_250m_ESACCI2010.tif"))
    assert lc["path"] == "/vsis3/soilmap-sample/LC_250m_ESACCI2010.tif" and "sha256" not in lc
    assert lc["size_bytes"] == (sample_dir / "LC_250m_ESACCI2010.tif").stat().st_size


def test_points_sampled_through_a_failing_server_are_the_files_values(tmp_path):
    """`soilmap sample` on a remote raster whose server answers 503 to the first request
    of every byte range: the values are the file's, never zeros."""
    from soilmap.zonal.points import sample_points

    values = np.random.default_rng(5).uniform(1, 90, (512, 512)).astype("float32")
    served = tmp_path / "served"
    _write_512([served / "soc.tif"], values)
    # One point in every tile (cell centres), so every tile's range is requested.
    rows, cols = np.meshgrid(np.arange(64, 512, 128), np.arange(64, 512, 128), indexing="ij")
    xs, ys = _GRID_512.transform * (cols.ravel() + 0.5, rows.ravel() + 0.5)
    points = gpd.GeoDataFrame(
        {"point_id": [f"p{i}" for i in range(rows.size)]},
        geometry=gpd.points_from_xy(xs, ys),
        crs=4326,
    )
    server = RangeServer(served, tmp_path / "log", fail_first=True).start()
    try:
        table, units = sample_points([f"{server.url}/soc.tif"], points)
        failed = [r for r in server.requests if r.method == "GET-503"]
    finally:
        server.stop()
    assert failed  # the server did fail requests
    assert list(table["soc_status"]) == ["ok"] * rows.size and units["soc"] == "t C ha-1"
    got = table["soc"].to_numpy(dtype="float64")
    np.testing.assert_array_equal(got, values[rows.ravel(), cols.ravel()].astype("float64"))
