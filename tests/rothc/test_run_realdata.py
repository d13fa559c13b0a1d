"""``soilmap rothc run`` on real soil data: Bhutan's GSNmap 0-30 cm SOC and clay (FAO GloSIS).

The climate is NOT Bhutan's: no monthly climate rasters ship with soilmap, so every cell
gets the Rothamsted site climate of the official RothC example (first year of
``RothC_Py/RothC_input.dat``), written as 12-band rasters on the GSNmap grid.  The run
checks soilmap's machinery on real soil rasters (units, nodata, calibration), not
Bhutan's sequestration.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from gridworld import SITE_EVAP, SITE_RAIN, SITE_TEMP
from realdata import need_data

from soilmap.cli.main import cli
from soilmap.datasets import fetch

#: A 0.15° box in Bhutan's west-central valleys (lon/lat), ~67 x 67 GSNmap cells.
BBOX = (90.0, 27.3, 90.15, 27.45)


def _site_climate(path, values, like, unit):
    with rasterio.open(like) as src:
        profile = src.profile | {"count": 12, "dtype": "float32", "nodata": -9999.0}
        shape = (src.height, src.width)
    profile |= {"compress": "deflate", "tiled": True, "blockxsize": 512, "blockysize": 512}
    with rasterio.open(path, "w", **profile) as dst:
        for b, v in enumerate(values, start=1):
            dst.write(np.full(shape, v, "float32"), b)
            dst.set_band_unit(b, unit)
            dst.set_band_description(b, f"Rothamsted site climate, month {b} (generated)")
    return path


def _read(path):
    with rasterio.open(path) as src:
        a = src.read(1, masked=True).astype("float64")
        return a.filled(np.nan), src.transform


@pytest.mark.realdata
def test_bhutan_gsnmap_with_the_site_climate(tmp_path):
    files = {k: v for k, v in dict(need_data(lambda: fetch("bhutan_gsnmap"))).items()}
    path = {p: files[f"BT-GSNM-{p}-2024-0-30-MEAN.tif"] for p in ("CORG", "BKD", "CFRAGF", "CLAY")}
    for name, values, unit in (
        ("t", SITE_TEMP, "degC"),
        ("p", SITE_RAIN, "mm"),
        ("e", SITE_EVAP, "mm"),
    ):
        _site_climate(tmp_path / f"{name}.tif", values, path["CLAY"], unit)
    cfg = tmp_path / "bhutan_rothc.toml"
    cfg.write_text(
        f"""
[soc]
product = "gsnmap"
[soc.layers]
content = ["{path["CORG"]}"]
bulk_density = ["{path["BKD"]}"]
coarse_fragments = ["{path["CFRAGF"]}"]

[output]
dir = "out"

[run]
extent = "bbox"
bbox = {list(BBOX)}

[rothc]
clay = "{path["CLAY"]}"
clay_units = "%"
land_use = "cropland"     # no land cover in the test data: every cell as cropland
horizons = [20]

[rothc.climate]           # generated: the Rothamsted site climate everywhere
temperature = "t.tif"
precipitation = "p.tif"
evaporation = "e.tif"
"""
    )
    res = CliRunner().invoke(cli, ["rothc", "run", str(cfg)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "out" / "rothc"
    manifest = json.loads((out / "run.json").read_text())
    status = manifest["cells"]["status"]
    t0, transform = _read(out / "soc_t0.tif")
    assert status["calibrated"] == int(np.isfinite(t0).sum()) > 3000
    # The observed stock by hand: OC % x 10 (g/kg) x BD (g/cm3) x 30 cm x (1 - CF) x 0.1.
    with rasterio.open(path["CORG"]) as src:  # the run's window on the GSNmap grid
        row = round((transform.f - src.transform.f) / src.transform.e)
        col = round((transform.c - src.transform.c) / src.transform.a)
    window = rasterio.windows.Window(col, row, t0.shape[1], t0.shape[0])

    def band(p):
        with rasterio.open(path[p]) as src:
            return src.read(1, window=window, masked=True).astype("float64").filled(np.nan)

    stock = band("CORG") * 10 * band("BKD") * 30 * (1 - band("CFRAGF") / 100) * 0.1
    ok = np.isfinite(t0)
    # No warm-up: t0 is the calibrated equilibrium, i.e. the observed stock (float32 maps).
    np.testing.assert_allclose(t0[ok], stock[ok], rtol=2e-6)
    bau, _ = _read(out / "soc_BAU_20yr.tif")
    ssm3, _ = _read(out / "soc_SSM3_20yr.tif")
    np.testing.assert_allclose(bau[ok], t0[ok], rtol=2e-6)  # same climate and inputs: steady
    assert (ssm3[ok] > t0[ok]).all()
    share, _ = _read(out / "attainable_share_of_target_SSM3.tif")
    np.testing.assert_allclose(share[ok], (ssm3 - t0)[ok] / (0.004 * t0[ok] * 20), rtol=1e-4)
    totals = {t["scenario"]: t for t in manifest["totals"]}
    assert (
        0
        < totals["SSM1"]["attainable_share_of_target"]
        < totals["SSM3"]["attainable_share_of_target"]
    )
