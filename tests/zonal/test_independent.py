"""``uncertainty_aggregation``: regional bounds of correlated or independent cells (issue 15).

Tiny rasters of 1 ha cells (EPSG:6933, 100 m), worked by hand: "correlated" sums the
cell bounds; "independent" gives ``total ∓ √Σ (hectares × d)²`` with ``d`` a cell's
distance from its central value to its bound, i.e. ``z √Σ (hectares × sd)²`` with
``sd = d / z`` (``(upper − lower) / (2 z)`` for a symmetric interval).
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

import soilmap
from soilmap.errors import ConfigError
from soilmap.landuse.fractions import uniform_fractions
from soilmap.testing import make_grid, make_layer, write_raster
from soilmap.zonal.sums import zonal_sums

EA = "EPSG:6933"
S = np.array([[40.0, 60.0, 80.0], [50.0, 70.0, 90.0]], "float32")
LO, HI = 0.8, 1.1  # an asymmetric interval: 20 % below, 10 % above
CLASSES = np.array([[1, 1, 2], [2, 1, 2]], "uint8")  # 1 cropland, 2 forest


def _grid(shape=(2, 3)):
    return make_grid(shape, crs=EA, res=100.0, origin=(0.0, 100.0 * shape[0]))


def test_squares_by_hand_with_partial_coverage():
    """Region A covers column 0 and half of column 1: coverage 1, 1, 0.5, 0.5.
    Σ (cov × 1 ha × d)² with d = 1, 2, 3, 4 (rows 0/1 of columns 0/1):
    1² + 2² + (0.5 × 3)²... laid out as d = [[1, 3, 5], [2, 4, 6]] →
    1 + 4 + (0.5·3)² + (0.5·4)² = 1 + 4 + 2.25 + 4 = 11.25; a plain sum gives
    1 + 2 + 0.5·3 + 0.5·4 = 6.5."""
    grid = _grid()
    d = make_layer(np.array([[1.0, 3, 5], [2, 4, 6]]), grid)
    area = make_layer(np.ones(grid.shape), grid, units="ha")
    regions = gpd.GeoDataFrame(
        {"region_id": ["A"], "region_name": ["A"]},
        geometry=[shapely.box(0, 0, 150, 200)],
        crs=grid.crs_wkt,
    )
    frac = uniform_fractions(d)
    for kind in ("group", "cell"):
        sums = zonal_sums(
            frac, area, {"d": d, "d2": d}, regions, grid, minmax=False, squares={"d2": kind}
        ).compute()
        assert sums.column("d")[0] == pytest.approx(6.5, rel=1e-12)
        assert sums.column("d2")[0] == pytest.approx(11.25, rel=1e-12)


def _config(tmp_path, aggregation, *, z=1.645, landcover=True, saturation=False):
    grid = _grid()
    write_raster(tmp_path / "s.tif", S, grid, units="t C ha-1")
    write_raster(tmp_path / "lo.tif", S * LO, grid, units="t C ha-1")
    write_raster(tmp_path / "hi.tif", S * HI, grid, units="t C ha-1")
    write_raster(tmp_path / "lc.tif", CLASSES, grid)
    write_raster(tmp_path / "cap.tif", np.full(grid.shape, 64.0, "float32"), grid)
    (tmp_path / "t.csv").write_text("code,group\n1,cropland\n2,forest\n")
    regions = gpd.GeoDataFrame(
        {"rid": ["all3", "left"], "name": ["all", "left"]},
        geometry=[shapely.box(0, 0, 300, 200), shapely.box(0, 0, 150, 200)],
        crs=EA,
    )
    regions.to_file(tmp_path / "r.gpkg")
    zline = f"z = {z}\n" if z else ""
    lc = (
        f'[landcover]\npath = "{tmp_path / "lc.tif"}"\nscheme = "{tmp_path / "t.csv"}"\n'
        if landcover
        else ""
    )
    sat = (
        f'[scenario.saturation]\nmethod = "raster"\nstock = "{tmp_path / "cap.tif"}"\n'
        if saturation
        else ""
    )
    (tmp_path / "run.toml").write_text(
        f"""
[soc]
stock = "{tmp_path / "s.tif"}"
lower = "{tmp_path / "lo.tif"}"
upper = "{tmp_path / "hi.tif"}"
top_cm = 0
bottom_cm = 30
{zline}uncertainty_aggregation = "{aggregation}"

{lc}
[regions]
path = "{tmp_path / "r.gpkg"}"
id_field = "rid"
name_field = "name"

[scenario]
rate = {{ cropland = 0.004, forest = 0.002 }}
horizons = [2050]
{sat}
[output]
dir = "{tmp_path / aggregation}"
"""
    )
    return tmp_path / "run.toml"


def _run(tmp_path, aggregation, **kw):
    return soilmap.run(soilmap.load_config(_config(tmp_path, aggregation, **kw)))


def _rows(result):
    t = pd.DataFrame(result.zonal.drop(columns="geometry"))
    return t.set_index(["region_id", "landuse"])


def test_correlated_and_independent_bounds_by_hand(tmp_path):
    corr, ind = _rows(_run(tmp_path, "correlated")), _rows(_run(tmp_path, "independent"))
    # Region 'all3': cropland cells s = 40, 60, 70 (1 ha each); forest 80, 50, 90.
    crop, forest = np.array([40.0, 60, 70]), np.array([80.0, 50, 90])
    for rows in (corr, ind):
        c = rows.loc[("all3", "cropland")]
        assert c["soc_stock_t"] == pytest.approx(170.0, rel=1e-6)
        assert c["sequestration_t_per_yr"] == pytest.approx(0.004 * 170, rel=1e-6)
    # correlated: sums of cell bounds
    c = corr.loc[("all3", "cropland")]
    assert c["soc_stock_t_lower"] == pytest.approx(0.8 * 170, rel=1e-6)
    assert c["soc_stock_t_upper"] == pytest.approx(1.1 * 170, rel=1e-6)
    # independent: 170 -/+ sqrt(sum((0.2 s)^2)), sqrt(sum((0.1 s)^2))
    c = ind.loc[("all3", "cropland")]
    below, above = 0.2 * np.sqrt((crop**2).sum()), 0.1 * np.sqrt((crop**2).sum())
    assert c["soc_stock_t_lower"] == pytest.approx(170 - below, rel=1e-5)
    assert c["soc_stock_t_upper"] == pytest.approx(170 + above, rel=1e-5)
    assert c["sequestration_t_per_yr_lower"] == pytest.approx(0.004 * (170 - below), rel=1e-5)
    gain = 0.004 * 30
    assert c["gain_2050_t_upper"] == pytest.approx(gain * (170 + above), rel=1e-5)
    assert c["co2e_t_per_yr_lower"] == pytest.approx(
        c["sequestration_t_per_yr_lower"] * 44 / 12, rel=1e-9
    )
    # the all row: cells independent whatever their group; per cell d = 0.2 r_g s
    a = ind.loc[("all3", "all")]
    d_seq = np.r_[0.004 * 0.2 * crop, 0.002 * 0.2 * forest]
    total = 0.004 * crop.sum() + 0.002 * forest.sum()
    assert a["sequestration_t_per_yr"] == pytest.approx(total, rel=1e-6)
    assert a["sequestration_t_per_yr_lower"] == pytest.approx(
        total - np.sqrt((d_seq**2).sum()), rel=1e-5
    )
    stock_all = crop.sum() + forest.sum()
    d_all = 0.2 * np.r_[crop, forest]
    assert a["soc_stock_t_lower"] == pytest.approx(stock_all - np.sqrt((d_all**2).sum()), rel=1e-5)
    # region 'left': column 0 whole (40 cropland, 50 forest), column 1 half (60 cropland,
    # 70 cropland): cropland hectares 1, 0.5, 0.5 → d = 0.2 × (40, 0.5·60, 0.5·70)
    left = ind.loc[("left", "cropland")]
    d = 0.2 * np.array([40.0, 30.0, 35.0])
    assert left["soc_stock_t"] == pytest.approx(105.0, rel=1e-6)
    assert left["soc_stock_t_lower"] == pytest.approx(105 - np.sqrt((d**2).sum()), rel=1e-5)
    # independent intervals are narrower, and ordered everywhere
    for col in ("soc_stock_t", "sequestration_t_per_yr", "gain_2050_t", "co2e_t_per_yr"):
        assert (ind[f"{col}_lower"] >= corr[f"{col}_lower"] - 1e-6).all()
        assert (ind[f"{col}_upper"] <= corr[f"{col}_upper"] + 1e-6).all()
        assert (ind[f"{col}_lower"] <= ind[col] + 1e-9).all()
        assert (ind[col] <= ind[f"{col}_upper"] + 1e-9).all()
    man = json.loads((tmp_path / "independent" / "run.json").read_text())
    assert man["uncertainty_aggregation"].startswith("independent")
    assert "z = 1.645" in man["uncertainty_aggregation"]
    assert man["parameters"]["uncertainty_aggregation"] == "independent"
    man = json.loads((tmp_path / "correlated" / "run.json").read_text())
    assert man["uncertainty_aggregation"].startswith("correlated")


def test_independent_under_a_cap_from_the_cell_bounds(tmp_path):
    """Under a cap the cell bounds are not multiples of the stock: the regional bounds
    come from each cell's own distance to its bounds, read here from the rasters."""
    out = _rows(_run(tmp_path, "independent", saturation=True))
    folder = tmp_path / "independent"
    with (
        rasterio.open(folder / "gain_2050.tif") as c,
        rasterio.open(folder / "gain_2050_lower.tif") as lo,
        rasterio.open(folder / "gain_2050_upper.tif") as hi,
    ):
        cv, lv, hv = (r.read(1).astype("float64") for r in (c, lo, hi))
    a = out.loc[("all3", "all")]
    assert a["gain_2050_t"] == pytest.approx(cv.sum(), rel=1e-5)
    assert a["gain_2050_t_lower"] == pytest.approx(
        cv.sum() - np.sqrt(((cv - lv) ** 2).sum()), rel=1e-5
    )
    assert a["gain_2050_t_upper"] == pytest.approx(
        cv.sum() + np.sqrt(((hv - cv) ** 2).sum()), rel=1e-5
    )
    assert not np.allclose(hv - cv, 0.1 * cv)  # the cap bends the intervals


def test_independent_needs_z(tmp_path):
    with pytest.raises(ConfigError, match="z"):
        soilmap.load_config(_config(tmp_path, "independent", z=None))
    with pytest.raises(ConfigError, match="'correlated'"):
        soilmap.load_config(_config(tmp_path, "quadrature"))


def test_independent_with_fractional_land_use(tmp_path):
    """Land cover at 50 m on the 100 m SOC grid: every SOC cell is split between groups.
    Within a cell the groups share one stock error, so the all row sums each cell's
    deviation over its groups first: d_i = 0.2 s_i Σ_g f_gi r_g."""
    fine = make_grid((4, 6), crs=EA, res=50.0, origin=(0.0, 200.0))
    lc = np.ones((4, 6), "uint8")
    lc[:, 1::2] = 2  # the right half of every SOC cell is forest
    lc[0:2, 0:2] = 1  # the first cell all cropland
    config = _config(tmp_path, "independent")
    write_raster(tmp_path / "lc.tif", lc, fine)
    ind = _rows(soilmap.run(soilmap.load_config(config)))
    f_crop = np.array([[1.0, 0.5, 0.5], [0.5, 0.5, 0.5]])
    rate = 0.004 * f_crop + 0.002 * (1 - f_crop)
    # cropland group row: Σ (f s)², and the all row Σ (s Σ f r)²
    c = ind.loc[("all3", "cropland")]
    assert c["soc_stock_t"] == pytest.approx((f_crop * S).sum(), rel=1e-6)
    assert c["soc_stock_t_lower"] == pytest.approx(
        (f_crop * S).sum() - 0.2 * np.sqrt(((f_crop * S) ** 2).sum()), rel=1e-5
    )
    a = ind.loc[("all3", "all")]
    total = (rate * S).sum()
    assert a["sequestration_t_per_yr"] == pytest.approx(total, rel=1e-6)
    assert a["sequestration_t_per_yr_lower"] == pytest.approx(
        total - 0.2 * np.sqrt(((rate * S) ** 2).sum()), rel=1e-5
    )
    # summing the group rows' squares instead would miss the within-cell covariance
    groups = ind.loc[[("all3", "cropland"), ("all3", "forest")]]
    naive = np.sqrt(
        ((groups["sequestration_t_per_yr"] - groups["sequestration_t_per_yr_lower"]) ** 2).sum()
    )
    assert naive < total - a["sequestration_t_per_yr_lower"] - 1e-6
