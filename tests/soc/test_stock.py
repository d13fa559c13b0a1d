import numpy as np
import pytest

from soilmap.errors import InputError
from soilmap.soc.stock import depth_weights, stock_from_layers
from soilmap.testing import make_grid, make_layer, raise_if_dask_computes


def test_trapezoid_weights_0_30_cm():
    # segments 0-5, 5-15, 15-30 cm: half of each segment's thickness to each end (in m)
    w = depth_weights([0, 5, 15, 30], kind="point", top=0, bottom=30)
    np.testing.assert_allclose(w, [0.025, 0.075, 0.125, 0.075])
    assert w.sum() == pytest.approx(0.30)


def test_trapezoid_weights_partial_segment():
    # 0-20 cm from points 0/10/30 with linear profile: the value at 20 cm is the
    # mean of the values at 10 and 30 cm, so 10-20 cm weights 10/4 on z=30 and 30/4 on z=10.
    w = depth_weights([0, 10, 30], kind="point", top=0, bottom=20)
    np.testing.assert_allclose(w * 100, [5.0, 5 + 7.5, 2.5])


def test_interval_weights_and_40_cm():
    w = depth_weights([(0, 5), (5, 15), (15, 30), (30, 60)], kind="interval", top=0, bottom=40)
    np.testing.assert_allclose(w * 100, [5, 10, 15, 10])


def test_no_extrapolation():
    with pytest.raises(InputError, match="do not cover 0–40 cm"):
        depth_weights([0, 5, 15, 30], kind="point", top=0, bottom=40)


@pytest.mark.parametrize("chunks", [None, (2, 3)])
def test_constant_profile_by_hand(chunks):
    # 20 g/kg x 1300 kg/m3 = 26 000 g C/m3; x 0.30 m = 7 800 g C/m2 = 78 t C/ha
    grid = make_grid((4, 5))
    soc = [
        make_layer(np.full(grid.shape, 20.0, "float32"), grid, units="g kg-1", chunks=chunks)
        for _ in range(4)
    ]
    bd = [
        make_layer(np.full(grid.shape, 1.3, "float32"), grid, units="g cm-3", chunks=chunks)
        for _ in range(4)
    ]
    with raise_if_dask_computes():
        stock = stock_from_layers(soc, bd, [0, 5, 15, 30])
    assert stock.attrs["units"] == "t C ha-1"
    assert "coarse fragments not given" in stock.attrs["assumptions"]
    np.testing.assert_allclose(stock.values, 78.0, rtol=1e-6)


def test_coarse_fragments_and_nan():
    grid = make_grid((1, 2))
    soc = [make_layer(np.array([[10.0, np.nan]], "float32"), grid, units="%")]  # 100 g/kg
    bd = [make_layer(np.array([[1000.0, 1000.0]], "float32"), grid, units="kg m-3")]
    cf = [make_layer(np.array([[25.0, 0.0]], "float32"), grid, units="vol %")]
    stock = stock_from_layers(soc, bd, [(0, 30)], kind="interval", coarse_fragments=cf)
    # 100 g/kg x 1000 kg/m3 x 0.75 x 0.3 m = 22 500 g/m2 = 225 t/ha
    np.testing.assert_allclose(stock.values[0, 0], 225.0, rtol=1e-6)
    assert np.isnan(stock.values[0, 1])
    assert stock.attrs["assumptions"] == ""


# --- issue 4: harmonising any set of layers to a chosen depth -----------------------

from soilmap.soc.stock import depth_assumptions, layer_depths, order_by_depth, stock_bounds  # noqa: E402


def test_interval_layers_partly_inside_0_40_record_the_assumption():
    layers = [(0, 5), (5, 15), (15, 30), (30, 60)]
    w = depth_weights(layers, kind="interval", top=0, bottom=40)
    np.testing.assert_allclose(w * 100, [5, 10, 15, 10])
    (note,) = depth_assumptions(layers, kind="interval", top=0, bottom=40)
    assert "30-60 cm taken as uniform" in note and "30-40 cm" in note


def test_stock_0_40_from_interval_layers_by_hand():
    # 10 g/kg x 1000 kg/m3 = 10 000 g C/m3; 0.40 m -> 4000 g C/m2 = 40 t C/ha
    grid = make_grid((2, 2))
    soc = [make_layer(np.full(grid.shape, 10.0, "f4"), grid, units="g kg-1") for _ in range(4)]
    bd = [make_layer(np.full(grid.shape, 1.0, "f4"), grid, units="g cm-3") for _ in range(4)]
    stock = stock_from_layers(
        soc, bd, [(0, 5), (5, 15), (15, 30), (30, 60)], kind="interval", bottom=40
    )
    np.testing.assert_allclose(stock.values, 40.0, rtol=1e-6)
    assert stock.attrs["depth_range_cm"] == "0-40"
    assert "taken as uniform" in stock.attrs["assumptions"]


def test_point_layers_need_coverage_for_0_40():
    with pytest.raises(InputError, match="does not extrapolate"):
        depth_weights([0, 5, 15, 30], kind="point", top=0, bottom=40)


def test_overlapping_or_gapped_intervals_are_errors():
    with pytest.raises(InputError, match="overlap"):
        depth_weights([(0, 30), (0, 5)], kind="interval")
    with pytest.raises(InputError, match="cover 25 cm of 0–30"):
        depth_weights([(0, 5), (10, 30)], kind="interval")


def test_gsnmap_case_percent_carbon_and_percent_fragments():
    # 3.5 % OC x 0.89 g/cm3 x 30 cm x (1 - 8 %) x 100 = 85.97 t C/ha (PROVENANCE formula)
    grid = make_grid((1, 1))
    corg = [make_layer(np.array([[3.5]], "f4"), grid, units="%")]
    bkd = [make_layer(np.array([[0.89]], "f4"), grid, units="g cm-3")]
    cf = [make_layer(np.array([[8.0]], "f4"), grid, units="%")]
    stock = stock_from_layers(corg, bkd, [(0, 30)], kind="interval", coarse_fragments=cf)
    assert float(stock.values[0, 0]) == pytest.approx(3.5 / 100 * 0.89 * 30 * 0.92 * 100, rel=1e-6)


def test_layer_depths_from_names_and_user():
    d, kind = layer_depths([0.0, 5.0], names=["a", "b"], kinds=["point", "point"])
    assert d == [0.0, 5.0] and kind == "point"
    with pytest.raises(InputError, match="its name says"):
        layer_depths([0.0, 5.0], [0, 15], names=["a", "b"], kind="point")
    with pytest.raises(InputError, match="depth of b is unknown"):
        layer_depths([0.0, None], names=["a", "b"], kind="point")
    assert layer_depths([None], [(0, 30)], names=["a"])[1] == "interval"  # pairs say so
    with pytest.raises(InputError, match="kind = 'point'"):
        layer_depths([None], [(0, 30)], names=["a"], kinds=["point", "interval"])
    with pytest.raises(InputError, match="kind = 'point', but the layers are interval layers"):
        layer_depths([(0.0, 30.0)], names=["a"], kinds=["interval"], kind="point")
    assert order_by_depth([15.0, 0.0], [0.0, 15.0], what="bd") == [1, 0]
    with pytest.raises(InputError, match="none at"):
        order_by_depth([15.0, 0.0], [0.0, 5.0], what="bd")


def test_stock_bounds_are_clipped_and_counted():
    grid = make_grid((1, 4))
    stock = make_layer(np.array([[50.0, 50.0, np.nan, 50.0]], "f4"), grid, chunks=(1, 2))
    rel = make_layer(np.array([[0.1, 1.5, 0.1, np.nan]], "f4"), grid, units="1", chunks=(1, 2))
    with raise_if_dask_computes():
        lo, hi, counts, method = stock_bounds(stock, relative=rel)
    np.testing.assert_allclose(lo.values, [[45.0, 0.0, np.nan, np.nan]])
    np.testing.assert_allclose(hi.values, [[55.0, 125.0, np.nan, np.nan]])
    got = {k: int(v.compute()) for k, v in counts.items()}
    assert got["bounds:lower_negative_clipped"] == 1
    assert got["bounds:lower_missing"] == 1  # stock valid, uncertainty missing
    assert "symmetric" in method
