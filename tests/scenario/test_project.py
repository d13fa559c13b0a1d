import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soilmap.errors import ConfigError
from soilmap.landuse.fractions import fractions_from_index
from soilmap.scenario.model import Scenario
from soilmap.scenario.project import project
from soilmap.testing import make_fractions, make_grid, make_layer, raise_if_dask_computes


def test_linear_and_compound_gain_after_20_years():
    lin = Scenario(start_year=2020, horizons=(2040,))
    comp = Scenario(start_year=2020, horizons=(2040,), growth="compound")
    assert lin.gain_factor("cropland", 2040) == pytest.approx(0.08)
    assert comp.gain_factor("cropland", 2040) == pytest.approx(1.004**20 - 1)
    assert round(comp.gain_factor("cropland", 2040) * 100, 2) == 8.31
    assert lin.gain_factor("excluded", 2040) == 0.0


def _three_groups(chunks):
    """A 2 x 3 stock and its cropland / forest / excluded shares per cell."""
    grid = make_grid((2, 3))
    stock = make_layer(np.array([[50, 50, 50], [100, np.nan, 80]], "float32"), grid, chunks=chunks)
    frac = make_fractions(
        grid,
        [
            [[1, 0.6, 0], [0.5, 1, 0]],
            [[0, 0.4, 0], [0.5, 0, 0]],
            [[0, 0, 1], [0, 0, 0]],
        ],
        ["cropland", "forest", "excluded"],
        chunks=chunks,
    )
    return grid, stock, frac


@pytest.mark.parametrize("chunks", [None, (1, 2), (2, 3)])
def test_project_by_hand(chunks):
    _grid, stock, frac = _three_groups(chunks)
    sc = Scenario(
        rate={"cropland": 0.004, "forest": 0.002},
        start_year=2020,
        horizons=(2030,),
        eligible=("cropland", "forest"),
    )
    with raise_if_dask_computes():
        out = project(stock, frac, sc).cell
    seq = out["sequestration_rate"].values
    # cell (0,1): 50 x (0.6 x 0.004 + 0.4 x 0.002) = 0.16
    np.testing.assert_allclose(seq[0], [0.2, 0.16, 0.0], rtol=1e-6)
    # cell (1,0): 100 x (0.5 x 0.004 + 0.5 x 0.002) = 0.3; (1,1) no stock; (1,2) no land use
    np.testing.assert_allclose(seq[1, 0], 0.3, rtol=1e-6)
    assert np.isnan(seq[1, 1]) and np.isnan(seq[1, 2])
    np.testing.assert_allclose(out["gain_2030"].values[0], [2.0, 1.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(out["co2e_rate"].values[0, 0], 0.2 * 44 / 12, rtol=1e-6)
    assert out["gain_2030"].attrs["units"] == "t C ha-1"
    assert out["sequestration_rate"].attrs["units"] == "t C ha-1 yr-1"


@pytest.mark.parametrize(
    "bad",
    [
        {"rate": -0.1},
        {"rate": 1.5},
        {"horizons": (2010,)},
        {"growth": "exponential"},
        {"horizons": ()},
        {"name": "bad name!"},
    ],
)
def test_invalid_scenarios(bad):
    with pytest.raises(ConfigError):
        Scenario(**bad)


finite = st.floats(0, 500, allow_nan=False, width=32)


@settings(max_examples=60, deadline=None)
@given(s0=finite, rate=st.floats(0, 0.05), k=st.floats(0, 10), share=st.floats(0, 1))
def test_linear_in_rate_and_stock_and_non_negative(s0, rate, k, share):
    grid = make_grid((1, 1))
    frac = make_fractions(grid, [[[share]], [[1 - share]]], ["cropland", "excluded"])

    def seq(stock, r):
        sc = Scenario(rate=r, horizons=(2050,), eligible=("cropland",))
        out = project(make_layer(np.array([[stock]], "float32"), grid), frac, sc).cell
        return float(out["sequestration_rate"].values[0, 0]), float(out["gain_2050"].values[0, 0])

    base, gain = seq(s0, rate)
    assert base >= 0 and gain >= 0
    assert base == pytest.approx(s0 * rate * share, rel=1e-5, abs=1e-6)
    assert gain == pytest.approx(30 * base, rel=1e-5, abs=1e-5)
    if rate * k < 1:
        assert seq(s0, rate * k)[0] == pytest.approx(k * base, rel=1e-4, abs=1e-5)
    assert seq(s0 * k, rate)[0] == pytest.approx(k * base, rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("growth", ["linear", "compound"])
@pytest.mark.parametrize("chunks", [None, (1, 2)])
def test_stock_multiples_are_the_per_group_layers(growth, chunks):
    _grid, stock, frac = _three_groups(chunks)
    sc = Scenario(
        rate={"cropland": 0.004, "forest": 0.002},
        start_year=2020,
        horizons=(2030, 2050),
        eligible=("cropland", "forest"),
        growth=growth,
    )
    with raise_if_dask_computes():
        proj = project(stock, frac, sc)
    m = proj.stock_multiples
    np.testing.assert_array_equal(m["sequestration"], [0.004, 0.002, 0.0])
    if growth == "linear":
        np.testing.assert_allclose(m["gain_2050"], [0.12, 0.06, 0.0], rtol=1e-15)
    else:
        np.testing.assert_allclose(m["gain_2030"], [1.004**10 - 1, 1.002**10 - 1, 0.0], rtol=1e-14)
    s0 = stock.values.copy()
    s0[1, 2] = np.nan  # no land use there: not projected
    for key, coef in m.items():
        # The per-group layer itself is coefficient x stock (float32 layers).
        layer = proj.by_group[key].values
        np.testing.assert_allclose(layer, coef[:, None, None] * s0[None], rtol=2e-7)
    for key, cell in (("sequestration", "sequestration_rate"), ("gain_2050", "gain_2050")):
        # The cell map from the multiples equals Σ_g f_g × layer_g, the general route.
        general = (frac * proj.by_group[key]).sum("group").where(np.isfinite(s0)).values
        np.testing.assert_allclose(proj.cell[cell].values, general, rtol=3e-7)


def test_no_stock_multiples_with_a_cap_or_a_rate_raster():
    grid, stock, frac = _three_groups(None)
    sc = Scenario(start_year=2020, horizons=(2030,), eligible=("cropland", "forest"))
    cap = make_layer(np.full(grid.shape, 60.0, "float32"), grid)
    assert project(stock, frac, sc, saturation_stock=cap).stock_multiples == {}
    rate = make_layer(np.full(grid.shape, 0.004, "float32"), grid, units="yr-1")
    assert project(stock, frac, sc, rate_raster=rate).stock_multiples == {}


@pytest.mark.parametrize("growth", ["linear", "compound"])
def test_group_index_gives_the_same_cell_maps(growth):
    """0/1 land use as a group index: lookups give the values of the sums over groups."""
    grid = make_grid((3, 4))
    rng = np.random.default_rng(4)
    stock = rng.gamma(4.0, 15.0, grid.shape).astype("float32")
    stock[0, 0] = np.nan
    stock = make_layer(stock, grid, chunks=(2, 3))
    idx = rng.integers(-1, 3, grid.shape).astype("int8")
    index = make_layer(idx, grid, units="1", chunks=(2, 3), name="group_index")
    index.attrs["groups"] = ["cropland", "forest", "excluded"]
    frac = fractions_from_index(index)
    sc = Scenario(
        rate={"cropland": 0.004, "forest": 0.002},
        start_year=2020,
        horizons=(2030, 2050),
        eligible=("cropland", "forest"),
        growth=growth,
    )
    with raise_if_dask_computes():
        by_index = project(stock, frac, sc, group_index=index)
        by_planes = project(stock, frac, sc)
    assert set(by_index.cell) == set(by_planes.cell)
    for name, layer in by_index.cell.items():
        np.testing.assert_array_equal(layer.values, by_planes.cell[name].values, err_msg=name)
    assert np.isnan(by_index.cell["sequestration_rate"].values[idx < 0]).all()
