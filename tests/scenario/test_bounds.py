"""Uncertainty bounds by interval arithmetic and the saturation deficit (issue 15).

Under a cap the gain is not monotone in the stock (a lower stock has more headroom):
the bounds are the exact minimum and maximum over the stock interval, checked here
against a brute-force search over a fine grid of stock values, and in a real run
(Tigray, ±30 %, Hassink cap) for every cell and every table row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr

from soilmap.scenario.bounds import project_bounds
from soilmap.scenario.model import DEFAULT_FINE_CARBON_SHARE, Saturation, Scenario
from soilmap.scenario.project import project
from soilmap.testing import make_fractions, make_grid, make_layer

GROUPS = ["cropland", "forest", "excluded"]


def _share(frac: xr.DataArray, sat: Saturation) -> xr.DataArray:
    return xr.DataArray(
        np.array([sat.share_for(g) for g in GROUPS], "float32"),
        dims="group",
        coords={"group": frac["group"]},
    )


@pytest.mark.parametrize("growth", ["linear", "compound"])
@pytest.mark.parametrize("zero_one", [False, True])
def test_bounds_equal_brute_force_min_max(growth, zero_one):
    rng = np.random.default_rng(42)
    shape = (4, 6)
    grid = make_grid(shape)
    s = rng.uniform(10, 90, shape).astype("float32")
    cap = rng.uniform(15, 60, shape).astype("float32")
    if zero_one:
        f = np.eye(3)[rng.integers(0, 3, shape)].transpose(2, 0, 1)
    else:
        f = rng.dirichlet([1, 1, 1], shape).transpose(2, 0, 1)
    frac = make_fractions(grid, f.tolist(), GROUPS)
    sc = Scenario(rate={"cropland": 0.01, "forest": 0.004}, horizons=(2030, 2100), growth=growth)
    share = _share(frac, Saturation(fine_fraction=("x.tif",)))
    stock, capl = make_layer(s, grid), make_layer(cap, grid)
    lo_m, hi_m = 0.7, 1.3  # ±30 %
    b = project_bounds(
        stock,
        make_layer(s * lo_m, grid),
        make_layer(s * hi_m, grid),
        frac,
        sc,
        saturation_stock=capl,
        fine_share=share,
    )
    central = project(stock, frac, sc, saturation_stock=capl, fine_share=share)
    # Brute force, independently in numpy: g_g(s) = min(a_g s, max(C - k_g s, 0)) on a
    # fine grid of stock values, summed over the groups with the cell's fractions.
    mults = np.linspace(lo_m, hi_m, 2401)
    k = np.array([0.75, 0.5, 0.65])[:, None, None]
    rates = np.array([0.01, 0.004, 0.0])[:, None, None]
    sv = s[None, None] * mults[:, None, None, None]  # (m, 1, y, x)

    def brute(a):
        g = np.minimum(a * sv, np.clip(cap - k * sv, 0, None))
        return (f[None] * g).sum(axis=1)  # (m, y, x)

    def factor(n):
        return rates * n if growth == "linear" else np.expm1(n * np.log1p(rates))

    expected = {
        "sequestration_rate": brute(rates),
        "co2e_rate": brute(rates) * 44 / 12,
        "gain_2030": brute(factor(10)),
        "gain_2100": brute(factor(80)),
    }
    for key, bf in expected.items():
        lo, hi = b["lower"].cell[key].values, b["upper"].cell[key].values
        c = central.cell[key].values
        # a grid step moves the stock by <= 0.00025 × 90 t/ha, g by <= 1.3 × that
        step = (hi_m - lo_m) / (len(mults) - 1) * s.max() * 1.3 * (44 / 12)
        tol = 1e-5 * np.abs(bf).max() + 1e-6
        assert np.all(lo <= bf.min(0) + tol), key
        assert np.all(hi >= bf.max(0) - tol), key
        np.testing.assert_allclose(lo, bf.min(0), atol=step, err_msg=key)
        np.testing.assert_allclose(hi, bf.max(0), atol=step, err_msg=key)
        assert np.all(lo <= c + tol) and np.all(c <= hi + tol), key
    # the interior maximum is what makes the upper bound: somewhere it beats both ends
    g80 = expected["gain_2100"]
    assert np.any(b["upper"].cell["gain_2100"].values > np.maximum(g80[0], g80[-1]) + 1e-3)
    # per-group layers (the zonal totals) are ordered too
    for key in ("sequestration", "gain_2030", "gain_2100"):
        lo_g = b["lower"].by_group[key].values
        hi_g = b["upper"].by_group[key].values
        c_g = central.by_group[key].values
        ok = np.isfinite(c_g)
        assert np.all(lo_g[ok] <= c_g[ok] + 1e-5) and np.all(c_g[ok] <= hi_g[ok] + 1e-5)


def test_interior_maximum_worked_on_paper():
    """One cropland cell: s = 50 ± 30 % (35–65), Csat = 40 t/ha, share k = 0.75,
    gain by 2100 (80 yr × 0.004 = a = 0.32).  g(s) = min(0.32 s, max(40 − 0.75 s, 0)):
    g(35) = min(11.2, 13.75) = 11.2; g(65) = min(20.8, 0 (40 − 48.75 < 0)) = 0;
    s* = 40 / 1.07 = 37.383 → g = 0.32 × 37.383 = 11.963 (interior maximum);
    central g(50) = min(16, 2.5) = 2.5.  Bounds: [0, 11.963], not [g(35), g(65)]."""
    grid = make_grid((1, 1))
    frac = make_fractions(grid, [[[1.0]]], ["cropland"])
    sc = Scenario(horizons=(2100,))
    share = xr.DataArray(np.array([0.75], "float32"), dims="group", coords={"group": ["cropland"]})
    lay = lambda v: make_layer(np.array([[v]], "float32"), grid)
    b = project_bounds(
        lay(50), lay(35), lay(65), frac, sc, saturation_stock=lay(40), fine_share=share
    )
    c = project(lay(50), frac, sc, saturation_stock=lay(40), fine_share=share)
    assert float(c.cell["gain_2100"].values[0, 0]) == pytest.approx(2.5, rel=1e-5)
    assert float(b["lower"].cell["gain_2100"].values[0, 0]) == pytest.approx(0.0, abs=1e-6)
    assert float(b["upper"].cell["gain_2100"].values[0, 0]) == pytest.approx(
        0.32 * 40 / 1.07, rel=1e-5
    )
    # years to saturation: deficit 40 − 0.75 s over 0.004 s per year, falling with s
    years = {k: float(v.cell["years_to_saturation"].values[0, 0]) for k, v in b.items()}
    assert years["lower"] == pytest.approx(0.0)  # at 65 t/ha the deficit is gone
    assert years["upper"] == pytest.approx((40 - 0.75 * 35) / (0.004 * 35), rel=1e-5)


def test_saturation_deficit_by_hand_with_default_shares_and_a_share_raster():
    """Deficit = Csat − share × SOC; projected stock <= SOC + deficit.
    Cells (s, Csat, group): (60, 50, cropland), (60, 50, forest), (80, 45, grassland).
    Default shares: cropland 0.75, forest 0.5, grassland 0.65 →
    deficits 50 − 45 = 5, 50 − 30 = 20, 45 − 52 < 0 → 0 (at saturation).
    Gains by 2050 (30 yr × 0.004 × s): 7.2, 7.2, 9.6 → capped at 5, 7.2, 0.
    With the old rule (whole SOC vs Csat) all three cells were at saturation."""
    grid = make_grid((1, 3))
    groups = ["cropland", "forest", "grassland"]
    frac = make_fractions(grid, np.eye(3)[:, None, :].tolist(), groups)
    s = make_layer(np.array([[60, 60, 80]], "float32"), grid)
    cap = make_layer(np.array([[50, 50, 45]], "float32"), grid)
    sat = Saturation(fine_fraction=("x.tif",))
    assert [sat.share_for(g) for g in groups] == [0.75, 0.5, 0.65]
    assert DEFAULT_FINE_CARBON_SHARE["forest"] == 0.5
    share = xr.DataArray(
        np.array([sat.share_for(g) for g in groups], "float32"),
        dims="group",
        coords={"group": groups},
    )
    sc = Scenario(horizons=(2050,))
    p = project(s, frac, sc, saturation_stock=cap, fine_share=share)
    np.testing.assert_allclose(p.cell["gain_2050"].values[0], [5.0, 7.2, 0.0], rtol=1e-5)
    at = (p.by_group["at_saturation"] * frac).sum("group").values[0]
    np.testing.assert_array_equal(at, [0, 0, 1])
    # years: 5 / (0.004 × 60) = 20.833; 20 / 0.24 = 83.333; 0
    np.testing.assert_allclose(
        p.cell["years_to_saturation"].values[0], [5 / 0.24, 20 / 0.24, 0.0], rtol=1e-5
    )
    old = project(s, frac, sc, saturation_stock=cap)
    np.testing.assert_array_equal((old.by_group["at_saturation"] * frac).sum("group")[0], 1)
    # A share raster (per cell): 0.9, 0.2, 0.5 → deficits 50 − 54 → 0, 50 − 12 = 38,
    # 45 − 40 = 5 → gains 0, 7.2, 5.
    share_r = make_layer(np.array([[0.9, 0.2, 0.5]], "float32"), grid, units="1")
    pr = project(s, frac, sc, saturation_stock=cap, fine_share=share_r)
    np.testing.assert_allclose(pr.cell["gain_2050"].values[0], [0.0, 7.2, 5.0], rtol=1e-5)


@pytest.mark.realdata
def test_tigray_bounds_ordered_everywhere_under_a_hassink_cap(tmp_path, sample_dir):
    """Issue 15: Tigray (40 % fine fraction, ±30 % stock) had 'lower' 2.53 Mt and
    'upper' 0.001 Mt of 2020–2050 gain around 0.62 Mt central, 87 % of cells with
    lower > upper.  Now every cell of every output and every table row is ordered."""
    import soilmap
    from soilmap.io.raster import read_layout
    from soilmap.testing import write_raster

    grid = read_layout(sample_dir / "ORCDRC_sl1.tif").grid
    write_raster(tmp_path / "fine40.tif", np.full(grid.shape, 40.0, "float32"), grid)
    toml = (sample_dir / "tigray.toml").read_text()
    toml = toml.replace('dir = "soilmap-demo"', f'dir = "{tmp_path / "out"}"')
    write_raster(tmp_path / "unc30.tif", np.full(grid.shape, 30.0, "float32"), grid)
    toml = toml.replace(
        "[soc.layers]",
        f'[soc]\nrelative_uncertainty = "{tmp_path / "unc30.tif"}"\nuncertainty_units = "%"\n\n'
        "[soc.layers]",
    )
    toml += f"""
[scenario.saturation]
method = "hassink1997"
fine_fraction = ["{tmp_path / "fine40.tif"}"]
fine_fraction_units = "%"
"""
    cfg_path = tmp_path / "run.toml"
    # paths of the sample config are relative to the sample folder
    for name in ("ORCDRC", "BLDFIE"):
        for i in range(1, 5):
            toml = toml.replace(f'"{name}_sl{i}.tif"', f'"{sample_dir / f"{name}_sl{i}.tif"}"')
    for name in ("LC_250m_ESACCI2010.tif", "tigray_regions.gpkg"):
        toml = toml.replace(f'"{name}"', f'"{sample_dir / name}"')
    cfg_path.write_text(toml)
    result = soilmap.run(soilmap.load_config(cfg_path))
    out = tmp_path / "out"
    stems = ["soc_stock", "sequestration_rate", "co2e_rate", "gain_2030", "gain_2050"]
    stems.append("years_to_saturation")
    for stem in stems:
        with (
            rasterio.open(out / f"{stem}.tif") as c,
            rasterio.open(out / f"{stem}_lower.tif") as lo,
            rasterio.open(out / f"{stem}_upper.tif") as hi,
        ):
            cv, lv, hv = (r.read(1, masked=True) for r in (c, lo, hi))
        ok = ~(np.ma.getmaskarray(cv) | np.ma.getmaskarray(lv) | np.ma.getmaskarray(hv))
        assert ok.sum() > 1000, stem
        tol = 1e-5 * np.abs(cv.data[ok]).max()
        assert np.all(lv.data[ok] <= cv.data[ok] + tol), stem
        assert np.all(cv.data[ok] <= hv.data[ok] + tol), stem
    t = pd.DataFrame(result.zonal.drop(columns="geometry"))
    cols = [c for c in t.columns if f"{c}_lower" in t.columns and f"{c}_upper" in t.columns]
    assert {"gain_2050_t", "sequestration_t_per_yr", "soc_stock_t"} <= set(cols)
    for col in cols:
        tol = 1e-6 * t[col].abs().max()
        assert (t[f"{col}_lower"] <= t[col] + tol).all(), col
        assert (t[col] <= t[f"{col}_upper"] + tol).all(), col
    total = t[t["landuse"] == "all"]
    print(total[["gain_2050_t_lower", "gain_2050_t", "gain_2050_t_upper"]].sum() / 1e6)
