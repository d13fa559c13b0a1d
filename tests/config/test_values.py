"""Config values are typed: each mistake is a ConfigError naming the file, key, value and type."""

from __future__ import annotations

import pytest

from soilmap.config import RunConfig, load_config
from soilmap.errors import ConfigError

BASE = """
[soc]
stock = "t0.tif"
units = "t C ha-1"
{soc}
[regions]
path = "regions.gpkg"
id_field = "id"

[scenario]
{scenario}
[output]
dir = "out"
{output}
"""


def _write(tmp_path, soc="", scenario="", output=""):
    p = tmp_path / "run.toml"
    p.write_text(BASE.format(soc=soc, scenario=scenario, output=output), encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("where", "line", "key", "expected"),
    [
        ("output", 'overwrite = "no"', "[output] overwrite = 'no' is a string", "TOML boolean"),
        ("scenario", "horizons = 2030", "[scenario] horizons = 2030 is an integer", "list of int"),
        ("scenario", 'start_year = "2020"', "[scenario] start_year = '2020'", "an integer"),
        ("soc", 'top_cm = "zero"', "[soc.layers] top_cm = 'zero' is a string", "a number"),
        ("soc", "stock = 5", "[soc] stock = 5 is an integer", "a path as a string"),
        ("soc", 'sentinels = "-999"', "[soc] sentinels = '-999'", "a list of numbers"),
        ("soc", 'product_rules = "yes"', "[soc] product_rules = 'yes'", "TOML boolean"),
    ],
)
def test_typed_values(tmp_path, where, line, key, expected):
    if line.startswith("top_cm"):
        kw = {"soc": "[soc.layers]\n" + line}
    elif line.startswith("stock"):
        kw = {"soc": ""}
        p = _write(tmp_path)
        p.write_text(p.read_text().replace('stock = "t0.tif"', line))
        with pytest.raises(ConfigError) as err:
            load_config(p)
        assert str(p) in str(err.value) and key in str(err.value) and expected in str(err.value)
        return
    else:
        kw = {where: line}
    p = _write(tmp_path, **kw)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    msg = str(err.value)
    assert str(p) in msg and key in msg and expected in msg, msg


def test_horizons_as_a_number_says_write_a_list(tmp_path):
    with pytest.raises(ConfigError, match=r"Write it as a list: horizons = \[2030\]"):
        load_config(_write(tmp_path, scenario="horizons = 2030"))


def test_overwrite_no_no_longer_overwrites(tmp_path):
    ok = load_config(_write(tmp_path, output="overwrite = false"))
    assert ok.output.overwrite is False
    assert load_config(_write(tmp_path, output="overwrite = true")).output.overwrite is True


def test_horizons_before_the_start_year(tmp_path):
    with pytest.raises(ConfigError, match="not after the start year 2020"):
        load_config(_write(tmp_path, scenario="start_year = 2020\nhorizons = [2010, 2030]"))


def test_flags_get_the_same_checks():
    common = dict(soc="t0.tif", soc_units="t C ha-1", regions="r.gpkg", region_id="id", out="o")
    with pytest.raises(ConfigError, match=r"command line: --start-year = '2020'.*integer"):
        RunConfig.from_flags(**common, start_year="2020")
    with pytest.raises(ConfigError, match=r"--overwrite = 'no'.*boolean"):
        RunConfig.from_flags(**common, overwrite="no")
    with pytest.raises(ConfigError, match=r"--horizon.*list of integers"):
        RunConfig.from_flags(**common, horizon=("2030",))
    cfg = RunConfig.from_flags(**common, start_year=2020, horizon=(2030,), overwrite=True)
    assert cfg.scenario.horizons == (2030,) and cfg.output.overwrite is True
