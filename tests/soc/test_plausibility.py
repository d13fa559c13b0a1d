"""Unit plausibility on a bounded sample: a factor of 10 must not pass unnoticed."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.enums import Resampling

from soilmap.errors import UnitsError
from soilmap.soc.cleaning import Rule
from soilmap.soc.plausibility import (
    BANDS,
    UnitsWarning,
    check_bounds,
    check_sample,
    plan_sample,
    read_sample,
    sample_layers,
)

RNG = np.random.default_rng(4)
# A realistic 0-30 cm stock field in t C/ha: median ~55, long right tail.
STOCK_T_HA = RNG.lognormal(mean=np.log(55), sigma=0.5, size=5000)


def check(values, quantity, units, **kw):
    return check_sample(values, quantity=quantity, declared_units=units, what="SOC stock", **kw)


def test_stock_in_t_ha_passes():
    r = check(STOCK_T_HA, "stock", "t C ha-1")
    assert r.verdict == "ok" and 40 < r.median < 70


def test_kg_m2_declared_as_t_ha_is_an_error_that_says_what_to_do():
    kg_m2 = STOCK_T_HA / 10  # the same soils in kg C/m2: median ~5.5
    with pytest.raises(UnitsError) as err:
        check(kg_m2, "stock", "t C ha-1", fix="--soc-units, units = '...' in [soc]")
    msg = str(err.value)
    assert "declared in 't C ha-1'" in msg
    assert "median of a sample of 5000 valid cells is 5." in msg
    assert "look like 'kg C m-2'" in msg
    assert "--soc-units" in msg and "unit_check = 'warn'" in msg


def test_g_m2_declared_as_t_ha_is_an_error():
    with pytest.raises(UnitsError, match="look like 'g C m-2'"):
        check(STOCK_T_HA * 100, "stock", "t C ha-1")


def test_t_ha_declared_as_kg_m2_is_an_error():
    with pytest.raises(UnitsError, match="look like 't C ha-1'"):
        check(STOCK_T_HA, "stock", "kg C m-2")


def test_warn_mode_and_unusual_values_warn():
    with pytest.warns(UnitsWarning, match="kg C m-2"):
        r = check(STOCK_T_HA / 10, "stock", "t C ha-1", mode="warn")
    assert r.verdict == "implausible" and r.looks_like == "kg C m-2"
    with pytest.warns(UnitsWarning):
        r = check(STOCK_T_HA * 5, "stock", "t C ha-1")  # median ~275: peat-like, unusual
    assert r.verdict == "suspicious"


def test_deeper_stocks_are_compared_per_30_cm():
    # 0-200 cm stocks of ~300 t C/ha are normal (WHRC global median 295)
    r = check(STOCK_T_HA * 5.5, "stock", "t C ha-1", depth_cm=(0, 200))
    assert r.verdict == "ok"


@pytest.mark.parametrize(
    ("values", "declared", "looks"),
    [
        (RNG.normal(1.3, 0.15, 3000), "kg m-3", "g cm-3"),  # g/cm3 read as kg/m3
        (RNG.normal(130, 15, 3000), "kg m-3", "cg cm-3"),  # SoilGrids 2.0 bdod as kg/m3
        (RNG.normal(1300, 150, 3000), "g cm-3", "kg m-3"),  # SoilGrids 2017 as g/cm3
        (RNG.normal(130, 15, 3000), "g cm-3", "cg cm-3"),
    ],
)
def test_bulk_density_mix_ups(values, declared, looks):
    with pytest.raises(UnitsError, match=f"look like {looks!r}"):
        check(values, "bulk_density", declared)


def test_bulk_density_ok_in_each_unit():
    for values, units in ((1.3, "g cm-3"), (1300.0, "kg m-3"), (130.0, "cg cm-3")):
        assert check(np.full(100, values), "bulk_density", units).verdict == "ok"


def test_concentration_mix_ups_warn():
    # dg/kg (SoilGrids 2.0 soc) read as g/kg: median 250 "g/kg" is unusual
    with pytest.warns(UnitsWarning, match="look like 'dg kg-1'"):
        r = check(RNG.normal(250, 40, 2000), "concentration", "g kg-1")
    assert r.verdict == "suspicious"
    # % declared as dg/kg: median 0.15 g/kg is implausible
    with pytest.raises(UnitsError, match="look like '%'"):
        check(RNG.normal(1.5, 0.3, 2000), "concentration", "dg kg-1")


def test_coarse_fragment_shares_cannot_exceed_one():
    with pytest.raises(UnitsError, match="99th percentile.*look like 'vol %'"):
        check(RNG.uniform(0, 45, 2000), "fraction", "1")
    with pytest.raises(UnitsError, match="look like 'cm3 dm-3'"):
        check(RNG.uniform(0, 450, 2000), "fraction", "vol %")
    assert check(RNG.uniform(0, 45, 2000), "fraction", "vol %").verdict == "ok"


def test_too_few_values_or_off_give_no_verdict():
    assert check(np.full(10, 5.0), "stock", "t C ha-1").verdict == "inconclusive"
    assert check(STOCK_T_HA / 10, "stock", "t C ha-1", mode="off").verdict == "skipped"


def test_bands_are_ordered():
    for band in BANDS.values():
        assert band.hard[0] <= band.typical[0] < band.typical[1] <= band.hard[1]


def test_bounds_on_the_wrong_side_are_caught():
    check_bounds(55.0, [("lower", "q05.tif", 30.0), ("upper", "q95.tif", 90.0)])
    with pytest.raises(UnitsError, match="upper bound 'q95.tif'.*9 t C ha-1"):
        check_bounds(55.0, [("upper", "q95.tif", 9.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_bounds(55.0, [("lower", "q05.tif", 300.0)], mode="off")


# ----------------------------------------------------------------------------- sampling


def _write(path, data, *, tiled=True, block=256, nodata=None, overviews=()):
    profile = {
        "driver": "GTiff",
        "height": data.shape[0],
        "width": data.shape[1],
        "count": 1,
        "dtype": data.dtype.name,
        "crs": "EPSG:4326",
        "transform": Affine(0.001, 0, 0, 0, -0.001, 1),
        "nodata": nodata,
    }
    if tiled:
        profile.update(tiled=True, blockxsize=block, blockysize=block)
    else:
        profile.update(blockysize=block)
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
        if overviews:
            dst.build_overviews(list(overviews), Resampling.nearest)
    return path


@pytest.fixture
def count_cells_read(monkeypatch):
    cells = []
    original = rasterio.io.DatasetReader.read

    def counting(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        cells.append(out.size)
        return out

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", counting)
    return cells


def test_small_rasters_are_read_whole(tmp_path):
    p = _write(tmp_path / "s.tif", np.arange(100, dtype="int16").reshape(10, 10), nodata=0)
    plan = plan_sample([p])
    assert plan.description == "whole raster" and plan.cells == 100
    values = read_sample(p, plan)
    assert np.isnan(values[0]) and values[1] == 1  # declared nodata -> NaN


def test_tiled_raster_sample_reads_a_few_spread_blocks(tmp_path, count_cells_read):
    data = np.ones((2048, 2048), dtype="int16")
    p = _write(tmp_path / "t.tif", data, block=256)
    plan = plan_sample([p], max_cells=4 * 256 * 256)
    assert plan.cells <= 4 * 256 * 256 < data.size
    assert all(w.col_off % 256 == 0 and w.row_off % 256 == 0 for w in plan.windows)
    rows = {w.row_off for w in plan.windows}
    assert len(rows) > 1  # spread over the raster, not one corner
    read_sample(p, plan)
    assert sum(count_cells_read) == plan.cells


def test_striped_raster_sample_reads_whole_strips(tmp_path):
    p = _write(tmp_path / "s.tif", np.ones((700, 500), "int16"), tiled=False, block=7)
    plan = plan_sample([p], max_cells=50 * 7 * 500)
    assert "strips" in plan.description
    assert all(w.height == 7 and w.width == 500 for w in plan.windows)
    assert plan.cells <= 50 * 7 * 500


def test_overviews_are_used_when_every_layer_has_them(tmp_path):
    old = np.full((1024, 1024), 7, dtype="int16")
    p = _write(tmp_path / "o.tif", old, overviews=(2, 4))
    # Change the full-resolution data only: reading 7s proves the overview was read.
    with rasterio.open(p, "r+") as dst:
        dst.write(np.full((1024, 1024), 9, dtype="int16"), 1)
    plan = plan_sample([p], max_cells=300 * 300)
    assert plan.description == "overview 1/4" and plan.cells == 256 * 256
    assert set(np.unique(read_sample(p, plan))) == {7.0}
    q = _write(tmp_path / "no_ov.tif", old)
    assert "blocks" in plan_sample([p, q], max_cells=300 * 300).description


def test_sample_layers_remove_sentinels_but_keep_out_of_range_values(tmp_path):
    data = np.array([[-32768, 10, 20, 3000]], dtype="int16")
    p = _write(tmp_path / "r.tif", data, tiled=False, block=1)
    rules = [[Rule.sentinel(-32768), Rule.valid_range(0, 1000)]]
    (values,), how = sample_layers([p], units=["g kg-1"], rules=rules, scales=[0.5])
    # the range rule is not applied: a unit mistake must show in the sample
    np.testing.assert_array_equal(values, [np.nan, 5, 10, 1500])
    assert how == "whole raster"
