"""soilmap.set_options: one definition of the shared defaults, scoped like xarray's."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

import soilmap
from soilmap.config import OutputConfig, RunConfig
from soilmap.errors import ConfigError
from soilmap.io.raster import open_raster
from soilmap.testing import make_grid


def test_context_manager_restores_and_call_sets():
    before = dict(soilmap.get_options())
    with soilmap.set_options(compress="zstd", run_chunk_cells=4096):
        assert soilmap.get_options()["compress"] == "zstd"
        assert soilmap.get_options()["run_chunk_cells"] == 4096
    assert dict(soilmap.get_options()) == before
    soilmap.set_options(gdal_cache_mb=128)
    try:
        assert soilmap.get_options()["gdal_cache_mb"] == 128
    finally:
        soilmap.set_options(gdal_cache_mb=before["gdal_cache_mb"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"compres": "zstd"}, "did you mean 'compress'"),
        ({"compress": "jpeg"}, "deflate, zstd, lzw"),
        ({"chunk_cells": 0}, "positive whole number"),
        ({"run_chunk_cells": True}, "positive whole number"),
    ],
)
def test_bad_options_are_refused_with_the_fix(kwargs, message):
    before = dict(soilmap.get_options())
    with pytest.raises(ConfigError, match=message):
        soilmap.set_options(**kwargs)
    assert dict(soilmap.get_options()) == before


def test_the_codec_default_is_the_option(tmp_path):
    assert OutputConfig(dir=tmp_path).compress == "deflate"
    with soilmap.set_options(compress="lzw"):
        assert OutputConfig(dir=tmp_path).compress == "lzw"


def test_chunk_cells_sets_the_default_chunks_of_a_raster(tmp_path):
    grid = make_grid((1024, 1024), res=10.0)
    path = tmp_path / "a.tif"
    profile = {"driver": "GTiff", "height": 1024, "width": 1024, "count": 1, "dtype": "float32"}
    profile |= {"crs": grid.crs_wkt, "transform": grid.transform, "tiled": True}
    with rasterio.open(path, "w", blockxsize=256, blockysize=256, **profile) as dst:
        dst.write(np.ones((1, 1024, 1024), "float32"))
        dst.set_band_unit(1, "1")
    # 256 x 256 internal tiles: chunks are made of whole tiles, near the target size.
    with soilmap.set_options(chunk_cells=512 * 512):
        assert open_raster(path).chunks == ((512, 512), (512, 512))
    assert open_raster(path).chunks == ((1024,), (1024,))


def test_from_flags_refuses_an_unknown_flag(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown flag\(s\) \['sco'\]"):
        RunConfig.from_flags(None, sco="x.tif")


def test_with_flags_lays_flags_over_a_config(sample_dir, tmp_path):
    cfg = soilmap.load_config(sample_dir / "tigray.toml")
    out = cfg.with_flags(rate=0.002, horizon=(2040,), out=tmp_path / "o", compress="zstd")
    assert out.scenario.rate == 0.002 and out.scenario.horizons == (2040,)
    assert out.output.dir == tmp_path / "o" and out.output.compress == "zstd"
    assert out.soc == cfg.soc and out.landcover == cfg.landcover
