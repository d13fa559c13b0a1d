import numpy as np
import pytest
import xarray as xr

from soilmap.errors import UnitsError
from soilmap.units import convert, parse_unit


@pytest.mark.parametrize(
    ("text", "quantity", "factor"),
    [
        ("t C ha-1", "stock", 1.0),
        ("Mg C/ha", "stock", 1.0),
        ("kg C m-2", "stock", 10.0),  # 1 kg/m2 = 10 000 kg/ha = 10 t/ha
        ("g C m-2", "stock", 0.01),
        ("g/kg", "concentration", 1.0),
        ("dg kg-1", "concentration", 0.1),
        ("%", "concentration", 10.0),
        ("kg m-3", "bulk_density", 1.0),
        ("g cm-3", "bulk_density", 1000.0),
        ("cg/cm3", "bulk_density", 10.0),
        ("vol %", "fraction", 0.01),
        ("cm3 dm-3", "fraction", 0.001),
    ],
)
def test_parse_unit_factors(text, quantity, factor):
    u = parse_unit(text)
    assert u.quantity == quantity
    assert u.factor == pytest.approx(factor)


def test_unknown_unit_lists_known_ones():
    with pytest.raises(UnitsError, match="unknown unit 'furlongs'.*t C ha-1"):
        parse_unit("furlongs", quantity="stock", what="SOC stock")


def test_wrong_quantity_is_named():
    with pytest.raises(UnitsError, match="measures concentration"):
        parse_unit("g kg-1", quantity="stock")


def test_convert_kg_m2_to_t_ha_is_lazy_and_sets_units():
    da = xr.DataArray(
        np.array([[5.0, 0.5]], dtype="float32"),
        dims=("y", "x"),
        attrs={"units": "kg C m-2", "history": ""},
    ).chunk()
    out = convert(da, "t C ha-1")
    assert out.attrs["units"] == "t C ha-1"
    assert "convert 'kg C m-2' -> 't C ha-1'" in out.attrs["history"]
    np.testing.assert_allclose(out.values, [[50.0, 5.0]])


def test_convert_without_units_fails():
    with pytest.raises(UnitsError, match="has no units"):
        convert(xr.DataArray([1.0], dims="x", name="soc"), "t C ha-1")


def test_megagram_is_not_milligram():
    assert parse_unit("Mg C ha-1").factor == 1.0
    with pytest.raises(UnitsError):
        parse_unit("mg C ha-1")  # milligrams per hectare: not a plausible stock unit
    assert parse_unit("Mg m-3", quantity="bulk_density").factor == 1000.0
