"""The units registry: product presets as data, file-name recognition, layer lookup."""

from __future__ import annotations

import json

import pytest

from soilmap.errors import UnitsError
from soilmap.soc.cleaning import Rule
from soilmap.soc.products import (
    ROLE_QUANTITY,
    get_layer,
    get_product,
    identify,
    list_products,
    recognise,
)
from soilmap.units import CANONICAL, parse_unit


def test_every_required_product_is_registered():
    assert set(list_products()) >= {
        "soilgrids2017",
        "soilgrids2",
        "gsocseq",
        "gsocmap",
        "gsnmap",
        "whrc2017",
    }


@pytest.mark.parametrize("name", list_products())
def test_presets_are_consistent(name):
    p = get_product(name)
    assert p.citation and p.title
    for spec in p.layers.values():
        assert parse_unit(spec.units, quantity=spec.quantity).quantity == spec.quantity
        assert spec.patterns, f"{spec.label} cannot be recognised"
        assert all(isinstance(r, Rule) for r in spec.rules)
    for role, key in p.roles.items():
        assert p.layers[key].quantity == ROLE_QUANTITY[role]
    json.dumps(p.to_dict())  # plain data


@pytest.mark.parametrize(
    ("product", "layer", "units", "factor_to_canonical"),
    [
        ("soilgrids2", "soc", "dg kg-1", 0.1),  # integers in dg/kg
        ("soilgrids2", "bdod", "cg cm-3", 10.0),
        ("soilgrids2", "cfvo", "cm3 dm-3", 0.001),
        ("soilgrids2", "ocs", "t C ha-1", 1.0),
        ("soilgrids2017", "orcdrc", "g kg-1", 1.0),
        ("soilgrids2017", "bldfie", "kg m-3", 1.0),
        ("soilgrids2017", "crfvol", "vol %", 0.01),
        ("gsnmap", "CORG", "%", 10.0),
        ("gsnmap", "BKD", "g cm-3", 1000.0),
        ("gsocseq", "T0", "t C ha-1", 1.0),
        ("gsocmap", "soc_stock", "t C ha-1", 1.0),
        ("whrc2017", "socs", "t C ha-1", 1.0),
    ],
)
def test_stored_units_and_scale(product, layer, units, factor_to_canonical):
    spec = get_layer(product, layer)
    assert spec.units == units
    assert parse_unit(units, quantity=spec.quantity).factor == pytest.approx(factor_to_canonical)


def test_sentinels_and_ranges_are_declared():
    sg = get_layer("soilgrids2017", "orcdrc")
    assert any(r.kind == "sentinel" and -32768.0 in r.values for r in sg.rules)
    t0 = {r.name: r for r in get_layer("gsocseq", "T0").rules}
    assert t0["sentinel_-999"].values == (-999.0,)
    rng = t0["fao_range_0_800"]
    assert (rng.min, rng.max, rng.min_inclusive, rng.max_inclusive) == (0, 800, True, True)
    assert "MapsCorrection" in rng.reason
    unc = {r.name: r for r in get_layer("gsocseq", "T0_uncertainty").rules}
    assert unc["fao_range_0_200"].max == 200


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("orcdrc_m_sl2_250m_Ghana.tif", "soilgrids2017 orcdrc at 5 cm (mean), g kg-1"),
        ("ORCDRC_sl4.tif", "soilgrids2017 orcdrc at 30 cm (mean), g kg-1"),
        ("crfvol_m_sl1_250m_Ghana.tif", "soilgrids2017 crfvol at 0 cm (mean), vol %"),
        ("OCSTHA_M_sd2_250m_ll.tif", "soilgrids2017 ocstha 5-15 cm (mean), t C ha-1"),
        ("BT-GSNM-CORG-2024-0-30-MEAN.tif", "gsnmap CORG 0-30 cm (mean), %"),
        ("BT-GSNM-CORG-2024-0-30-SDEV.tif", "gsnmap CORG 0-30 cm (sd), %"),
        ("BT-GSOCSEQ-CORGT0-2022-0-30-MEAN.tif", "gsocseq T0 0-30 cm (mean), t C ha-1"),
        ("Bhutan_GSOCseq_T0_Map030.tif", "gsocseq T0 0-30 cm (mean), t C ha-1"),
        ("PH-GSOC-CORGT0-2021-0-30.tif", "gsocseq T0 0-30 cm (mean), t C ha-1"),
        (
            "BT-GSOCSEQ-CORGT0-2022-0-30-UNCT.tif",
            "gsocseq T0_uncertainty 0-30 cm (relative_uncertainty), %",
        ),
        (
            "Bhutan_GSOCseq_finalSOC_SSM2_Map030.tif",
            "gsocseq finalSOC SSM2 0-30 cm (mean), t C ha-1",
        ),
        ("soc_0-5cm_mean.tif", "soilgrids2 soc 0-5 cm (mean), dg kg-1"),
        ("bdod_15-30cm_Q0.05.tif", "soilgrids2 bdod 15-30 cm (q05), cg cm-3"),
        ("ocs_0-30cm_Q0.95.tif", "soilgrids2 ocs 0-30 cm (q95), t C ha-1"),
        ("SOCS_0_30cm_year_2010AD_10km.tif", "whrc2017 socs 2010AD 0-30 cm (mean), t C ha-1"),
        ("GSOCmap_1.5.0.tif", "gsocmap soc_stock 0-30 cm (mean), t C ha-1"),
    ],
)
def test_recognise_typical_file_names(name, text):
    m = recognise(f"/some/folder/{name}")
    assert m is not None and m.describe() == text


def test_unknown_names_are_not_guessed():
    assert recognise("my_soc_map.tif") is None
    assert recognise("TAXOUSDA_Ghana.tif") is None
    assert recognise("soc_0-5cm_mean.tif", product="gsocseq") is None


def test_identify_checks_the_role():
    with pytest.raises(UnitsError, match="bulk density.*given as the content"):
        identify("bldfie_m_sl1_250m_Ghana.tif", product="soilgrids2017", role="content")
    m = identify("renamed.tif", product="gsocseq", role="stock")
    assert m is not None and m.layer.name == "T0" and m.depth == (0.0, 30.0)
    assert identify("renamed.tif", product="gsocmap", role="content") is None


def test_lookup_errors_name_the_choices():
    with pytest.raises(UnitsError, match="Known products: .*gsocseq"):
        get_product("soilgrids3")
    with pytest.raises(UnitsError, match="its layers: .*T0"):
        get_layer("gsocseq", "T1")
    assert get_layer("gsnmap", "corg").name == "CORG"


def test_canonical_units_unchanged():
    assert CANONICAL["stock"] == "t C ha-1"
    assert CANONICAL["concentration"] == "g kg-1"
    assert CANONICAL["bulk_density"] == "kg m-3"
