"""Implausible SOC values stop the run with the fix (nothing in --out), or are dropped and counted.

The cases of issue 13 on the real files (Bhutan's GSOCseq T0 and finalSOC maps) and on
generated rasters with the same defects; a declared rule gives the totals of the clean
input to 1e-9.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from realdata import DATA

from soilmap import errors
from soilmap.config import RunConfig
from soilmap.pipeline.run import run

pytestmark = pytest.mark.realdata

T0 = DATA / "bhutan_gsocseq" / "BT-GSOCSEQ-CORGT0-2022-0-30-MEAN.tif"
FINAL = DATA / "gsocseq" / "bhutan" / "Bhutan_GSOCseq_finalSOC_BAU_Map030.tif"
REGIONS = DATA / "gsocseq" / "bhutan_admin1.gpkg"


def _cfg(stock: Path, out: Path, **soc: object) -> RunConfig:
    cfg = RunConfig.from_flags(
        soc=str(stock), soc_units="t C ha-1", regions=str(REGIONS), region_id="id", out=str(out)
    )
    return dataclasses.replace(cfg, soc=dataclasses.replace(cfg.soc, **soc))


def _no_output(out: Path) -> None:
    assert not out.exists() or not list(out.iterdir())


def _total(result) -> float:
    t = result.zonal
    return float(t["soc_stock_t"].sum())


def _write(src: Path, dst: Path, values: np.ndarray, nodata: float | None) -> Path:
    with rasterio.open(src) as s:
        profile = s.profile.copy()
    profile.update(driver="GTiff", dtype="float32", nodata=nodata, compress="deflate")
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(dst, "w", **profile) as d:
        d.write(values.astype("float32"), 1)
    return dst


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as s:
        return s.read(1, masked=True).astype("float64").filled(np.nan)


def test_t0_as_plain_stock_stops_before_the_run(tmp_path):
    """15 outliers up to 5e9: the sample (the whole small raster) already shows them."""
    out = tmp_path / "out"
    with pytest.raises(errors.ImplausibleValuesError) as err:
        run(_cfg(T0, out), progress=False)
    msg = str(err.value)
    assert str(T0) in msg and "15 of" in msg and "0-800 t C ha-1" in msg
    assert "sentinels = [" in msg and "valid_range = [0, 800]" in msg
    assert "product = " in msg and 'on_implausible = "drop"' in msg
    _no_output(out)


def test_t0_counts_come_from_the_pass_with_locations(tmp_path):
    """Without the sample (unit_check off) the counts of the single pass stop the run."""
    out = tmp_path / "out"
    with pytest.raises(errors.ImplausibleValuesError) as err:
        run(_cfg(T0, out, unit_check="off"), progress=False)
    msg = str(err.value)
    t0 = _read(T0)
    bad = np.flatnonzero((t0 > 800) | (t0 < 0))
    assert bad.size == 15
    r0, c0 = divmod(int(bad[0]), t0.shape[1])
    r1, c1 = divmod(int(bad[-1]), t0.shape[1])
    assert "15 cells are outside the plausible range" in msg
    assert f"first at row {r0}, col {c0}" in msg and f"last at row {r1}, col {c1}" in msg
    hi = np.nanmax(t0)
    assert f"to {hi:g} t C ha-1" in msg
    _no_output(out)


def test_t0_drop_equals_the_declared_range(tmp_path):
    """on_implausible = "drop" removes the 15 cells: the same totals as valid_range 0-800."""
    dropped = run(_cfg(T0, tmp_path / "a", on_implausible="drop"), progress=False)
    declared = run(_cfg(T0, tmp_path / "b", valid_range=(0, 800)), progress=False)
    assert _total(dropped) == pytest.approx(_total(declared), rel=1e-9)
    t0 = _read(T0)
    ok = t0[(t0 >= 0) & (t0 <= 800)]
    # Mt, not the 672,952 Mt one district held with the outliers
    assert _total(dropped) / 1e6 < 100
    vc = json.loads((tmp_path / "a" / "run.json").read_text())["value_checks"]
    assert vc["cells_dropped_as_implausible"] == 15
    (r,) = vc["ranges"]
    assert r["action"] == "dropped" and r["cells_exactly_zero"] == int((ok == 0).sum())
    declared_vc = json.loads((tmp_path / "b" / "run.json").read_text())["value_checks"]
    assert (
        declared_vc["cleaning_cells_removed"]["BT-GSOCSEQ-CORGT0-2022-0-30-MEAN:user_range"] == 15
    )
    assert declared_vc["ranges"][0]["cells_outside_range"] == 0


def test_final_soc_undeclared_sentinel(tmp_path):
    """finalSOC's undeclared -999 (1093 cells): stopped; declared, equal to the clean input."""
    out = tmp_path / "out"
    with pytest.raises(errors.ImplausibleValuesError) as err:
        run(_cfg(FINAL, out), progress=False)
    assert "sentinels = [-999]" in str(err.value)
    _no_output(out)
    values = _read(FINAL)
    assert int((values == -999).sum()) == 1093
    clean = _write(FINAL, tmp_path / "clean.tif", np.where(values == -999, np.nan, values), np.nan)
    declared = run(_cfg(FINAL, tmp_path / "d", sentinels=(-999.0,)), progress=False)
    reference = run(_cfg(clean, tmp_path / "c"), progress=False)
    assert _total(declared) == pytest.approx(_total(reference), rel=1e-9)
    assert _total(declared) > 0


@pytest.mark.parametrize(
    ("code", "share"), [(-32768.0, 0.03), (-999.0, 0.03), (5e9, None), (-3.4e38, 0.01)]
)
def test_generated_sentinels_and_outliers(tmp_path, code, share):
    """An undeclared -32768/-999 in a few % of cells, or one 5e9 cell: stopped; declared: clean."""
    t0 = _read(T0)
    clean_values = np.where((t0 >= 0) & (t0 <= 800), t0, np.nan)
    clean = _write(T0, tmp_path / "clean.tif", clean_values, np.nan)
    rng = np.random.default_rng(13)
    valid = np.flatnonzero(np.isfinite(clean_values))
    n = 1 if share is None else int(share * valid.size)
    hit = rng.choice(valid, n, replace=False)
    dirty_values = clean_values.copy().ravel()
    dirty_values[hit] = code
    dirty = _write(T0, tmp_path / "dirty.tif", dirty_values.reshape(t0.shape), np.nan)
    out = tmp_path / "out"
    with pytest.raises(errors.ImplausibleValuesError, match=f"{n} "):
        run(_cfg(dirty, out, unit_check="off"), progress=False)
    _no_output(out)
    rule = {"valid_range": (0, 800)} if share is None else {"sentinels": (code,)}
    declared = run(_cfg(dirty, tmp_path / "d", **rule), progress=False)
    # The clean input without the injected cells, computed on its own.
    without_values = clean_values.copy().ravel()
    without_values[hit] = np.nan
    without = _write(T0, tmp_path / "w.tif", without_values.reshape(t0.shape), np.nan)
    reference = run(_cfg(without, tmp_path / "w"), progress=False)
    assert _total(declared) == pytest.approx(_total(reference), rel=1e-9)
    # and the dirty run would have been far off: what the injected cells weigh
    assert _total(reference) < _total(run(_cfg(clean, tmp_path / "c"), progress=False))


def test_no_valid_cell_is_an_error(tmp_path):
    empty = _write(T0, tmp_path / "empty.tif", np.full(_read(T0).shape, np.nan), np.nan)
    out = tmp_path / "out"
    with pytest.raises(errors.NoValidDataError, match="no valid cell"):
        run(_cfg(empty, out, unit_check="off"), progress=False)
    _no_output(out)
