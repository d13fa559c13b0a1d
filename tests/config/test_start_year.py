"""The start year defaults to the SOC product's map year when its preset knows it (issue 15)."""

from __future__ import annotations

import logging

import pytest

from soilmap.config import RunConfig, load_config
from soilmap.soc.products import map_year, recognise


def _toml(tmp_path, stock, product, scenario=""):
    path = tmp_path / "run.toml"
    product_line = f'product = "{product}"\n' if product else 'units = "t C ha-1"\n'
    path.write_text(
        f'[soc]\nstock = "{stock}"\n{product_line}\n[scenario]\n{scenario}\n'
        f'[output]\ndir = "{tmp_path / "out"}"\n'
    )
    return path


@pytest.mark.parametrize(
    ("stock", "product", "year"),
    [
        ("BT-GSOCSEQ-CORGT0-2022-0-30-MEAN.tif", "gsocseq", 2020),  # T0 is the 2020 stock
        ("Bhutan_GSOCseq_T0_Map030.tif", "gsocseq", 2020),
        ("SOCS_0_30cm_year_2010AD_10km.tif", "whrc2017", 2010),  # the name's epoch
        ("SOCS_0_30cm_year_NoLU_10km.tif", "whrc2017", None),  # a world without land use
        ("my_stock.tif", None, None),  # no preset: the default 2020 stays, as given
    ],
)
def test_map_year_of_the_preset(tmp_path, caplog, stock, product, year):
    with caplog.at_level(logging.WARNING, logger="soilmap.config"):
        cfg = load_config(_toml(tmp_path, tmp_path / stock, product))
    sc = cfg.scenario
    if year is None:
        assert sc.start_year == 2020 and sc.start_year_source == "default"
        assert "map year" not in caplog.text
    else:
        assert sc.start_year == year
        assert sc.start_year_source == f"the map year of the SOC product {product!r}"
        assert sc.to_dict()["start_year_source"] == sc.start_year_source  # run.json
        assert f"start year {year}: the map year" in caplog.text  # the console


def test_a_given_start_year_wins(tmp_path):
    path = _toml(
        tmp_path,
        tmp_path / "SOCS_0_30cm_year_2010AD_10km.tif",
        "whrc2017",
        "start_year = 2015\nhorizons = [2030]\n",
    )
    assert load_config(path).scenario.start_year == 2015
    cfg = RunConfig.from_flags(
        _toml(tmp_path, tmp_path / "SOCS_0_30cm_year_2010AD_10km.tif", "whrc2017"),
        start_year=2018,
    )
    assert cfg.scenario.start_year == 2018 and cfg.scenario.start_year_source == "given"


def test_recognised_epoch():
    assert map_year(recognise("SOCS_0_200cm_year_2010AD_10km.tif")) == 2010
