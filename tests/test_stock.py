import numpy as np
import pytest

from soilmap.errors import InputError
from soilmap.stock import depth_weights, stock_from_layers
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
