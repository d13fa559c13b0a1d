"""Bad inputs end in a soilmap error that names the input and the fix, with no partial output."""

from __future__ import annotations

import os
import shutil

import geopandas as gpd
import numpy as np
import pytest
import shapely

from soilmap import errors
from soilmap.config import load_config
from soilmap.pipeline.run import run
from soilmap.testing import write_raster


def _cfg(sample_copy, out):
    return load_config(sample_copy / "tigray.toml").with_output(out)


def _assert_no_output(out):
    assert not out.exists() or not [p for p in out.iterdir()]


def test_missing_file(sample_copy, tmp_path):
    os.remove(sample_copy / "ORCDRC_sl3.tif")
    out = tmp_path / "out"
    with pytest.raises(errors.InputNotFoundError, match="ORCDRC_sl3.tif.*Check the paths"):
        run(_cfg(sample_copy, out))
    _assert_no_output(out)


def test_raster_without_crs(sample_copy, tmp_path):
    write_raster(sample_copy / "LC_250m_ESACCI2010.tif", np.full((372, 349), 10, "uint8"), None)
    out = tmp_path / "out"
    with pytest.raises(
        errors.CRSError,
        match="LC_250m_ESACCI2010.tif.*no coordinate reference.*gdal_edit.py -a_srs",
    ):
        run(_cfg(sample_copy, out))
    _assert_no_output(out)


def test_regions_not_overlapping(sample_copy, tmp_path):
    far = gpd.GeoDataFrame(
        {"region_id": ["X"], "region_name": ["far away"]},
        geometry=[shapely.box(-60, -10, -59, -9)],
        crs=4326,
    )
    far.to_file(sample_copy / "tigray_regions.gpkg", layer="regions")
    out = tmp_path / "out"
    with pytest.raises(errors.NoOverlapError, match="tigray_regions.gpkg.*Check that both"):
        run(_cfg(sample_copy, out))
    _assert_no_output(out)


def test_regions_without_crs(sample_copy, tmp_path):
    shp = sample_copy / "zones.shp"
    gpd.read_file(sample_copy / "tigray_regions.gpkg").rename(
        columns={"region_name": "region_nam"}
    ).to_file(shp)
    os.remove(sample_copy / "zones.prj")
    cfg = _cfg(sample_copy, tmp_path / "out")
    import dataclasses

    # the shapefile driver truncates field names to 10 characters
    cfg = dataclasses.replace(
        cfg, regions=dataclasses.replace(cfg.regions, path=shp, name_field="region_nam")
    )
    with pytest.raises(errors.CRSError, match="zones.shp.*--regions-crs EPSG:4326"):
        run(cfg)
    cfg = dataclasses.replace(cfg, regions=dataclasses.replace(cfg.regions, crs="EPSG:4326"))
    assert run(cfg).manifest["regions"]["crs_assumed"] is True


def test_unknown_scheme(sample_copy, tmp_path):
    text = (sample_copy / "tigray.toml").read_text().replace('"esa_cci_lc"', '"esa_cci_typo"')
    (sample_copy / "tigray.toml").write_text(text)
    out = tmp_path / "out"
    with pytest.raises(errors.UnknownSchemeError, match="esa_cci_typo.*esa_cci_lc"):
        run(_cfg(sample_copy, out))
    _assert_no_output(out)


def test_unknown_class_codes_leave_no_output(sample_copy, tmp_path):
    lc = np.full((372, 349), 10, "uint8")
    lc[100:110, 50:60] = 77  # not an ESA CCI code
    from soilmap.io.raster import read_layout

    grid = read_layout(sample_copy / "ORCDRC_sl1.tif").grid
    write_raster(sample_copy / "LC_250m_ESACCI2010.tif", lc, grid)
    out = tmp_path / "out"
    with pytest.raises(errors.UnknownClassError, match=r"\[77\].*esa_cci_lc.*excluded"):
        run(_cfg(sample_copy, out))
    _assert_no_output(out)


def test_existing_output_is_kept_without_overwrite(sample_copy, tmp_path):
    out = tmp_path / "out"
    first = run(_cfg(sample_copy, out))
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    with pytest.raises(errors.OutputExistsError, match="--overwrite"):
        run(_cfg(sample_copy, out))
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    # A failing run with --overwrite must not destroy the earlier result either.
    shutil.copy(sample_copy / "ORCDRC_sl1.tif", sample_copy / "keep.tif")
    with open(sample_copy / "ORCDRC_sl2.tif", "r+b") as f:  # corrupt a block
        f.seek(2000)
        f.write(b"\0" * 40000)
    with pytest.raises(errors.SoilmapError):
        run(_cfg(sample_copy, out).with_output(out, overwrite=True))
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    # (.soilmap-files lists the run's files for the next --overwrite.)
    assert len({p.relative_to(out).parts[0] for p in first.outputs}) == len(before) - 1


def test_scratch_size_by_hand():
    from soilmap.outputs.cog import ScratchRaster

    t = ScratchRaster(
        path=None, scratch=None, dtype="float32", nodata=-9999.0, bands=2,
        cog_options={"overview_count": 2}, shape=(600, 700),
    )  # fmt: skip
    # Whole 512 px tiles: 1024 x 1024 cells x 2 bands x 4 bytes; overviews 1/4 + 1/16.
    assert t.scratch_bytes == 8_388_608
    assert t.overview_bytes == 8_388_608 * 5 // 16


def test_too_little_disk_stops_before_computing(sample_copy, tmp_path, monkeypatch):
    import soilmap.pipeline.execute as pipeline
    import soilmap.pipeline.faults as faults

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(faults.shutil, "disk_usage", lambda _p: usage._replace(free=10 * 2**20))
    out = tmp_path / "out"
    computed = []
    monkeypatch.setattr(pipeline, "_compute_windows", lambda *a: computed.append(1))
    with pytest.raises(
        errors.OutputSpaceError, match=r"needs at least 0\.\d GB of free disk.*--out"
    ):
        run(_cfg(sample_copy, out))
    assert not computed
    _assert_no_output(out)


def test_disk_full_while_writing_is_not_blamed_on_the_inputs(sample_copy, tmp_path, monkeypatch):
    import rasterio.errors

    from soilmap.outputs.cog import ScratchRaster

    out = tmp_path / "out"
    run(_cfg(sample_copy, out))
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}

    def full(self):
        raise rasterio.errors.RasterioIOError("Write error: No space left on device")

    # The COG copies run in background threads while the tables and report are written.
    monkeypatch.setattr(ScratchRaster, "finish", full)
    with pytest.raises(errors.OutputSpaceError, match="disk is full.*--out"):
        run(_cfg(sample_copy, out).with_output(out, overwrite=True))
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
