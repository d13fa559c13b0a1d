"""Saturation caps, rate rasters and years to saturation, with numbers worked on paper."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from realdata import DATA

from soilmap.errors import ConfigError
from soilmap.scenario.model import Saturation, Scenario, saturation_concentration
from soilmap.scenario.project import project
from soilmap.testing import make_fractions, make_grid, make_layer, raise_if_dask_computes


@pytest.mark.parametrize("chunks", [None, (1, 2)])
def test_cap_binds_exactly_where_it_should(chunks):
    grid = make_grid((1, 3))
    s0 = make_layer(np.array([[50, 50, 60]], "float32"), grid, chunks=chunks)
    # headroom 4, 100, none (already above saturation)
    sat = make_layer(np.array([[54, 150, 55]], "float32"), grid, chunks=chunks)
    frac = make_fractions(grid, [[[1, 1, 1]]], ["cropland"], chunks=chunks)
    sc = Scenario(start_year=2020, horizons=(2030, 2050))
    with raise_if_dask_computes():
        proj = project(s0, frac, sc, saturation_stock=sat)
    out = {k: v.values for k, v in proj.cell.items()}
    # 0.004 x 50 = 0.2 t/yr; 10 yr -> 2.0 (below the cap of 4); 30 yr -> 6.0 capped to 4.0
    np.testing.assert_allclose(out["sequestration_rate"][0], [0.2, 0.2, 0.0], rtol=1e-6)
    np.testing.assert_allclose(out["gain_2030"][0], [2.0, 2.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(out["gain_2050"][0], [4.0, 6.0, 0.0], rtol=1e-6)
    # (54 - 50) / 0.2 = 20 years; (150 - 50) / 0.2 = 500; already above -> 0
    np.testing.assert_allclose(out["years_to_saturation"][0], [20.0, 500.0, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(proj.by_group["at_saturation"].values[0, 0], [0, 0, 1])


def test_years_to_saturation_compound():
    grid = make_grid((1, 1))
    proj = project(
        make_layer(np.array([[50.0]], "float32"), grid),
        make_fractions(grid, [[[1.0]]], ["forest"]),
        Scenario(growth="compound", horizons=(2040,)),
        saturation_stock=make_layer(np.array([[54.0]], "float32"), grid),
    )
    expected = math.log(54 / 50) / math.log(1.004)  # 19.28 years
    assert float(proj.cell["years_to_saturation"].values[0, 0]) == pytest.approx(expected, 1e-5)


def test_missing_saturation_data_is_flagged_not_silent():
    grid = make_grid((1, 2))
    proj = project(
        make_layer(np.array([[50.0, 50.0]], "float32"), grid),
        make_fractions(grid, [[[1.0, 1.0]]], ["cropland"]),
        Scenario(),
        saturation_stock=make_layer(np.array([[60.0, np.nan]], "float32"), grid),
    )
    assert np.isnan(proj.cell["gain_2030"].values[0, 1])
    np.testing.assert_array_equal(proj.by_group["no_saturation_data"].values[0, 0], [0, 1])


def test_hassink_concentration_and_model_checks():
    grid = make_grid((1, 1))
    fine = make_layer(np.array([[40.0]], "float32"), grid, units="%")
    csat = saturation_concentration(fine, Saturation(fine_fraction=("x.tif",)))
    # 4.09 + 0.37 x 40 = 18.89 g C/kg
    assert float(csat.values[0, 0]) == pytest.approx(18.89, rel=1e-6)
    assert csat.attrs["units"] == "g kg-1"
    with pytest.raises(ConfigError, match="fitted on the 'lt20um' fraction"):
        Saturation(fine_fraction=("x.tif",), fine_fraction_definition="clay+silt")
    with pytest.raises(ConfigError, match="needs intercept and slope"):
        Saturation(method="linear", fine_fraction=("x.tif",))
    # Issue 15: the six2002 coefficients could not be traced to the paper: refused, and
    # a linear model needs its citation.
    with pytest.raises(ConfigError, match="could not be traced to Six et al"):
        Saturation(
            method="six2002",  # type: ignore[arg-type]
            fine_fraction=("x.tif",),
            fine_fraction_definition="clay+silt",
        )
    with pytest.raises(ConfigError, match="needs citation"):
        Saturation(method="linear", intercept=2.0, slope=0.3, fine_fraction=("x.tif",))
    lin = Saturation(
        method="linear",
        intercept=2.0,
        slope=0.3,
        citation="own fit, 2024",
        fine_fraction=("x.tif",),
        fine_fraction_definition="clay+silt",
    )
    assert lin.coefficients == (2.0, 0.3)
    assert lin.to_dict()["reference"] == "own fit, 2024"


def test_rate_raster_applies_to_eligible_groups_only():
    grid = make_grid((1, 2))
    rate = make_layer(np.array([[0.01, 0.002]], "float32"), grid, units="yr-1")
    frac = make_fractions(grid, [[[1.0, 0.5]], [[0.0, 0.5]]], ["cropland", "excluded"])
    proj = project(
        make_layer(np.array([[40.0, 40.0]], "float32"), grid),
        frac,
        Scenario(horizons=(2025,)),
        rate_raster=rate,
    )
    # 0.01 x 40 = 0.4; second cell: half cropland at 0.002 x 40 = 0.08 -> 0.04 per cell ha
    np.testing.assert_allclose(proj.cell["sequestration_rate"].values[0], [0.4, 0.04], rtol=1e-6)
    np.testing.assert_allclose(proj.by_group["sequestration"].values[1, 0], [0.0, 0.0])


finite = st.floats(0, 400, allow_nan=False, width=32)


@settings(max_examples=80, deadline=None)
@given(
    s0=finite,
    ssat=finite,
    rate=st.floats(0, 0.05),
    share=st.floats(0, 1),
    growth=st.sampled_from(["linear", "compound"]),
)
def test_cap_never_exceeded_and_no_negative_gains(s0, ssat, rate, share, growth):
    grid = make_grid((1, 1))
    frac = make_fractions(grid, [[[share]], [[1 - share]]], ["cropland", "excluded"])
    sc = Scenario(rate=rate, horizons=(2030, 2100), growth=growth, eligible=("cropland",))
    proj = project(
        make_layer(np.array([[s0]], "float32"), grid),
        frac,
        sc,
        saturation_stock=make_layer(np.array([[ssat]], "float32"), grid),
    )
    for year in (2030, 2100):
        g = proj.by_group[f"gain_{year}"].values[:, 0, 0]
        assert np.all(g >= 0)
        assert g[1] == 0  # excluded land gains nothing
        assert s0 + g[0] <= max(ssat, s0) * (1 + 1e-6) + 1e-4  # never above the cap
    assert proj.cell["sequestration_rate"].values[0, 0] >= 0


# --------------------------------------- the cap reuses the SOC input's opened layers


GSNMAP = DATA / "bhutan_gsnmap"
BT_REGIONS = DATA / "gsocseq" / "bhutan_admin1.gpkg"


@pytest.mark.realdata
def test_capped_scenario_on_a_product_preset(tmp_path):
    """Regression: a saturation cap on layer properties given through a product preset
    failed with a UnitsError about bulk density (the cap reopened the bulk density
    without the preset's units).  The cap must use the very layers of the stock."""
    import rasterio

    from soilmap.config import load_config
    from soilmap.io.raster import read_layout
    from soilmap.pipeline.plan import plan
    from soilmap.testing import write_raster

    corg = GSNMAP / "BT-GSNM-CORG-2024-0-30-MEAN.tif"
    grid = read_layout(corg).grid
    write_raster(tmp_path / "fine40.tif", np.full(grid.shape, 40.0, "float32"), grid)
    (tmp_path / "run.toml").write_text(
        f"""
[soc]
product = "gsnmap"

[soc.layers]
content = ["{corg}"]
bulk_density = ["{GSNMAP / "BT-GSNM-BKD-2024-0-30-MEAN.tif"}"]
coarse_fragments = ["{GSNMAP / "BT-GSNM-CFRAGF-2024-0-30-MEAN.tif"}"]

[regions]
path = "{BT_REGIONS}"
id_field = "id"

[scenario]
name = "capped"

[scenario.saturation]
method = "hassink1997"
fine_fraction = ["fine40.tif"]
fine_fraction_units = "%"

[output]
dir = "out"
"""
    )
    p = plan(load_config(tmp_path / "run.toml"))
    cap = p.layers["saturation_stock"]
    assert cap.attrs["units"] == "t C ha-1"
    # The stock is linear in the carbon content: with the same bulk density, fragments
    # and depth, cap / stock = Csat / C = (4.09 + 0.37 x 40) g kg-1 / (CORG % x 10).
    with rasterio.open(corg) as src:
        c_g_per_kg = src.read(1, masked=True).filled(np.nan).astype("float64") * 10.0
    stock, capped = p.stock.values.astype("float64"), cap.values.astype("float64")
    ok = np.isfinite(stock) & np.isfinite(capped) & (c_g_per_kg > 0)
    assert ok.sum() > 1000
    np.testing.assert_allclose(
        capped[ok] / stock[ok], (4.09 + 0.37 * 40.0) / c_g_per_kg[ok], rtol=1e-5
    )
