"""Several scenarios in one run: outputs side by side, inputs read once, caps in the table."""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pytest
import rasterio

from soilmap.config import load_config
from soilmap.io.raster import read_layout
from soilmap.pipeline.run import run
from soilmap.scenario.model import DEFAULT_FINE_CARBON_SHARE
from soilmap.testing import write_raster

SCENARIOS = """
[[scenario]]
name = "p4"
rate = 0.004
horizons = [2030, 2050]

[[scenario]]
name = "crop6"
rate = { cropland = 0.006 }
eligible = ["cropland"]
horizons = [2050]
growth = "compound"

[scenario.saturation]
method = "hassink1997"
fine_fraction = ["fine40.tif"]
fine_fraction_units = "%"
"""


@pytest.fixture
def multi(sample_copy, tmp_path):
    text = (sample_copy / "tigray.toml").read_text()
    head = text.split("[scenario]")[0]
    tail = "[output]" + text.split("[output]")[1]
    (sample_copy / "multi.toml").write_text(head + SCENARIOS + tail)
    grid = read_layout(sample_copy / "ORCDRC_sl1.tif").grid
    write_raster(sample_copy / "fine40.tif", np.full(grid.shape, 40.0, "float32"), grid)
    regions = gpd.read_file(sample_copy / "tigray_regions.gpkg")
    regions["emis"] = [2.0e6, 1.5e8]
    regions.to_file(sample_copy / "tigray_regions.gpkg", layer="regions")
    cfg = load_config(sample_copy / "multi.toml").with_output(tmp_path / "out")
    cfg = dataclasses.replace(cfg, regions=dataclasses.replace(cfg.regions, emissions_field="emis"))
    return run(cfg), sample_copy


def test_outputs_side_by_side(multi, sample_run):
    result, _ = multi
    out = result.out_dir
    for name in (
        "soc_stock.tif",
        "landuse.tif",
        "p4/sequestration_rate.tif",
        "p4/gain_2050.tif",
        "crop6/gain_2050.tif",
        "crop6/saturation_stock.tif",
        "crop6/years_to_saturation.tif",
        "crop6/years_to_saturation.qml",
    ):
        assert (out / name).exists(), name
    t = result.zonal.set_index(["scenario", "region_id", "landuse"])
    single = sample_run.zonal.set_index(["region_id", "landuse"])
    # the plain scenario gives exactly the single-scenario numbers
    for col in ("area_ha", "soc_stock_t", "sequestration_t_per_yr", "gain_2050_t"):
        assert t.loc[("p4", "ET0104", "all"), col] == pytest.approx(
            single.loc[("ET0104", "all"), col], rel=1e-9
        )
    assert t.loc[("crop6", "ET0104", "grassland"), "sequestration_t_per_yr"] == 0


def test_saturation_cap_against_numpy(multi):
    result, sample = multi
    out = result.out_dir

    def read(name):
        with rasterio.open(sample / name) as src:
            return src.read(1, masked=True).astype("float64").filled(np.nan)

    bd = [read(f"BLDFIE_sl{i}.tif") for i in range(1, 5)]
    w = [0.025, 0.075, 0.125, 0.075]  # trapezoid weights (m) over 0/5/15/30 cm
    csat = 4.09 + 0.37 * 40.0  # g C/kg
    sat = sum(wi * csat * b * 0.01 for wi, b in zip(w, bd, strict=True))
    with rasterio.open(out / "crop6/saturation_stock.tif") as src:
        got = src.read(1, masked=True).filled(np.nan)
        assert src.units[0] == "t C ha-1"
    np.testing.assert_allclose(got, sat, rtol=1e-5)
    with (
        rasterio.open(out / "soc_stock.tif") as s,
        rasterio.open(out / "crop6/gain_2050.tif") as g,
        rasterio.open(out / "landuse.tif") as lu,
    ):
        s0, gain, codes = s.read(1, masked=True), g.read(1, masked=True), lu.read(1)
    crop = (codes == 1) & ~s0.mask
    # The deficit is on fine-fraction carbon: Csat - share x SOC (cropland default).
    share = DEFAULT_FINE_CARBON_SHARE["cropland"]
    deficit = np.clip(sat - share * s0, 0, None)
    expected = np.minimum(s0 * (1.006**30 - 1), deficit)
    np.testing.assert_allclose(gain[crop], expected[crop], rtol=1e-4, atol=1e-4)
    assert np.all(gain[crop] <= deficit[crop] + 1e-3)
    t = result.zonal.set_index(["scenario", "region_id", "landuse"])
    row = t.loc[("crop6", "ET0104", "all")]
    assert 0 <= row["saturated_share"] <= 1
    assert row["area_without_saturation_data_ha"] == 0


def test_emissions_offset_share(multi):
    result, _ = multi
    t = result.zonal.set_index(["scenario", "region_id", "landuse"])
    row = t.loc[("p4", "ET0104", "all")]
    assert row["emissions_t_co2e_per_yr"] == 2.0e6
    assert row["offset_share"] == pytest.approx(row["co2e_t_per_yr"] / 2.0e6)


def test_manifest_lists_every_scenario(multi):
    result, _ = multi
    names = [s["name"] for s in result.manifest["parameters"]["scenarios"]]
    assert names == ["p4", "crop6"]
    sat = result.manifest["parameters"]["scenarios"][1]["saturation"]
    assert sat["intercept"] == 4.09 and "Hassink" in sat["reference"]


def test_zonal_from_stock_multiples_equals_per_group_layers(sample_copy):
    """Totals derived from the stock's (scalar rates, no cap) equal the general route."""
    from soilmap.keys import LayerKey
    from soilmap.pipeline.plan import plan
    from soilmap.zonal.sums import zonal_sums

    text = (sample_copy / "tigray.toml").read_text()
    head = text.split("[scenario]")[0]
    tail = "[output]" + text.split("[output]")[1]
    first = SCENARIOS.split('[[scenario]]\nname = "crop6"')[0]
    (sample_copy / "p.toml").write_text(head + first + tail)
    p = plan(load_config(sample_copy / "p.toml"))
    proj = p.projections["p4"]
    assert set(proj.stock_multiples) == {"sequestration", "gain_2030", "gain_2050"}
    derived = p.zonal().compute()
    layers = {
        LayerKey("soc_stock"): p.stock,
        **{LayerKey(k, "p4"): v for k, v in proj.by_group.items()},
    }
    general = zonal_sums(
        p.fractions, p.area_ha, layers, p.regions, p.grid, minmax=(LayerKey("soc_stock"),)
    ).compute()
    for name in layers:
        a = derived.values[..., 1 + derived.layers.index(name)]
        b = general.values[..., 1 + general.layers.index(name)]
        # float32 per-group layers (rate rounded to float32) vs exact coefficients.
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    # The run sums per group index (land cover on the SOC grid), the general route
    # per fraction plane: same cells, another float64 summation order.
    assert p.group_index is not None
    np.testing.assert_allclose(derived.values[..., 0], general.values[..., 0], rtol=1e-14)


# ------------------------------------------------ config values checked before computing


def test_misspelt_emissions_field_fails_before_anything_is_computed(sample_copy, tmp_path):
    """Regression: a wrong emissions_field used to fail only after every raster was
    computed, because the regions file was read again after the compute."""
    from soilmap.errors import InputError
    from soilmap.testing import raise_if_dask_computes

    cfg = load_config(sample_copy / "tigray.toml").with_output(tmp_path / "out")
    cfg = dataclasses.replace(cfg, regions=dataclasses.replace(cfg.regions, emissions_field="emis"))
    with raise_if_dask_computes(max_computes=0), pytest.raises(InputError) as err:
        run(cfg)
    message = str(err.value)
    assert "'emis'" in message and "emissions_field" in message
    assert "region_id, region_name" in message  # the fields the file does have
    assert not (tmp_path / "out").exists()


def test_emissions_field_with_text_values_is_refused_before_computing(sample_copy, tmp_path):
    from soilmap.errors import InputError
    from soilmap.testing import raise_if_dask_computes

    regions = gpd.read_file(sample_copy / "tigray_regions.gpkg")
    regions["emis"] = ["2e6", "lots"]
    regions.to_file(sample_copy / "tigray_regions.gpkg", layer="regions")
    cfg = load_config(sample_copy / "tigray.toml").with_output(tmp_path / "out")
    cfg = dataclasses.replace(cfg, regions=dataclasses.replace(cfg.regions, emissions_field="emis"))
    with raise_if_dask_computes(max_computes=0), pytest.raises(InputError, match="'lots'"):
        run(cfg)
    assert not (tmp_path / "out").exists()
