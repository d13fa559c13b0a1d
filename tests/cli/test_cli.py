"""The command line maps flags onto the library (patched core) and runs end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rasterio
from click.testing import CliRunner

import soilmap
from soilmap.cli import run as run_cmd
from soilmap.cli.main import cli


@pytest.fixture
def captured(monkeypatch):
    seen = {}

    def fake_run(cfg, progress=False, resume=False):
        seen["cfg"] = cfg
        raise SystemExit(0)

    monkeypatch.setattr(run_cmd, "run_pipeline", fake_run)
    return seen


def test_version_and_help():
    r = CliRunner().invoke(cli, ["--version"])
    assert r.exit_code == 0 and soilmap.__version__ in r.output
    for cmd in ([], ["run"], ["demo"], ["schemes"]):
        r = CliRunner().invoke(cli, [*cmd, "--help"])
        assert r.exit_code == 0, r.output
        assert "Usage:" in r.output


def test_flags_map_to_config(captured, tmp_path):
    args = [
        "run",
        "--soc",
        "stock.tif",
        "--soc-units",
        "kg C m-2",
        "--landcover",
        "lc.tif",
        "--landcover-scheme",
        "esa_worldcover",
        "--regions",
        "r.gpkg",
        "--region-id",
        "ID",
        "--region-name",
        "NAME",
        "--rate",
        "0.006",
        "--start-year",
        "2021",
        "--horizon",
        "2030",
        "--horizon",
        "2040",
        "--growth",
        "compound",
        "--out",
        str(tmp_path / "o"),
        "--overwrite",
        "--eligible",
        "cropland",
        "--landcover-method",
        "nearest",
        "--exclude",
        "parks.gpkg",
        "--exclude",
        "peat.shp",
        "--workers",
        "2",
        "--memory-limit",
        "3GB",
    ]
    CliRunner().invoke(cli, args, catch_exceptions=False, standalone_mode=False)
    cfg = captured["cfg"]
    assert cfg.soc.stock == Path("stock.tif") and cfg.soc.units == "kg C m-2"
    assert cfg.landcover.scheme == "esa_worldcover" and cfg.landcover.path == Path("lc.tif")
    assert (cfg.regions.id_field, cfg.regions.name_field) == ("ID", "NAME")
    sc = cfg.scenario
    assert (sc.rate, sc.start_year, sc.horizons, sc.growth) == (
        0.006,
        2021,
        (2030, 2040),
        "compound",
    )
    assert sc.eligible == ("cropland",)
    assert cfg.output.overwrite is True
    assert cfg.landcover.method == "nearest"
    assert cfg.landcover.exclude == (Path("parks.gpkg"), Path("peat.shp"))
    assert (cfg.workers, cfg.memory_limit, cfg.scheduler) == (2, "3GB", None)


def test_flags_override_config(captured, sample_dir, tmp_path):
    CliRunner().invoke(
        cli,
        ["run", str(sample_dir / "tigray.toml"), "--rate", "0.01", "--out", str(tmp_path / "x")],
        standalone_mode=False,
    )
    cfg = captured["cfg"]
    assert cfg.scenario.rate == 0.01 and cfg.output.dir == tmp_path / "x"
    assert cfg.landcover.scheme == "esa_cci_lc"


def test_missing_arguments_are_a_clear_error():
    r = CliRunner().invoke(cli, ["run", "--soc", "x.tif"])
    assert r.exit_code == 2  # a usage error (issue 14: exit codes)
    # Regions are optional (a run over the whole extent); the output folder is not.
    assert "ConfigError" in r.output and "--out" in r.output and "--regions" not in r.output
    assert "Traceback" not in r.output


def test_bad_input_has_no_traceback(tmp_path):
    r = CliRunner().invoke(
        cli,
        [
            "run",
            "--soc",
            str(tmp_path / "nope.tif"),
            "--soc-units",
            "t C ha-1",
            "--regions",
            "r.gpkg",
            "--region-id",
            "id",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert r.exit_code == 1
    assert "InputNotFoundError" in r.output and "nope.tif" in r.output
    assert "Traceback" not in r.output


def test_demo_end_to_end(tmp_path, sample_dir):
    out = tmp_path / "demo"
    r = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "ET0104" in r.output and "t CO2e/yr" in r.output
    with rasterio.open(out / "sequestration_rate.tif") as src:
        assert src.units[0] == "t C ha-1 yr-1"
    r = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert r.exit_code == 3 and "--overwrite" in r.output  # output error (issue 14)
    r = CliRunner().invoke(cli, ["-q", "demo", "--out", str(out), "--overwrite"])
    assert r.exit_code == 0 and r.output == ""


def test_run_stock_without_landcover(tmp_path, sample_run):
    """A stock raster (from the demo) without land cover: every cell is eligible."""
    out = tmp_path / "o"
    stock = sample_run.out_dir / "soc_stock.tif"
    regions = soilmap.sample_data_dir() / "tigray_regions.gpkg"
    r = CliRunner().invoke(
        cli,
        [
            "run",
            "--soc",
            str(stock),
            "--regions",
            str(regions),
            "--region-id",
            "region_id",
            "--out",
            str(out),
            "--horizon",
            "2040",
        ],
    )
    assert r.exit_code == 0, r.output
    man = json.loads((out / "run.json").read_text())
    assert man["landcover"]["eligible_all"] is True
    assert not (out / "landuse.tif").exists()
    import pandas as pd

    t = pd.read_csv(out / "zonal_stats.csv").set_index(["region_id", "landuse"])
    z = sample_run.zonal.set_index(["region_id", "landuse"])
    # same stock, all land eligible: 4 per 1000 of the zone's whole stock
    assert t.loc[("ET0104", "all_land"), "sequestration_t_per_yr"] == pytest.approx(
        0.004 * z.loc[("ET0104", "all"), "soc_stock_t"], rel=1e-5
    )
    assert t.loc[("ET0104", "all_land"), "gain_2040_t"] == pytest.approx(
        20 * 0.004 * z.loc[("ET0104", "all"), "soc_stock_t"], rel=1e-5
    )
