"""Float class rasters: land cover written by R (float32, nodata -3.4e38) or GEE (NaN)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import rasterio

from soilmap.config import load_config
from soilmap.errors import InputError
from soilmap.landuse.codes import R_NA_FLOAT32, float_codes
from soilmap.landuse.regrid import class_fractions
from soilmap.landuse.schemes import load_class_table
from soilmap.pipeline.run import run
from soilmap.testing import make_grid, write_raster

LC = "LC_250m_ESACCI2010.tif"


def _rewrite(path, values, dtype, nodata):
    with rasterio.open(path) as src:
        profile = src.profile
    profile.update(dtype=dtype, nodata=nodata)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values.astype(dtype), 1)


def _same_rasters(a, b):
    for name in sorted(p.name for p in a.outputs if p.suffix == ".tif"):
        with rasterio.open(a.out_dir / name) as x, rasterio.open(b.out_dir / name) as y:
            np.testing.assert_array_equal(x.read(), y.read(), err_msg=name)
    cols = [c for c in a.zonal.columns if c != "geometry"]
    assert a.zonal[cols].equals(b.zonal[cols])


@pytest.mark.realdata
def test_float32_copy_from_r_equals_the_integer_original(sample_copy, sample_run, tmp_path):
    with rasterio.open(sample_copy / LC) as src:
        codes = src.read(1)
    # What R's terra::writeRaster(x, "lc.tif") writes: float32, NA = -3.4e38.
    _rewrite(sample_copy / LC, codes, "float32", R_NA_FLOAT32)
    cfg = load_config(sample_copy / "tigray.toml").with_output(tmp_path / "f32")
    _same_rasters(sample_run, run(cfg, progress=False))


@pytest.mark.realdata
def test_r_nodata_cells_are_nodata_not_a_code(sample_copy, tmp_path):
    with rasterio.open(sample_copy / LC) as src:
        codes = src.read(1)
    hole = np.zeros(codes.shape, bool)
    hole[100:160, 50:200] = True  # 9000 cells of NA
    # The integer version: the table's nodata code 0 there.
    _rewrite(sample_copy / LC, np.where(hole, 0, codes), "uint8", None)
    ints = run(
        load_config(sample_copy / "tigray.toml").with_output(tmp_path / "int"), progress=False
    )
    _rewrite(sample_copy / LC, np.where(hole, R_NA_FLOAT32, codes), "float32", R_NA_FLOAT32)
    floats = run(
        load_config(sample_copy / "tigray.toml").with_output(tmp_path / "f32"), progress=False
    )
    _same_rasters(ints, floats)
    with rasterio.open(floats.out_dir / "landuse.tif") as src:
        lu = src.read(1)
    assert (lu[hole] == src.nodata).all()


@pytest.mark.realdata
def test_non_integral_land_cover_is_refused_with_its_count(sample_copy, tmp_path):
    with rasterio.open(sample_copy / LC) as src:
        codes = src.read(1).astype("float32")
    codes[200, 100] = 10.5  # a bilinear-resampled map, say
    codes[201, 101] = 130.25
    _rewrite(sample_copy / LC, codes, "float32", R_NA_FLOAT32)
    cfg = load_config(sample_copy / "tigray.toml").with_output(tmp_path / "bad")
    with pytest.raises(InputError) as err:
        run(cfg, progress=False)
    msg = str(err.value)
    assert re.search(r"holds 2 non-integral value\(s\)", msg), msg
    assert "10.5 at row 200, col 100" in msg and "130.25 at row 201, col 101" in msg
    assert LC in msg and "gdal_calc.py" in msg
    assert not (tmp_path / "bad").exists()


def test_float64_nan_codes_on_another_grid_equal_integer_codes(tmp_path):
    """The regridding path (10 m codes onto a 250 m-like grid), GEE-style NaN nodata."""
    ref = make_grid((6, 8), crs="EPSG:32637", res=100.0)
    fine = make_grid((60, 80), crs="EPSG:32637", res=10.0)
    rng = np.random.default_rng(5)
    codes = rng.choice([10, 40, 50], size=fine.shape).astype("uint8")
    codes[:7, :13] = 0  # no data
    write_raster(tmp_path / "int.tif", codes, fine, nodata=0)
    write_raster(tmp_path / "f64.tif", np.where(codes == 0, np.nan, codes), fine, nodata=np.nan)
    table = load_class_table("esa_worldcover")
    a = class_fractions(tmp_path / "int.tif", table, ref).compute()
    b = class_fractions(tmp_path / "f64.tif", table, ref).compute()
    np.testing.assert_array_equal(a.values, b.values)
    # By hand: the top-left 100 m cell is 7 x 10 of its 10 x 10 sub-cells without data.
    assert float(b.values[:, 0, 0].sum()) == pytest.approx(0.3, abs=1e-6)


def test_float_codes_block_by_hand():
    block = np.array([[11.0, -3.4e38, 30.0], [np.nan, 210.0, 255.0]], "float32")
    out = float_codes(block, 255.0, "lc")
    assert np.isnan(out[0, 1]) and np.isnan(out[1, 0]) and np.isnan(out[1, 2])
    assert out[0, 0] == 11 and out[1, 1] == 210
    with pytest.raises(InputError, match=r"holds 1 non-integral value\(s\) in rows 7-8"):
        float_codes(np.array([[1.0, 2.5], [3.0, 4.0]]), None, "lc", offset=(7, 0))
