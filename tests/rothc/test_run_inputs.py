"""``[rothc]`` inputs: climate layouts, PET with its stated factor, typed errors, the CLI.

The world is :mod:`gridworld` (generated rasters, the official example's site climate).
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from gridworld import fields, write_stack, write_world

from soilmap.cli.main import cli
from soilmap.config import load_config
from soilmap.errors import ConfigError, GridMismatchError, RothCInputError, UnitsError
from soilmap.rothc.run import run_rothc
from soilmap.testing import make_grid

F = fields()


#: One scenario, one horizon: these runs check inputs, not scenarios (and stay quick).
FAST = 'scenarios = ["SSM3"]'


def _run(d, extra=FAST, **kw):
    return run_rothc(
        load_config(write_world(d, F, extra=extra, horizons="[20]", **kw)), progress=False
    )


def _read(path):
    with rasterio.open(path) as src:
        a = src.read(1).astype("float64")
        return np.where(a == src.nodata, np.nan, a)


def _climate(temp='"temp.tif"', rain='"rain.tif"', evap='evaporation = "evap.tif"', extra=""):
    return f"[rothc.climate]\ntemperature = {temp}\nprecipitation = {rain}\n{evap}\n{extra}\n"


def test_one_file_per_month_and_pet_with_its_factor_give_the_same_run(tmp_path):
    base = _run(tmp_path / "a")
    d = tmp_path / "b"
    d.mkdir()
    for i in range(12):
        write_stack(d / f"t{i + 1:02d}.tif", F["temp"][i : i + 1], "degC")
    files = "[" + ", ".join(f'"t{i + 1:02d}.tif"' for i in range(12)) + "]"
    # PET x 0.75 is what RothC takes from open-pan evaporation: the same deficits.
    pet = 'pet = "evap.tif"\npet_factor = 0.75'
    other = _run(d, climate=_climate(temp=files, evap=pet))
    for stem in ("soc_t0", "soc_SSM3_20yr", "attainable_share_of_target_SSM3"):
        a = _read(base.out_dir / f"{stem}.tif")
        b = _read(other.out_dir / f"{stem}.tif")
        np.testing.assert_array_equal(a, b)
    assert any("pet_factor as stated" in s for s in other.manifest["assumptions"])
    # With PET taken as the evapotranspiration itself (factor 1, GSOCseq) soils dry more.
    e = tmp_path / "c"
    drier = _run(e, climate=_climate(evap='pet = "evap.tif"\npet_factor = 1.0'))
    assert not np.allclose(
        _read(drier.out_dir / "soc_SSM3_20yr.tif"), _read(base.out_dir / "soc_SSM3_20yr.tif"),
        equal_nan=True,
    )  # fmt: skip


def test_temperature_in_kelvin_declared_as_celsius_stops_before_any_output(tmp_path):
    d = tmp_path / "k"
    cfg = write_world(d, F, extra=FAST, horizons="[20]")
    write_stack(d / "temp.tif", F["temp"] + 273.15, "degC")
    with pytest.raises(RothCInputError, match=r"temperature .*temp\.tif.*outside the plausible"):
        run_rothc(load_config(cfg), progress=False)
    assert not (d / "out" / "rothc").exists()  # nothing moved into place, no staging left


def test_kelvin_declared_as_kelvin_is_converted(tmp_path):
    d = tmp_path / "k2"
    cfg = write_world(d, F, extra=FAST, horizons="[20]")
    write_stack(d / "temp.tif", F["temp"] + 273.15, "K")
    kelvin = run_rothc(load_config(cfg), progress=False)
    celsius = _run(tmp_path / "c")
    np.testing.assert_allclose(
        _read(kelvin.out_dir / "soc_SSM3_20yr.tif"),
        _read(celsius.out_dir / "soc_SSM3_20yr.tif"),
        rtol=1e-5,  # the float32 of T + 273.15 loses ~1e-5 °C
    )


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ("no_units", UnitsError, r"does not state its units"),
        ("daily", UnitsError, r"rate \('mm day-1'\); RothC needs monthly totals"),
        ("eleven_months", RothCInputError, r"give\(s\) 11 months; need 12"),
        ("other_grid", GridMismatchError, r"gdalwarp"),
    ],
)
def test_climate_errors_name_the_file_and_the_fix(tmp_path, change, error, message):
    d = tmp_path / change
    cfg = write_world(d, F)
    if change == "no_units":
        write_stack(d / "rain.tif", F["rain"], None)
    elif change == "daily":
        write_stack(d / "rain.tif", F["rain"] / 30, "mm day-1")
    elif change == "eleven_months":
        write_stack(d / "evap.tif", F["evap"][:11], "mm")
    else:
        import gridworld

        moved = make_grid(gridworld.SHAPE, crs="EPSG:32630", res=1000.0, origin=(501_000.0, 5.7e6))
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(gridworld, "GRID", moved)
            write_stack(d / "temp.tif", F["temp"], "degC")
    with pytest.raises(error, match=message):
        run_rothc(load_config(cfg), progress=False)


@pytest.mark.parametrize(
    ("extra", "climate", "message"),
    [
        ("", _climate(evap='pet = "evap.tif"'), r"pet needs pet_factor"),
        ("", _climate(evap=""), r"exactly one of evaporation"),
        ('scenarios = ["BAU", "SSM9"]', "", r"'SSM9' is not a preset .* multipliers"),
        ("multipliers = { SSM4 = 1.3 }", "", r"\['SSM4'\] are not in scenarios"),
        ("horizons = 20", "", r"horizons = 20; expected years after t0"),
        ("horizons = [0]", "", r"horizons = \[0\]; expected years after t0"),
        ("depth_cm = 23", "", r"depth_cm = 23 but the SOC stock is of 0-30 cm"),
        ("[rothc.groups.cropland]\ncover = [1, 0]", "", r"a list of 12 monthly values"),
        ("[rothc.groups.mangrove]\ndpm_rpm = 0.25", "", r"\['mangrove'\], which the land use"),
    ],
)
def test_config_errors(tmp_path, extra, climate, message):
    if extra.startswith("[rothc.groups"):
        cfg_text = write_world(tmp_path, F).read_text() + "\n" + extra + "\n"
        (tmp_path / "run.toml").write_text(cfg_text)
        cfg = tmp_path / "run.toml"
    elif extra.startswith("horizons"):
        cfg = write_world(tmp_path, F, horizons=extra.split(" = ")[1])
    else:
        cfg = write_world(tmp_path, F, extra=extra, climate=climate)
    with pytest.raises(ConfigError, match=message):
        run_rothc(load_config(cfg), progress=False)


def test_without_land_cover_the_group_must_be_named(tmp_path):
    cfg = write_world(tmp_path, F)
    text = cfg.read_text().replace('[landcover]\npath = "lc.tif"\nscheme = "esa_cci_lc"\n', "")
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=r"without \[landcover\] needs land_use"):
        run_rothc(load_config(cfg), progress=False)


def test_cli_run_with_rothc_section_writes_both_and_the_report(tmp_path):
    cfg = write_world(tmp_path, F, extra=FAST, horizons="[20]")
    runner = CliRunner()
    # [rothc] in the run description: `soilmap run` writes the 4 per 1000 outputs, then RothC.
    first = runner.invoke(cli, ["run", str(cfg)])
    assert first.exit_code == 0, first.output
    assert "RothC: wrote" in first.output
    out = tmp_path / "out"
    assert (out / "zonal_stats.gpkg").exists() and (out / "rothc" / "rothc_stats.gpkg").exists()
    html = (out / "report.html").read_text()
    assert 'id="rothc"' in html and "attainable_share_of_target" in html
    again = runner.invoke(cli, ["rothc", "run", str(cfg)])
    assert again.exit_code == 3 and "OutputExistsError" in again.output  # never overwritten
    res = runner.invoke(cli, ["rothc", "run", str(cfg), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert "SSM3" in res.output and "% of the target" in res.output
    assert "land_use_not_modelled" in res.output


def test_cli_typed_error_is_one_line(tmp_path):
    d = tmp_path / "w"
    cfg = write_world(d, F)
    write_stack(d / "evap.tif", F["evap"][:11], "mm")
    res = CliRunner().invoke(cli, ["rothc", "run", str(cfg)])
    assert res.exit_code == 1, res.output  # an input error (2 is a config error)
    assert "Error: RothCInputError:" in res.output and "Traceback" not in res.output


def test_the_readme_rothc_config_is_valid():
    import re
    import tomllib
    from pathlib import Path

    from soilmap.config import config_from_mapping

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = next(b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "[rothc]" in b)
    data = tomllib.loads('[soc]\nstock = "soc.tif"\n[output]\ndir = "out"\n' + block)
    rc = config_from_mapping(data, base=Path("/data"), where="README").rothc
    assert rc is not None and rc.climate.pet_factor == 1.0 and rc.horizons == (10, 20)
    assert rc.warmup is not None and rc.groups["cropland"].cover[2] == 1
