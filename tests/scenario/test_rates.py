"""Rates: unit slips refused with both readings, units accepted, losses allowed and labelled."""

from __future__ import annotations

import pytest

from soilmap.config import RunConfig, load_config
from soilmap.errors import ConfigError
from soilmap.scenario.model import Scenario, check_rate_slip, parse_rate


@pytest.mark.parametrize(
    "text", ["4‰", "0.4%", "4 permille", "0.004", 0.004, "4 ‰ yr-1", "0.4 %/yr"]
)
def test_rates_with_their_unit(text):
    assert parse_rate(text) == pytest.approx(0.004, abs=1e-15)


def test_a_percent_slip_is_refused_with_both_readings(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        '[soc]\nstock = "t.tif"\n[regions]\npath = "r.gpkg"\nid_field = "id"\n'
        '[scenario]\nrate = 0.4\n[output]\ndir = "o"\n'
    )
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    msg = str(err.value)
    assert str(cfg) in msg and "[scenario] rate = 0.4" in msg
    assert "40 % a year" in msg
    assert "0.4 per mille, write 0.0004 or '0.4‰'" in msg
    assert "0.4 percent, write 0.004 or '0.4%'" in msg


def test_the_cli_rate_flag_is_checked_too():
    common = dict(soc="t0.tif", soc_units="t C ha-1", regions="r.gpkg", region_id="id", out="o")
    with pytest.raises(ConfigError, match="unit slip"):
        RunConfig.from_flags(**common, rate="0.4")
    assert RunConfig.from_flags(**common, rate="4‰").scenario.rate == pytest.approx(0.004)


def test_per_group_rates_are_parsed_and_checked():
    sc = Scenario(rate={"cropland": "6‰"}, eligible=("cropland",))
    assert sc.rate_for("cropland") == pytest.approx(0.006)
    with pytest.raises(ConfigError, match="rate for 'cropland' = 0.6 is 0.6 per year"):
        check_rate_slip({"cropland": 0.6}, what="rate")


def test_negative_rates_are_losses_and_labelled():
    sc = Scenario(rate=-0.002, start_year=2020, horizons=(2030,))
    assert round(100 * sc.gain_factor("cropland", 2030), 12) == -2.0
    assert "loss" in sc.to_dict()["rate_note"]
    assert "rate_note" not in Scenario().to_dict()


def test_not_a_rate():
    with pytest.raises(ConfigError, match="is not a rate"):
        parse_rate("four per mille")
    with pytest.raises(ConfigError, match="must be a number"):
        parse_rate(True)
