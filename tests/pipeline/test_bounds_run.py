"""Lower/upper SOC bounds travel through the same projection to every output and total."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from soilmap.cli.main import cli


@pytest.fixture
def bounds_run(tmp_path, sample_run, sample_dir):
    src = sample_run.out_dir / "soc_stock.tif"
    with rasterio.open(src) as s:
        stock, profile = s.read(1, masked=True), s.profile
    profile.update(driver="GTiff")
    for name, factor in (("lower", 0.9), ("upper", 1.1)):
        with rasterio.open(tmp_path / f"{name}.tif", "w", **profile) as dst:
            dst.write(np.ma.filled(stock * factor, profile["nodata"]).astype("float32"), 1)
            dst.set_band_unit(1, "t C ha-1")
    config = tmp_path / "bounds.toml"
    config.write_text(f"""
[soc]
stock = "{src}"
units = "t C ha-1"
lower = "{tmp_path / "lower.tif"}"
upper = "{tmp_path / "upper.tif"}"

[landcover]
path = "{sample_dir / "LC_250m_ESACCI2010.tif"}"
scheme = "esa_cci_lc"

[regions]
path = "{sample_dir / "tigray_regions.gpkg"}"
id_field = "region_id"
name_field = "region_name"

[output]
dir = "{tmp_path / "out"}"
""")
    r = CliRunner().invoke(cli, ["-q", "run", str(config)])
    assert r.exit_code == 0, r.output
    return tmp_path / "out"


def test_bounds_in_rasters_and_table(bounds_run, sample_run):
    out = bounds_run
    for stem in (
        "soc_stock_lower",
        "soc_stock_upper",
        "sequestration_rate_lower",
        "sequestration_rate_upper",
        "gain_2050_lower",
        "co2e_rate_upper",
    ):
        assert (out / f"{stem}.tif").exists(), stem
    with (
        rasterio.open(out / "sequestration_rate.tif") as c,
        rasterio.open(out / "sequestration_rate_lower.tif") as lo,
    ):
        central, lower = c.read(1, masked=True), lo.read(1, masked=True)
        assert lo.units[0] == "t C ha-1 yr-1"
    np.testing.assert_allclose(lower, 0.9 * central, rtol=1e-5, atol=1e-6)
    import pandas as pd

    t = pd.read_csv(out / "zonal_stats.csv").set_index(["region_id", "landuse"])
    row = t.loc[("ET0104", "all")]
    for col in (
        "soc_stock_t",
        "sequestration_t_per_yr",
        "co2e_t_per_yr",
        "gain_2030_t",
        "gain_2050_t",
    ):
        assert row[f"{col}_lower"] == pytest.approx(0.9 * row[col], rel=1e-5)
        assert row[f"{col}_upper"] == pytest.approx(1.1 * row[col], rel=1e-5)
    # the central numbers are those of the run the stock came from
    ref = sample_run.zonal.set_index(["region_id", "landuse"]).loc[("ET0104", "all")]
    assert row["soc_stock_t"] == pytest.approx(ref["soc_stock_t"], rel=1e-6)


def test_manifest_states_units_conversions_and_bounds(bounds_run):
    man = json.loads((bounds_run / "run.json").read_text())
    soc = man["soc_inputs"]
    assert soc["stock"]["units"] == "t C ha-1"
    assert soc["uncertainty"] is not None
    units = man["outputs"]["zonal_stats"]["columns_units"]
    # the depth of the stock travels into the table units (issue 15)
    assert units["sequestration_t_per_yr_lower"] == "t C yr-1 (0-30 cm)"
