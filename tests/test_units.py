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


# --- issue 4: spellings of real products, "%" as a share, conversion helpers --------

from soilmap.units import conversion_factor, conversion_text, quantities_of  # noqa: E402


@pytest.mark.parametrize(
    ("src", "dst", "factor"),
    [
        ("kg C m-2", "t C ha-1", 10.0),  # national maps in kg C/m2
        ("g C m-2", "t C ha-1", 0.01),
        ("Mg C ha-1", "t C ha-1", 1.0),
        ("t C ha-1", "kg C m-2", 0.1),
        ("g C m-2", "kg C m-2", 0.001),
        ("kg C ha-1", "t C ha-1", 0.001),
        ("dg kg-1", "g kg-1", 0.1),  # SoilGrids 2.0 soc
        ("%", "g kg-1", 10.0),  # GSNmap CORG
        ("g/100g", "%", 1.0),
        ("g kg-1", "%", 0.1),
        ("cg cm-3", "kg m-3", 10.0),  # SoilGrids 2.0 bdod
        ("g cm-3", "kg m-3", 1000.0),  # GSNmap BKD
        ("kg/dm³", "g cm-3", 1.0),  # GloSIS metadata spelling
        ("kg m-3", "g cm-3", 0.001),  # SoilGrids 2017 bldfie
        ("cm3 dm-3", "1", 0.001),  # SoilGrids 2.0 cfvo
        ("vol %", "1", 0.01),  # SoilGrids 2017 crfvol
        ("%", "1", 0.01),  # GSNmap CFRAGF: "%" next to a share is a share
        ("cm3 dm-3", "vol %", 0.1),
    ],
)
def test_conversion_factors(src, dst, factor):
    assert conversion_factor(src, dst) == pytest.approx(factor)


def test_percent_is_a_content_unless_a_share_is_asked_for():
    assert quantities_of("%") == ("concentration", "fraction")
    assert parse_unit("%").quantity == "concentration"
    assert parse_unit("%", quantity="fraction").factor == pytest.approx(0.01)
    assert conversion_factor("%", "%", quantity="fraction") == 1.0


def test_conversion_text_reads_like_the_report():
    assert conversion_text("kg C m-2", "t C ha-1") == "kg C m-2 → t C ha-1 ×10"


def test_convert_coarse_fragments_in_percent_to_share():
    da = xr.DataArray(np.array([[25.0]], dtype="float32"), dims=("y", "x"), attrs={"units": "%"})
    out = convert(da, "1")
    assert out.attrs["units"] == "1"
    np.testing.assert_allclose(out.values, 0.25)


def test_conversion_between_quantities_fails():
    with pytest.raises(UnitsError, match="measures concentration, but a stock is needed"):
        conversion_factor("t C ha-1", "g kg-1")
